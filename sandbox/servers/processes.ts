import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** The pid written in a pid file (its first line), or undefined when there is none. */
export function readPidFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** The command line of a running process, or undefined when it is gone. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * The pid from `pidFile` when that process is alive and is ours: its command line contains
 * `mark` (a path inside the state directory). A stale pid file, or a pid reused by some other
 * program, gives undefined, so the sandbox never signals a process it did not start.
 */
export function ownedPid(pidFile: string, mark: string): number | undefined {
  const pid = readPidFile(pidFile);
  if (pid === undefined) return undefined;
  return processCommandLine(pid)?.includes(mark) ? pid : undefined;
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await delay(50);
  }
  return check();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sends `signal` and waits up to `timeoutMs` for the process to exit, then SIGKILLs it.
 * (The process may be a child of this one: its exit is then reaped by Node.)
 */
export async function stopProcess(pid: number, signal: NodeJS.Signals, timeoutMs = 15_000) {
  if (!isAlive(pid)) return;
  process.kill(pid, signal);
  if (await waitFor(() => !isAlive(pid) || isZombie(pid), timeoutMs)) return;
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid) || isZombie(pid), 5_000);
}

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
