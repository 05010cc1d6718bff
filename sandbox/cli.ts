/**
 * `rds-iam-canary sandbox up|down|status|env`: the local stand-in for RDS with IAM database
 * authentication (see sandbox/DESIGN.md).
 *
 * Exit codes: 0 done (status: all up), 1 status: something is down, 2 a problem that stops
 * the command, printed as one line `sandbox: <what is wrong>: <what to do>`.
 */
import { parseArgs } from 'node:util';
import { exportLines, readSandboxEnvFile, type SandboxEnv } from './servers/env-file.ts';
import { SandboxError } from './servers/sandbox-error.ts';
import { statePaths } from './servers/state-paths.ts';

const USAGE = `usage: rds-iam-canary sandbox <command>

  up [--fixture FILE] [--quiet]
                        start (or update) the sandbox; as root
  down [--purge]        stop it and remove its hosts entries and PAM files; --purge: its state too
  status                one line per server; exit 0 when all are up
  env [--json]          the environment to use (export lines, or env.json)
`;

export async function runSandbox(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const paths = statePaths();
  const log = (line: string) => process.stderr.write(`sandbox: ${line}\n`);

  try {
    switch (command) {
      case 'up': {
        const { values } = parseArgs({
          args: rest,
          options: { fixture: { type: 'string' }, quiet: { type: 'boolean' } },
        });
        const started = Date.now();
        const { sandboxUp } = await import('./servers/sandbox-up.ts');
        const { requireRoot } = await import('./servers/preflight.ts');
        const { withStateLock } = await import('./servers/state-lock.ts');
        requireRoot();
        const env = await withStateLock(paths, () =>
          sandboxUp({ paths, fixturePath: values.fixture, log }),
        );
        const elapsed = Date.now() - started;
        process.stdout.write(
          values.quiet
            ? `sandbox: up, ${env.instances.length} database instances, ${(elapsed / 1000).toFixed(1)} s\n`
            : upSummary(env, elapsed),
        );
        return 0;
      }
      case 'down': {
        const { values } = parseArgs({ args: rest, options: { purge: { type: 'boolean' } } });
        const { sandboxDown } = await import('./servers/sandbox-down.ts');
        const { requireRoot } = await import('./servers/preflight.ts');
        const { withStateLock } = await import('./servers/state-lock.ts');
        requireRoot();
        await withStateLock(paths, () => sandboxDown(paths, values.purge ?? false, log));
        process.stdout.write('sandbox: down\n');
        return 0;
      }
      case 'status': {
        parseArgs({ args: rest, options: {} });
        const { formatStatus, sandboxStatus } = await import('./servers/sandbox-status.ts');
        const { requireRoot } = await import('./servers/preflight.ts');
        // The servers' pid files sit in directories only their owners and root may read.
        requireRoot();
        const statuses = sandboxStatus(paths);
        process.stdout.write(`${formatStatus(statuses).join('\n')}\n`);
        if (statuses.every((s) => s.up)) return 0;
        log(
          statuses.some((s) => s.up)
            ? 'some servers are down: run `rds-iam-canary sandbox up` to start them'
            : 'not running: run `rds-iam-canary sandbox up` to start it',
        );
        return 1;
      }
      case 'env': {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
        const env = readSandboxEnvFile(paths);
        process.stdout.write(
          values.json ? `${JSON.stringify(env, null, 2)}\n` : `${exportLines(env).join('\n')}\n`,
        );
        return 0;
      }
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(command ? `sandbox: unknown command "${command}"\n\n${USAGE}` : USAGE);
        return 2;
    }
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof SandboxError) {
    process.stderr.write(`${error.toLine()}\n`);
  } else if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(
      `sandbox: ${(error as Error).message}: see \`rds-iam-canary sandbox --help\`\n`,
    );
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `sandbox: unexpected failure: ${message}: run \`sandbox down\`, then \`sandbox up\` again\n`,
    );
  }
  return 2;
}

/** What `up` prints: the servers and the environment, without the secret key. */
function upSummary(env: SandboxEnv, ms: number): string {
  const lines = [`sandbox: up in ${(ms / 1000).toFixed(1)} s`, ''];
  for (const i of env.instances) {
    lines.push(
      `  ${i.name.padEnd(10)} ${i.engine.padEnd(8)} ${i.host}:${i.port}  (${i.region}, ${i.resourceId})`,
    );
  }
  lines.push('', '# the environment to use (the secret key is printed by `sandbox env` only):');
  for (const line of exportLines(env)) {
    lines.push(
      line.startsWith('export AWS_SECRET_ACCESS_KEY=')
        ? '# export AWS_SECRET_ACCESS_KEY=...'
        : line,
    );
  }
  lines.push(
    'eval "$(rds-iam-canary sandbox env)"   # sets all of them, the secret key included',
    '',
  );
  return lines.join('\n');
}
