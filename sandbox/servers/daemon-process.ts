import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ownedPid, stopProcess, waitFor } from './processes.ts';
import { SandboxError } from './sandbox-error.ts';
import type { ServerContext, ServerStatus } from './server-context.ts';
import type { StatePaths } from './state-paths.ts';

const DAEMON_BUNDLE = join('dist', 'sandbox-daemon.mjs');
// Node starts in ~50 ms and the daemon only opens two listeners: 15 s means it is broken.
const READY_TIMEOUT_MS = 15_000;

function mark(paths: StatePaths): string {
  return `sandbox-daemon.mjs --state ${paths.root}`;
}

/** The daemon's pid when it runs (and is ours). */
export function runningDaemonPid(paths: StatePaths): number | undefined {
  return ownedPid(paths.daemonPid, mark(paths));
}

export function daemonStatus(paths: StatePaths, awsPort: number | undefined): ServerStatus {
  const pid = runningDaemonPid(paths);
  return { name: 'daemon', engine: 'daemon', port: awsPort, pid, up: pid !== undefined };
}

/**
 * Starts the token verifier and local AWS endpoints (`dist/sandbox-daemon.mjs`) detached,
 * its output appended to STATE/log/daemon.log, and waits until it prints `ready` (or its
 * socket and HTTP port answer). A running daemon is restarted when the fixture changed or
 * the bundle is newer than the process, since it reads both only at start.
 */
export async function ensureDaemon(
  projectRoot: string,
  awsPort: number,
  fixtureChanged: boolean,
  ctx: ServerContext,
): Promise<void> {
  const { paths } = ctx;
  const bundle = join(projectRoot, DAEMON_BUNDLE);
  if (!existsSync(bundle)) {
    throw new SandboxError(
      'SANDBOX_DAEMON_MISSING',
      `${bundle} does not exist`,
      'run `npm run build` first',
    );
  }

  // The entry file names its chunks by content hash: its digest changes with any code change,
  // and stays the same when `npm run build` merely runs again (other test runs do that).
  const build = createHash('sha256').update(readFileSync(bundle)).digest('hex');
  const buildFile = join(paths.runDir, 'daemon.build');
  const pid = runningDaemonPid(paths);
  if (pid !== undefined) {
    const stale = !existsSync(buildFile) || readFileSync(buildFile, 'utf8') !== build;
    if (!fixtureChanged && !stale) return;
    await stopProcess(pid, 'SIGTERM');
    ctx.log(`daemon: restarting (${fixtureChanged ? 'new fixture' : 'new build'})`);
  }

  mkdirSync(paths.runDir, { recursive: true, mode: 0o755 });
  mkdirSync(paths.logDir, { recursive: true, mode: 0o755 });
  const logStart = existsSync(paths.daemonLog) ? statSync(paths.daemonLog).size : 0;
  const log = openSync(paths.daemonLog, 'a', 0o644);
  const args = [bundle, '--state', paths.root, '--fixture', paths.fixture];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: paths.root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' },
  });
  closeSync(log);
  let exitCode: number | null | undefined;
  child.once('exit', (code, signal) => {
    exitCode = code ?? (signal ? -1 : 0);
  });
  child.unref();
  writeFileSync(paths.daemonPid, `${child.pid}\n`);
  writeFileSync(buildFile, build);
  ctx.onStarted('daemon', async () => {
    if (child.pid) await stopProcess(child.pid, 'SIGTERM');
  });

  const ready = await waitFor(
    async () =>
      exitCode !== undefined ||
      saidReady(paths.daemonLog, logStart) ||
      (await answers(paths, awsPort)),
    READY_TIMEOUT_MS,
  );
  if (ready && exitCode === undefined) {
    ctx.log(`daemon: verifier on ${paths.verifierSocket}, AWS endpoints on 127.0.0.1:${awsPort}`);
    return;
  }

  throw new SandboxError(
    'SANDBOX_DAEMON_START_FAILED',
    exitCode === undefined
      ? `the daemon did not say ready within ${READY_TIMEOUT_MS / 1000} s`
      : `the daemon exited with code ${exitCode} at start`,
    `read ${paths.daemonLog}`,
  );
}

function saidReady(log: string, from: number): boolean {
  const text = readFileSync(log).subarray(from).toString('utf8');
  return /^ready$/m.test(text);
}

async function answers(paths: StatePaths, awsPort: number): Promise<boolean> {
  const probe = (options: { path: string } | { port: number; host: string }) =>
    new Promise<boolean>((resolve) => {
      const socket = connect(options);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  return (
    existsSync(paths.verifierSocket) &&
    (await probe({ path: paths.verifierSocket })) &&
    (await probe({ port: awsPort, host: '127.0.0.1' }))
  );
}

/** Stops the daemon if it runs and is ours. */
export async function stopDaemon(paths: StatePaths): Promise<boolean> {
  const pid = runningDaemonPid(paths);
  if (pid === undefined) return false;
  await stopProcess(pid, 'SIGTERM');
  return true;
}
