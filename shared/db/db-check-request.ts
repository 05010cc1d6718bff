/**
 * What a database check needs, the same for every engine: where to connect, whom to trust,
 * who logs in with which token, what to run, and how long each step may take.
 */

import type { ConnectionProgress } from '#shared/check/check-phase.ts';
import { CheckTimeoutError } from '#shared/check/check-timeout-error.ts';
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
  /**
   * Resolves when the token may be sent; awaited, once TLS is verified, just before `password`
   * is called. The check waits here for the endpoint's rate-limit slot, since the server counts
   * an IAM authentication when the token arrives. The wait is held out of `connectTimeoutMs`
   * and of `connectMs`; `totalTimeoutMs` and `signal` still bound it. Left out: no wait.
   */
  waitForTurn?: () => Promise<void>;
  query: string;
  /** TCP, TLS and login together must finish within this, counted from `startedAt`. */
  connectTimeoutMs: number;
  /** The whole call must finish within this, counted from `startedAt`; the query gets the rest. */
  totalTimeoutMs: number;
  /**
   * The moment (a `performance.now()` value) both timeouts count from. Left out: when the
   * connector is called. A caller with a deadline of its own passes the moment it computed
   * the timeouts: each timer is then derived from these fixed deadlines when it is armed, so
   * time spent before (loading the CA and the driver on a busy event loop) cannot push the
   * connector's answer past the caller's deadline.
   */
  startedAt?: number;
  /**
   * Aborting destroys the connection at once. The check's own budget (a CheckTimeoutError
   * `CHECK_TIMEOUT`) running out in the connect or query phase rejects as that phase's timeout
   * (`CONNECT_TIMEOUT`, `QUERY_TIMEOUT`); any other reason rejects as it is.
   */
  signal?: AbortSignal;
}

export interface DbCheckTimings {
  /** TCP, TLS and login, in milliseconds, less the wait for the turn to send the token. */
  connectMs: number;
  queryMs: number;
}

/** How long a graceful close may take before the socket is destroyed. */
export const CLOSE_TIMEOUT_MS = 1000;

/** What bounds one wait: the milliseconds left, read again whenever the timer fires. */
export interface WaitBound {
  leftMs(): number;
  /**
   * Calls `listener` when `leftMs` may have shrunk below what the armed timer allows (a held
   * phase resumed). Returns the unsubscribe. Left out: `leftMs` never shrinks that way.
   */
  watch?(listener: () => void): () => void;
}

/** A bound of `ms` from now. */
export function boundAfter(ms: number): WaitBound {
  const end = performance.now() + ms;
  return { leftMs: () => end - performance.now() };
}

/**
 * The deadlines of one connection, fixed when the request was made (`startedAt`): every
 * timer is derived from them when it is armed. The wait for the turn to send the token is
 * held: the connect phase's deadline moves on by it, the whole call's does not.
 */
export class ConnectionClock {
  /** performance.now() value by which the whole call must be done. */
  readonly deadline: number;
  readonly #connectDeadline: number;
  #heldMs = 0;
  #holdingSince: number | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(request: Pick<DbCheckRequest, 'startedAt' | 'connectTimeoutMs' | 'totalTimeoutMs'>) {
    const start = request.startedAt ?? performance.now();
    this.deadline = start + request.totalTimeoutMs;
    this.#connectDeadline = start + request.connectTimeoutMs;
  }

  /** True while the login waits for its turn to send the token. */
  get holding(): boolean {
    return this.#holdingSince !== undefined;
  }

  /** Milliseconds the login has waited for its turn so far. */
  get heldMs(): number {
    const current = this.#holdingSince === undefined ? 0 : performance.now() - this.#holdingSince;
    return this.#heldMs + current;
  }

  /**
   * The password answer a driver awaits: the request's `waitForTurn` (its time held), then its
   * `password`. A failed wait comes back as a new DbError (drivers may rewrite the `code` of
   * what they are handed).
   */
  passwordAfterTurn(request: Pick<DbCheckRequest, 'password' | 'waitForTurn'>) {
    return async (): Promise<string> => {
      if (request.waitForTurn) {
        this.#holdingSince = performance.now();
        try {
          await request.waitForTurn();
        } catch (error) {
          throw new DbError('TOKEN_UNAVAILABLE', 'the token was not handed over', {
            phase: 'connect',
            cause: error,
          });
        } finally {
          this.#heldMs += performance.now() - this.#holdingSince;
          this.#holdingSince = undefined;
          for (const listener of this.#listeners) listener();
        }
      }
      return request.password();
    };
  }

  /** The connect phase: its deadline plus the time held, never past the whole call's. */
  readonly connectBound: WaitBound = {
    leftMs: () => {
      const now = performance.now();
      if (this.#holdingSince !== undefined) return this.deadline - now;
      return Math.min(this.#connectDeadline + this.#heldMs, this.deadline) - now;
    },
    watch: (listener) => {
      this.#listeners.add(listener);
      return () => this.#listeners.delete(listener);
    },
  };

  /** What is left of the whole call. */
  readonly callBound: WaitBound = { leftMs: () => this.deadline - performance.now() };

  /** Milliseconds since `start` less the time held, rounded to 0.1 ms. */
  elapsedLessHeld(start: number): number {
    const ms = performance.now() - start - this.heldMs;
    return Math.round(Math.max(0, ms) * 10) / 10;
  }
}

/**
 * Waits for `work` until `bound` runs out and until `signal` aborts, whichever comes first.
 * On either, calls `destroy` (which must make `work` settle) and rejects: with the error from
 * `onTimeout` when the bound ran out or the signal's reason is the check's own budget (passed
 * as `budget`), else with the signal's reason. The timer and the listeners are always removed.
 */
export function waitBounded<T>(
  work: Promise<T>,
  options: {
    bound: WaitBound;
    signal: AbortSignal | undefined;
    destroy: () => void;
    onTimeout: (budget?: CheckTimeoutError) => Error;
  },
): Promise<T> {
  const { bound, signal, destroy, onTimeout } = options;
  // The loser's rejection must never surface as an unhandled rejection.
  work.catch(() => {});

  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      destroy();
      reject(abortError(signal, onTimeout));
      return;
    }

    let timer: ReturnType<typeof setTimeout> | undefined;
    let unwatch: (() => void) | undefined;
    const finish = () => {
      clearTimeout(timer);
      unwatch?.();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      finish();
      destroy();
      reject(abortError(signal!, onTimeout));
    };
    // Armed from the bound each time: a timer that fires early (the event loop's clock is
    // read at the start of its turn) or a deadline moved by a hold is simply armed again.
    const arm = () => {
      clearTimeout(timer);
      const left = bound.leftMs();
      if (left <= 0) {
        finish();
        destroy();
        reject(onTimeout());
        return;
      }
      timer = setTimeout(arm, Math.ceil(left));
      timer.unref?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    unwatch = bound.watch?.(arm);
    arm();

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

function abortError(signal: AbortSignal, onTimeout: (budget?: CheckTimeoutError) => Error) {
  const reason: unknown = signal.reason;
  // The check's budget ran out in this phase: the phase did not answer in time.
  if (reason instanceof CheckTimeoutError && reason.code === 'CHECK_TIMEOUT') {
    return onTimeout(reason);
  }
  return reason instanceof Error
    ? reason
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
