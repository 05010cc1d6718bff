/**
 * What a database check needs, the same for every engine: where to connect, whom to trust,
 * who logs in with which token, what to run, and how long each step may take.
 */
import type { ConnectionProgress } from '#shared/check/check-phase.ts';
import { DbError } from './db-error.ts';

export interface DbCheckRequest {
  /** Host to open the TCP connection to. */
  host: string;
  port: number;
  /** Name the server certificate must carry (tls.serverName, else the host). */
  serverName: string;
  /** 'rds' for the Amazon RDS CA bundle, else a PEM file path. */
  ca: string;
  user: string;
  /** Left out: the engine's default (the user name on PostgreSQL, none on MySQL). */
  database?: string;
  /**
   * Returns the IAM token. Called only once TLS is verified, when the server asks for the
   * password, so the token never sits in a driver's config object.
   */
  password: () => string;
  query: string;
  /** TCP, TLS and login together must finish within this. */
  connectTimeoutMs: number;
  /** The whole call (connect, query, close) must finish within this; the query gets the rest. */
  totalTimeoutMs: number;
  /** Aborting destroys the connection at once and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface DbCheckTimings {
  /** TCP, TLS and login, in milliseconds. */
  connectMs: number;
  queryMs: number;
}

/** How long a graceful close may take before the socket is destroyed. */
export const CLOSE_TIMEOUT_MS = 1000;

/**
 * Waits for `work` at most `timeoutMs` and until `signal` aborts, whichever comes first. On
 * either, calls `destroy` (which must make `work` settle) and rejects: with the error from
 * `onTimeout`, or with the signal's reason. The timer and the listener are always removed.
 */
export function waitBounded<T>(
  work: Promise<T>,
  options: {
    timeoutMs: number;
    signal: AbortSignal | undefined;
    destroy: () => void;
    onTimeout: () => Error;
  },
): Promise<T> {
  const { timeoutMs, signal, destroy, onTimeout } = options;
  // The loser's rejection must never surface as an unhandled rejection.
  work.catch(() => {});

  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      destroy();
      reject(abortReason(signal));
      return;
    }

    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      finish();
      destroy();
      reject(abortReason(signal!));
    };
    const timer = setTimeout(
      () => {
        finish();
        destroy();
        reject(onTimeout());
      },
      Math.max(0, timeoutMs),
    );
    timer.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });

    work.then(
      (value) => {
        finish();
        resolve(value);
      },
      (error: unknown) => {
        finish();
        reject(error);
      },
    );
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error
    ? signal.reason
    : new DbError('CHECK_TIMEOUT', 'the check was aborted', { phase: 'connect' });
}

/** Milliseconds since `start` (a performance.now() value), rounded to 0.1 ms. */
export function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}

/** Error fields a driver may set; read without trusting the shape. */
export interface DriverErrorFields {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  message?: unknown;
}

/** Keeps the wrapped error's phase and progress when it is already ours. */
export function isDbError(error: unknown): error is DbError {
  return error instanceof DbError;
}

export type { ConnectionProgress };
