/**
 * Decides a failed check's outcome from error codes only: SQLSTATE, MySQL errno, Node error
 * codes, AWS error names, HTTP status, plus the phase that raised the error and how far the
 * connection got. Message text is kept for people, never used to decide.
 */
import type { Outcome } from '#shared/report/types.ts';
import type { CheckPhase, ConnectionProgress } from './check-phase.ts';
import { redactTokens } from './redact-token.ts';

export interface ClassifiedFailure {
  outcome: Outcome;
  /** The most specific code known: SQLSTATE, driver code, Node code or AWS error name. */
  code: string;
  /** The error's message with token material removed. */
  message: string;
  /** Worth another attempt within the budget (throttling, timeouts, AWS 5xx). */
  transient: boolean;
}

/** AWS error names for throttling (STS, and the SDK's generic ones). */
const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'PriorRequestNotComplete',
]);

/** AWS error names that say the calling credentials themselves are bad. */
const BAD_CREDENTIAL_NAMES = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'MissingAuthenticationToken',
  'IncompleteSignature',
  'AuthFailure',
  'CredentialsProviderError',
]);

/** Node resolver codes: the host name did not resolve. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/** The network answered that it will not carry the connection. */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/** No answer in time while connecting (our own timer, mysql2's, or the kernel's). */
const CONNECT_TIMEOUT_CODES = new Set(['CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** Certificate and TLS handshake failures (Node/OpenSSL codes and the drivers' own). */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'EPROTO',
  'ECONNRESET_TLS',
  'HANDSHAKE_NO_SSL_SUPPORT',
  'HANDSHAKE_SSL_ERROR',
  'TLS_NOT_SUPPORTED',
  'TLS_HANDSHAKE_FAILED',
  'CA_UNREADABLE',
]);

/** Codes that reveal a defect of the canary rather than of the path it checks. */
const CANARY_DEFECT_CODES = new Set([
  'MYSQL_CLEAR_PASSWORD_NOT_ENABLED',
  'CLEARTEXT_WITHOUT_TLS',
  'AUTH_SWITCH_PLUGIN_ERROR',
  'TOKEN_TOO_OLD',
]);

/** The connection ended (reset, closed) without an error code of its own. */
const CONNECTION_LOST_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'CONNECTION_CLOSED',
]);

/** MySQL errno values for a refused login. */
const MYSQL_AUTH_ERRNOS = new Set([1045, 1698]);

/** SQLSTATE class 28 (invalid authorization): 28000, 28P01. */
const AUTH_SQLSTATES = new Set(['28000', '28P01']);

/**
 * Classifies any thrown value. Never throws: an unknown shape is a `CANARY_ERROR`.
 *
 * Fields read (each optional): `code`, `name`, `phase`, `progress`, `tlsStarted`, `sqlState`,
 * `errno`, `httpStatus`, `$metadata.httpStatusCode`, `message`. `phase` defaults to `check`.
 *
 * @example classifyFailure({ phase: 'connect', code: '28000', message: 'PAM ...' })
 * // { outcome: 'AUTH_REJECTED', code: '28000', ... }
 */
export function classifyFailure(error: unknown): ClassifiedFailure {
  const e = readFields(error);
  const decided = decide(e);
  return {
    outcome: decided.outcome,
    code: e.code || e.name || 'UNKNOWN',
    message: redactTokens(e.message, []),
    transient: decided.transient,
  };
}

interface ErrorFields {
  code: string;
  name: string;
  phase: CheckPhase;
  progress: ConnectionProgress;
  /** False when TLS negotiation never began; undefined when not known. */
  tlsStarted: boolean | undefined;
  sqlState: string;
  errno: number | undefined;
  httpStatus: number | undefined;
  message: string;
}

function decide(e: ErrorFields): { outcome: Outcome; transient: boolean } {
  const code = e.code || e.name;

  if (code === 'CHECK_TIMEOUT' || code === 'ROUND_DEADLINE') {
    return { outcome: 'TIMEOUT', transient: true };
  }
  if (CANARY_DEFECT_CODES.has(code)) return fixed('CANARY_ERROR');

  switch (e.phase) {
    case 'credentials':
    case 'assume-role':
      return decideAws(e, code);
    case 'token':
      return fixed('TOKEN_ERROR');
    case 'connect':
    case 'query':
      return decideDatabase(e, code);
    default:
      return fixed('CANARY_ERROR');
  }
}

function decideAws(e: ErrorFields, code: string): { outcome: Outcome; transient: boolean } {
  const status = e.httpStatus;

  if (THROTTLING_NAMES.has(code) || THROTTLING_NAMES.has(e.name) || status === 429) {
    return { outcome: 'THROTTLED', transient: true };
  }
  if (status !== undefined && status >= 500)
    return { outcome: 'CREDENTIALS_ERROR', transient: true };
  if (e.phase === 'credentials' || BAD_CREDENTIAL_NAMES.has(code)) {
    return fixed('CREDENTIALS_ERROR');
  }
  if (status !== undefined && status >= 400) return fixed('ASSUME_ROLE_DENIED');
  if (code === 'AccessDenied' || code === 'AccessDeniedException') {
    return fixed('ASSUME_ROLE_DENIED');
  }

  // No HTTP answer at all: STS could not be reached (DNS, refused, SDK timeout).
  return { outcome: 'CREDENTIALS_ERROR', transient: true };
}

function decideDatabase(e: ErrorFields, code: string): { outcome: Outcome; transient: boolean } {
  if (e.phase === 'query') return fixed('QUERY_ERROR');

  const mysqlErrno = e.errno !== undefined && e.errno > 0 ? e.errno : undefined;
  if (AUTH_SQLSTATES.has(code) || AUTH_SQLSTATES.has(e.sqlState)) return fixed('AUTH_REJECTED');
  if (mysqlErrno !== undefined && MYSQL_AUTH_ERRNOS.has(mysqlErrno)) return fixed('AUTH_REJECTED');
  if (e.sqlState !== '' || (mysqlErrno !== undefined && code.startsWith('ER_'))) {
    // The server answered with an error of its own: too many connections, unknown database,
    // host blocked, shutting down.
    return fixed('DATABASE_ERROR');
  }
  if (DNS_CODES.has(code)) return fixed('DNS_ERROR');
  if (REFUSED_CODES.has(code)) return fixed('CONNECTION_REFUSED');
  if (CONNECT_TIMEOUT_CODES.has(code)) return { outcome: 'CONNECT_TIMEOUT', transient: true };
  if (isTlsCode(code)) return fixed('TLS_ERROR');
  if (CONNECTION_LOST_CODES.has(code)) {
    // Dropped during TLS negotiation: the negotiation failed. Before it began (a MySQL server
    // that hung up before its greeting) or after TLS: the server ended the connection without
    // a word, a database-side failure (or a proxy in front of it), not a certificate problem.
    const duringTls = (e.progress === 'none' || e.progress === 'tcp') && e.tlsStarted !== false;
    return fixed(duringTls ? 'TLS_ERROR' : 'DATABASE_ERROR');
  }
  return fixed('CANARY_ERROR');
}

function isTlsCode(code: string): boolean {
  return (
    TLS_CODES.has(code) ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code.endsWith('_CERT') ||
    code.includes('_CERT_')
  );
}

function fixed(outcome: Outcome): { outcome: Outcome; transient: boolean } {
  return { outcome, transient: false };
}

const PHASES = new Set<string>([
  'credentials',
  'assume-role',
  'token',
  'connect',
  'query',
  'check',
]);
const PROGRESS = new Set<string>(['none', 'tcp', 'tls', 'authenticated']);

function readFields(error: unknown): ErrorFields {
  // Each read is guarded: a thrown value may be a Proxy or carry throwing getters, and the
  // classifier must still answer (the round reports every target once).
  const o = typeof error === 'object' && error !== null ? error : {};
  const field = (from: object, key: string): unknown => {
    try {
      return (from as Record<string, unknown>)[key];
    } catch {
      return undefined;
    }
  };
  const code = field(o, 'code');
  const name = field(o, 'name');
  const phase = field(o, 'phase');
  const progress = field(o, 'progress');
  const tlsStarted = field(o, 'tlsStarted');
  const sqlState = field(o, 'sqlState');
  const message = field(o, 'message');
  const metadata = field(o, '$metadata');
  const status =
    asNumber(field(o, 'httpStatus')) ??
    (typeof metadata === 'object' && metadata !== null
      ? asNumber(field(metadata, 'httpStatusCode'))
      : undefined);

  return {
    code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : '',
    name: typeof name === 'string' && name !== 'Error' ? name : '',
    phase: (typeof phase === 'string' && PHASES.has(phase) ? phase : 'check') as CheckPhase,
    progress: (typeof progress === 'string' && PROGRESS.has(progress)
      ? progress
      : 'none') as ConnectionProgress,
    tlsStarted: typeof tlsStarted === 'boolean' ? tlsStarted : undefined,
    sqlState: typeof sqlState === 'string' ? sqlState : '',
    errno: asNumber(field(o, 'errno')),
    httpStatus: status,
    message: typeof message === 'string' ? message : typeof error === 'string' ? error : '',
  };
}

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
