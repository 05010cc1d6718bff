import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processCommandLine, waitFor } from './processes.ts';
import { SandboxError } from './sandbox-error.ts';
import type { StatePaths } from './state-paths.ts';

// Several test runs may call `sandbox up` at once (each vitest globalSetup does); one waits
// for the other, which takes seconds, not minutes.
const WAIT_MS = 120_000;

/**
 * Runs `work` while holding STATE/run/sandbox.lock, so that two `up`/`down` never interleave.
 * A lock left by a process that has died is taken over.
 */
export async function withStateLock<T>(paths: StatePaths, work: () => Promise<T>): Promise<T> {
  mkdirSync(paths.runDir, { recursive: true, mode: 0o755 });
  const lock = join(paths.runDir, 'sandbox.lock');

  const acquired = await waitFor(() => tryLock(lock), WAIT_MS);
  if (!acquired) {
    throw new SandboxError(
      'SANDBOX_BUSY',
      `another \`sandbox up\` or \`down\` has held ${lock} for ${WAIT_MS / 1000} s`,
      'wait for it to finish, or remove the lock if no such command runs',
    );
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
  if (Number.isInteger(holder) && processCommandLine(holder) !== undefined) return false;
  rmSync(lock, { force: true });
  return false;
}
