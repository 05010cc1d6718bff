/**
 * Reads what an RDS IAM token says about itself: a token is a SigV4 presigned URL without its
 * scheme, `host:port/?Action=connect&DBUser=...&X-Amz-Credential=<key>/<date>/<region>/
 * rds-db/aws4_request&X-Amz-Date=...&X-Amz-Expires=900[&X-Amz-Security-Token=...]
 * &X-Amz-Signature=...`. The result keeps no secret: not the signature, not the security
 * token (only whether there was one).
 */
import { CanaryError } from '#shared/errors.ts';

export interface DecodedToken {
  /** `host:port` exactly as signed (what the signature covers). */
  signedHost: string;
  host: string;
  /** Undefined when the token was signed for a host without a port. */
  port: number | undefined;
  /** The credential scope's region. */
  region: string;
  /** The credential scope's service: `rds-db` for a database token. */
  service: string;
  /** DBUser, exactly (it is case-sensitive). */
  dbUser: string;
  signedAt: Date;
  /** X-Amz-Expires, seconds. */
  expiresSeconds: number;
  expiresAt: Date;
  /** The access key id that signed it (an identifier, not a secret). */
  accessKeyId: string;
  hasSessionToken: boolean;
}

/** The token could not be read. The message never quotes the token. */
export class TokenDecodeError extends CanaryError {
  constructor(why: string) {
    super('TOKEN_UNREADABLE', `cannot read the token: ${why}`);
  }
}

/**
 * Parses a token the canary signed. Throws TokenDecodeError (never echoing the token).
 *
 * @example decodeToken(token).region // 'eu-west-1'
 */
export function decodeToken(token: string): DecodedToken {
  const text = token.replace(/^https?:\/\//i, '');
  const split = text.indexOf('/?');
  if (split <= 0) throw new TokenDecodeError('no "host:port/?" prefix');

  const signedHost = text.slice(0, split);
  const { host, port } = splitHostPort(signedHost);
  const params = readQuery(text.slice(split + 2));

  const credential = required(params, 'X-Amz-Credential').split('/');
  if (credential.length !== 5 || credential[4] !== 'aws4_request') {
    throw new TokenDecodeError(
      'X-Amz-Credential is not <key>/<date>/<region>/<service>/aws4_request',
    );
  }
  const [accessKeyId, , region, service] = credential as [string, string, string, string];

  const signedAt = parseAmzDate(required(params, 'X-Amz-Date'));
  const expiresSeconds = Number(required(params, 'X-Amz-Expires'));
  if (!Number.isInteger(expiresSeconds) || expiresSeconds < 0) {
    throw new TokenDecodeError('X-Amz-Expires is not a whole number of seconds');
  }

  return {
    signedHost,
    host,
    port,
    region,
    service,
    dbUser: required(params, 'DBUser'),
    signedAt,
    expiresSeconds,
    expiresAt: new Date(signedAt.getTime() + expiresSeconds * 1000),
    accessKeyId,
    hasSessionToken: params.has('X-Amz-Security-Token'),
  };
}

function splitHostPort(signedHost: string): { host: string; port: number | undefined } {
  // An IPv6 literal is bracketed: [::1]:5432.
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(signedHost);
  if (!match) throw new TokenDecodeError('the signed host is not host[:port]');
  return { host: match[1]!, port: match[2] === undefined ? undefined : Number(match[2]) };
}

function readQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    try {
      params.set(decodeURIComponent(key), decodeURIComponent(value));
    } catch {
      throw new TokenDecodeError('bad percent-encoding in a parameter');
    }
  }
  return params;
}

function required(params: Map<string, string>, key: string): string {
  const value = params.get(key);
  if (value === undefined || value === '') throw new TokenDecodeError(`${key} is missing`);
  return value;
}

/** `20261204T164500Z` to a Date. */
function parseAmzDate(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) throw new TokenDecodeError('X-Amz-Date is not yyyymmddThhmmssZ');
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}
