import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SandboxError } from './sandbox-error.ts';

export interface RunOptions {
  /** Run as this system user (e.g. `postgres`); left out: as the caller (root). */
  user?: string;
  /** Written to the command's stdin, then stdin is closed. Use it for SQL and secrets. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command after this long; left out: 120 s. */
  timeoutMs?: number;
  /** Exit codes that count as success; left out: only 0. */
  okExitCodes?: number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** A system user's ids, read from /etc/passwd. */
export function lookupUser(name: string): { uid: number; gid: number; home: string } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name) return { uid: Number(uid), gid: Number(gid), home: home ?? '/' };
  }
  throw new SandboxError(
    'SANDBOX_NO_SYSTEM_USER',
    `system user ${name} does not exist`,
    'install the database server packages (postgresql, mariadb-server)',
  );
}

/**
 * Runs a command to completion and returns its output; a non-zero exit becomes a
 * SandboxError quoting the last lines of stderr (commands here never take secrets as
 * arguments, so their messages carry none).
 */
export function runCommand(file: string, args: string[], options: RunOptions = {}) {
  const ids = options.user ? lookupUser(options.user) : undefined;
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    ...options.env,
  };
  if (ids) env.HOME = ids.home;

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(file, args, {
      env,
      cwd: options.cwd ?? '/',
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    timer.unref();

    child.on('error', (error) => {
      clearTimeout(timer);
      reject(
        new SandboxError(
          'SANDBOX_COMMAND_FAILED',
          `cannot run ${file}`,
          'check that it is installed',
          {
            cause: error,
          },
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== null && (options.okExitCodes ?? [0]).includes(code)) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-3).join(' / ');
      reject(
        new SandboxError(
          'SANDBOX_COMMAND_FAILED',
          `${file} ${args[0] ?? ''} failed (${signal ?? `exit ${code}`}): ${tail}`,
          'see the message above; run `sandbox down` and `sandbox up` again once it is fixed',
        ),
      );
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
