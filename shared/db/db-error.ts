/**
 * The error a database check raises: the driver's code kept (SQLSTATE, mysql2 code, Node code)
 * or one of ours (`CONNECT_TIMEOUT`, `QUERY_TIMEOUT`, `TLS_HANDSHAKE_FAILED`, ...), the phase,
 * and how far the connection got, so the outcome can be decided without reading the message.
 */
import type { CheckPhase, ConnectionProgress } from '#shared/check/check-phase.ts';
import { CanaryError } from '#shared/errors.ts';

export interface DbErrorDetails {
  cause?: unknown;
  phase: Extract<CheckPhase, 'connect' | 'query'>;
  progress?: ConnectionProgress;
  /** SQLSTATE sent by the server (present only for the server's own errors). */
  sqlState?: string;
  /** MySQL server errno (positive), when the server sent one. */
  errno?: number;
  /** Time spent connecting (TCP, TLS, login) before the error, in milliseconds. */
  connectMs?: number;
  /** Time spent on the query before the error, in milliseconds. */
  queryMs?: number;
  /**
   * False when the connection ended before TLS negotiation could begin (a MySQL server that
   * hung up before its greeting). Left out: not known.
   */
  tlsStarted?: boolean;
}

export class DbError extends CanaryError {
  readonly phase: 'connect' | 'query';
  readonly progress: ConnectionProgress;
  readonly sqlState: string | undefined;
  readonly errno: number | undefined;
  connectMs: number;
  queryMs: number;
  tlsStarted: boolean | undefined;

  constructor(code: string, message: string, details: DbErrorDetails) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.phase = details.phase;
    this.progress = details.progress ?? 'none';
    this.sqlState = details.sqlState;
    this.errno = details.errno;
    this.connectMs = details.connectMs ?? 0;
    this.queryMs = details.queryMs ?? 0;
    this.tlsStarted = details.tlsStarted;
  }
}
