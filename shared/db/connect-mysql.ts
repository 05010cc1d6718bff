/**
 * One IAM login to MySQL or MariaDB with `mysql2`: TLS required and verified, the token sent
 * through `mysql_clear_password` only over that verified TLS, the query run, the connection
 * closed.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { AuthPlugin, Connection, ConnectionOptions } from 'mysql2';
import type { ConnectionProgress } from '#shared/check/check-phase.ts';
import {
  ConnectionClock,
  type DbCheckRequest,
  type DbCheckTimings,
  waitBounded,
} from './db-check-request.ts';
import { DbError } from './db-error.ts';
import { closeWithin, connectTimeoutError, runQueryPhase } from './db-phases.ts';
import { loadTlsTrust, type TlsTrust } from './tls-trust.ts';

/**
 * One ssl object per trust: mysql2 caches the parsed secure context per ssl object, so
 * reusing it saves parsing the CA bundle on every connection.
 */
const sslOptions = new WeakMap<TlsTrust, ConnectionOptions['ssl']>();

/**
 * Connects as `request.user`, runs `request.query` and closes. Resolves with the timings;
 * rejects with a DbError whose code is mysql2's (`ER_ACCESS_DENIED_ERROR`, errno 1045), the
 * Node code, or `CONNECT_TIMEOUT` / `QUERY_TIMEOUT` / `CLEARTEXT_WITHOUT_TLS`, or `CHECK_TIMEOUT`
 * when the whole call's time ran out while the login waited for its turn to send the token. A
 * connection lost before the server's greeting carries `tlsStarted: false`: TLS was never
 * offered.
 *
 * The connection always uses TLS: the TCP socket is opened here to `host` while mysql2 is
 * told the `serverName`, which it uses for SNI and for the certificate's host-name check.
 */
export async function connectMysql(request: DbCheckRequest): Promise<DbCheckTimings> {
  const clock = new ConnectionClock(request);
  const trust = await loadTlsTrust(request.ca);
  const { default: mysql } = await import('mysql2');

  let progress: ConnectionProgress = 'none';
  let refusedCleartext = false;
  let socket: Socket | undefined;

  const connection = mysql.createConnection({
    host: request.serverName,
    port: request.port,
    user: request.user,
    ...(request.database === undefined ? {} : { database: request.database }),
    ssl: sslFor(trust),
    stream: () => {
      socket = connectTcp({ host: request.host, port: request.port });
      socket.setNoDelay(true);
      socket.once('connect', () => {
        progress = 'tcp';
      });
      return socket;
    },
    // Our own timers bound the connection; mysql2's would race them.
    connectTimeout: 0,
    authPlugins: {
      mysql_clear_password: clearPasswordOverTlsOnly(clock.passwordAfterTurn(request), () => {
        refusedCleartext = true;
      }),
    },
  });
  // mysql2 reports late failures as 'error' events; unheard, they throw.
  connection.on('error', () => {});
  const destroy = () => {
    connection.destroy();
    socket?.destroy();
  };

  const started = performance.now();
  try {
    await waitBounded(waitForLogin(connection), {
      bound: clock.connectBound,
      signal: request.signal,
      destroy,
      onTimeout: (budget) =>
        connectTimeoutError(clock, request, progressOf(connection, progress), budget),
    });
  } catch (error) {
    const reached = progressOf(connection, progress);
    const greeted = greetingReceived(connection);
    destroy();
    if (refusedCleartext) {
      throw new DbError('CLEARTEXT_WITHOUT_TLS', 'refused to send the token without TLS', {
        phase: 'connect',
        progress: reached,
        connectMs: clock.elapsedLessHeld(started),
      });
    }
    const failure = toDbError(
      withTlsCode(error, connection),
      'connect',
      reached,
      clock.elapsedLessHeld(started),
      0,
    );
    // mysql2 asks for TLS right after the greeting: lost before it, TLS was never offered.
    if (failure instanceof DbError && !greeted) failure.tlsStarted = false;
    throw failure;
  }
  const connectMs = clock.elapsedLessHeld(started);
  progress = 'authenticated';

  const queryMs = await runQueryPhase({
    clock,
    request,
    progress,
    connectMs,
    run: () => runQuery(connection, request.query),
    destroy,
    toDbError,
  });

  await closeWithin(
    () =>
      new Promise<void>((resolve, reject) => connection.end((e) => (e ? reject(e) : resolve()))),
    destroy,
  );
  return { connectMs, queryMs };
}

/**
 * The `mysql_clear_password` answer: the token, but only on a TLS socket whose certificate
 * was verified. mysql2 3.22+ refuses the clear-password switch unless the client opts in; this
 * is the opt-in, and the guard that a token never travels in clear text (field case F1).
 */
export function clearPasswordOverTlsOnly(
  password: () => string | Promise<string>,
  onRefused: () => void,
): AuthPlugin {
  return ({ connection }) =>
    () => {
      const refuseUnlessVerifiedTls = () => {
        const stream = (connection as unknown as { stream?: unknown }).stream;
        if (!(stream instanceof TLSSocket) || !stream.encrypted || !stream.authorized) {
          onRefused();
          throw new DbError('CLEARTEXT_WITHOUT_TLS', 'refused to send the token without TLS', {
            phase: 'connect',
          });
        }
      };
      refuseUnlessVerifiedTls();

      const token = password();
      if (typeof token === 'string') return Buffer.from(`${token}\0`);
      // mysql2 accepts a Promise here. Checked again once the token is ready: the rule holds
      // at the moment it is sent, not only when it was asked for.
      const answer = async (): Promise<Buffer> => {
        const value = await token;
        refuseUnlessVerifiedTls();
        return Buffer.from(`${value}\0`);
      };
      return answer();
    };
}

function sslFor(trust: TlsTrust): ConnectionOptions['ssl'] {
  let ssl = sslOptions.get(trust);
  if (!ssl) {
    ssl = { ca: trust.ca, rejectUnauthorized: true, verifyIdentity: true };
    sslOptions.set(trust, ssl);
  }
  return ssl;
}

function waitForLogin(connection: Connection): Promise<void> {
  return new Promise((resolve, reject) => {
    connection.once('connect', () => resolve());
    connection.once('error', reject);
  });
}

function runQuery(connection: Connection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    connection.query(sql, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * mysql2 relabels every TLS failure `HANDSHAKE_SSL_ERROR`; Node keeps the verification code
 * (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_TLS_CERT_ALTNAME_INVALID`, ...) on the socket.
 */
function withTlsCode(error: unknown, connection: Connection): unknown {
  const fields = error as { code?: unknown } | null;
  const stream = (connection as unknown as { stream?: unknown }).stream;
  if (fields?.code !== 'HANDSHAKE_SSL_ERROR' || !(stream instanceof TLSSocket)) return error;
  // A string at run time (the code), despite @types/node saying Error.
  const verification = (stream as unknown as { authorizationError?: unknown }).authorizationError;
  if (typeof verification !== 'string' || !/^[A-Z0-9_]+$/.test(verification)) return error;
  return Object.assign(new Error((error as Error).message, { cause: error }), {
    code: verification,
  });
}

/** mysql2 records the server's capabilities when it has parsed the greeting. */
function greetingReceived(connection: Connection): boolean {
  const flags = (connection as unknown as { serverCapabilityFlags?: unknown })
    .serverCapabilityFlags;
  return typeof flags === 'number' && flags !== 0;
}

function progressOf(connection: Connection, progress: ConnectionProgress): ConnectionProgress {
  if (progress === 'authenticated') return progress;
  const stream = (connection as unknown as { stream?: unknown }).stream;
  if (stream instanceof TLSSocket && stream.authorized) return 'tls';
  return progress;
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

  const fields = error as Error & { code?: unknown; errno?: unknown; sqlState?: unknown };
  const details = { connectMs, queryMs, progress, phase, cause: error };
  const code = typeof fields.code === 'string' && fields.code !== '' ? fields.code : undefined;

  // A server error packet: errno positive, SQLSTATE set (ER_ACCESS_DENIED_ERROR is 1045/28000).
  if (typeof fields.sqlState === 'string' && typeof fields.errno === 'number') {
    return new DbError(code ?? `ER_${fields.errno}`, error.message, {
      ...details,
      sqlState: fields.sqlState,
      errno: fields.errno,
    });
  }
  if (code) return new DbError(code, error.message, details);
  return new DbError('CONNECTION_CLOSED', error.message, details);
}
