/**
 * The steps both engine connectors share once their driver is set up: what a connect that ran
 * out of time raises, the bounded query, and the bounded goodbye.
 */
import type { ConnectionProgress } from '#shared/check/check-phase.ts';
import type { CheckTimeoutError } from '#shared/check/check-timeout-error.ts';
import {
  boundAfter,
  CLOSE_TIMEOUT_MS,
  type ConnectionClock,
  type DbCheckRequest,
  elapsedMs,
  waitBounded,
} from './db-check-request.ts';
import { DbError } from './db-error.ts';

/**
 * The error for a connect phase that ran out of time: CHECK_TIMEOUT when the login was
 * waiting for its turn to send the token (the connect timeout does not run then), else
 * CONNECT_TIMEOUT.
 */
export function connectTimeoutError(
  clock: ConnectionClock,
  request: DbCheckRequest,
  progress: ConnectionProgress,
  budget: CheckTimeoutError | undefined,
): DbError {
  const details = { phase: 'connect' as const, progress, cause: budget };
  return clock.holding
    ? new DbError('CHECK_TIMEOUT', 'the time ran out while the login waited for the token', details)
    : new DbError('CONNECT_TIMEOUT', `no login within ${request.connectTimeoutMs} ms`, details);
}

export interface QueryPhase {
  clock: ConnectionClock;
  request: DbCheckRequest;
  progress: ConnectionProgress;
  connectMs: number;
  /** Runs `request.query` with the engine's driver. */
  run: () => Promise<unknown>;
  destroy: () => void;
  /** The engine's wrapping of a driver error into a DbError. */
  toDbError: (
    error: unknown,
    phase: 'query',
    progress: ConnectionProgress,
    connectMs: number,
    queryMs: number,
  ) => Error;
}

/** Runs the query within what is left of the total deadline; resolves with its ms. */
export async function runQueryPhase(phase: QueryPhase): Promise<number> {
  const { clock, request, progress, connectMs, destroy } = phase;
  const started = performance.now();
  const timeoutMs = Math.round(clock.deadline - started);
  try {
    await waitBounded(phase.run(), {
      bound: clock.callBound,
      signal: request.signal,
      destroy,
      onTimeout: (budget) =>
        new DbError('QUERY_TIMEOUT', `no query result within ${timeoutMs} ms`, {
          phase: 'query',
          progress,
          cause: budget,
        }),
    });
  } catch (error) {
    destroy();
    throw phase.toDbError(error, 'query', progress, connectMs, elapsedMs(started));
  }
  return elapsedMs(started);
}

/**
 * Ends the session politely within CLOSE_TIMEOUT_MS. The check already has its answer, so a
 * slow or failed goodbye only costs the socket, which is then destroyed.
 */
export async function closeWithin(end: () => Promise<void>, destroy: () => void): Promise<void> {
  try {
    await waitBounded(end(), {
      bound: boundAfter(CLOSE_TIMEOUT_MS),
      signal: undefined,
      destroy,
      onTimeout: () => new Error('close timed out'),
    });
  } catch {
    // Destroyed above on timeout; an error from the driver's own end() changes nothing.
  }
}
