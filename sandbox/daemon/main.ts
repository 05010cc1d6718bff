import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadFixture } from '#sandbox/fixture-schema.ts';
import { startDaemon } from './daemon.ts';
import { loadOrCreateMasterKey } from './master-key.ts';

/**
 * The sandbox daemon: `node dist/sandbox-daemon.mjs --state STATE [--fixture FILE]
 * [--aws-port N]`. Prints `ready` when the verifier socket and the AWS endpoint listen;
 * SIGTERM closes both and exits 0. A failure to start is one line on stderr, exit 1.
 */

const USAGE = 'usage: sandbox-daemon --state DIR [--fixture FILE] [--aws-port N]';

async function run(argv: string[]): Promise<number> {
  let values: { state?: string; fixture?: string; 'aws-port'?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        state: { type: 'string' },
        fixture: { type: 'string' },
        'aws-port': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`sandbox-daemon: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!values.state) {
    process.stderr.write(`sandbox-daemon: --state is required\n${USAGE}\n`);
    return 2;
  }
  const awsPort = values['aws-port'] === undefined ? undefined : Number(values['aws-port']);
  if (awsPort !== undefined && !(Number.isInteger(awsPort) && awsPort >= 0 && awsPort < 65536)) {
    process.stderr.write(`sandbox-daemon: --aws-port must be a port number\n`);
    return 2;
  }

  const stateDir = values.state;
  const pidPath = join(stateDir, 'run', 'daemon.pid');
  const fixturePath = values.fixture ?? join(stateDir, 'fixture.yaml');
  if (!existsSync(fixturePath)) {
    process.stderr.write(`sandbox-daemon: no fixture at ${fixturePath}: pass --fixture FILE\n`);
    return 2;
  }
  const daemon = await startDaemon({
    stateDir,
    fixture: loadFixture(fixturePath),
    masterKeyHex: loadOrCreateMasterKey(stateDir),
    awsPort,
  });
  writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o644 });

  const stop = () => {
    daemon.close().finally(() => {
      rmSync(pidPath, { force: true });
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  process.stdout.write('ready\n');
  return -1;
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const e = error as NodeJS.ErrnoException;
    const hint =
      e.code === 'EADDRINUSE' ? ' (the AWS endpoint port is in use: stop what holds it)' : '';
    // One line: YAML errors quote the offending source on the lines after the first.
    const message = e.message.split('\n')[0];
    process.stderr.write(`sandbox-daemon: ${message}${hint}\n`);
    process.exit(1);
  },
);
