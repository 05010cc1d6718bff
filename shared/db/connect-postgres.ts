/**
 * One IAM login to PostgreSQL with `pg`: TLS required and verified, the token handed over as
 * the password only when the server asks for it, the query run, the connection closed.
 */
import { checkServerIdentity } from 'node:tls';
import type { ConnectionProgress } from '#shared/check/check-phase.ts';
import {
  ConnectionClock,
  type DbCheckRequest,
  type DbCheckTimings,
  waitBounded,
} from './db-check-request.ts';
import { DbError } from './db-error.ts';
import { closeWithin, connectTimeoutError, runQueryPhase } from './db-phases.ts';
import { loadTlsTrust } from './tls-trust.ts';

/** The parts of pg's internal Connection this module watches (stable since pg 7). */
interface PgConnection {
  stream: { destroy(error?: Error): void; once(event: string, listener: () => void): void };
  once(event: string, listener: () => void): void;
}

/**
 * Connects as `request.user`, runs `request.query` and closes. Resolves with the timings;
 * rejects with a DbError whose code is the SQLSTATE, the Node code, or `CONNECT_TIMEOUT` /
 * `QUERY_TIMEOUT` / `TLS_HANDSHAKE_FAILED` / `CONNECTION_CLOSED`, or `CHECK_TIMEOUT` when the
 * whole call's time ran out while the login waited for its turn to send the token. The
 * connection is closed on every path (destroyed on error).
 */
export async function connectPostgres(request: DbCheckRequest): Promise<DbCheckTimings> {
  const clock = new ConnectionClock(request);
  const trust = await loadTlsTrust(request.ca);
  const { default: pg } = await import('pg');

  const client = new pg.Client({
    host: request.host,
    port: request.port,
    user: request.user,
    ...(request.database === undefined ? {} : { database: request.database }),
    // pg calls this (and awaits it) when the server asks for the password, after TLS.
    password: clock.passwordAfterTurn(request),
    ssl: {
      secureContext: trust.secureContext,
      rejectUnauthorized: true,
      // pg sets the SNI name to the host; the certificate is checked against serverName.
      checkServerIdentity: (_host, cert) => checkServerIdentity(request.serverName, cert),
    },
  });
  // After connect, pg reports a dropped connection as an 'error' event; unheard, it throws.
  client.on('error', () => {});

  let progress: ConnectionProgress = 'none';
  const connection = (client as unknown as { connection: PgConnection }).connection;
  connection.once('connect', () => {
    progress = 'tcp';
  });
  connection.once('sslconnect', () => {
    connection.stream.once('secureConnect', () => {
      progress = 'tls';
    });
  });
  const destroy = () => connection.stream.destroy();

  const started = performance.now();
  try {
    await waitBounded(client.connect(), {
      bound: clock.connectBound,
      signal: request.signal,
      destroy,
      onTimeout: (budget) => connectTimeoutError(clock, request, progress, budget),
    });
  } catch (error) {
    destroy();
    throw toDbError(error, 'connect', progress, clock.elapsedLessHeld(started), 0);
  }
  const connectMs = clock.elapsedLessHeld(started);
  progress = 'authenticated';

  const queryMs = await runQueryPhase({
    clock,
    request,
    progress,
    connectMs,
    run: () => client.query(request.query),
    destroy,
    toDbError,
  });

  await closeWithin(() => client.end(), destroy);
  return { connectMs, queryMs };
}

function toDbError(
  error: unknown,
  phase: 'connect' | 'query',
  progress: ConnectionProgress,
  connectMs: number,
  queryMs: number,
): Error {
  if (error instanceof DbError) {
    error.connectMs = connectMs;
    error.queryMs = queryMs;
    return error;
  }
  if (!(error instanceof Error)) return new DbError('UNKNOWN', String(error), { phase });

  const fields = error as Error & { code?: unknown; severity?: unknown };
  const message = error.message;
  const timings = { connectMs, queryMs, progress, phase, cause: error };

  // A server ErrorResponse (pg's DatabaseError): the code is the SQLSTATE.
  if (typeof fields.severity === 'string' && typeof fields.code === 'string') {
    return new DbError(fields.code, message, { ...timings, sqlState: fields.code });
  }
  if (typeof fields.code === 'string' && fields.code !== '') {
    return new DbError(fields.code, message, timings);
  }

  // pg raises these without a code: the server refused TLS ('N'), or hung up mid-way.
  if (phase === 'connect' && progress === 'tcp') {
    return new DbError('TLS_HANDSHAKE_FAILED', message, timings);
  }
  return new DbError('CONNECTION_CLOSED', message, timings);
}
