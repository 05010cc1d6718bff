import { type CredentialScope, parseAmzDate, parseCredentialScope } from './sigv4.ts';

/**
 * Parses an RDS IAM authentication token, a presigned URL without its scheme:
 * `host:port/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...
 * &X-Amz-Date=...&X-Amz-Expires=900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
 * &X-Amz-Signature=...`
 */

export interface RdsToken {
  /** `host:port` exactly as signed. */
  signedHost: string;
  host: string;
  /** Undefined when the signed host carries no port. */
  port?: number;
  dbUser: string;
  scope: CredentialScope;
  amzDate: string;
  signedAt: Date;
  expiresSeconds: number;
  sessionToken?: string;
  signature: string;
  /** Decoded query pairs without X-Amz-Signature: what the signature covers. */
  signedQuery: Array<[string, string]>;
}

export type ParseResult = { ok: true; token: RdsToken } | { ok: false; detail: string };

export function parseRdsToken(text: string): ParseResult {
  const split = text.indexOf('/?');
  if (split <= 0) return fail('no "host:port/?" prefix');

  const signedHost = text.slice(0, split);
  const colon = signedHost.lastIndexOf(':');
  const host = colon > 0 ? signedHost.slice(0, colon) : signedHost;
  const portText = colon > 0 ? signedHost.slice(colon + 1) : undefined;
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) return fail('bad port');

  const params = new Map<string, string>();
  const signedQuery: Array<[string, string]> = [];
  for (const part of text.slice(split + 2).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey);
      value = decodeURIComponent(rawValue);
    } catch {
      return fail(`bad percent-encoding in ${rawKey}`);
    }
    if (params.has(key)) return fail(`duplicate parameter ${key}`);
    params.set(key, value);
    if (key !== 'X-Amz-Signature') signedQuery.push([key, value]);
  }

  if (params.get('Action') !== 'connect') return fail('Action is not "connect"');
  const dbUser = params.get('DBUser');
  if (!dbUser) return fail('no DBUser');
  if (params.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return fail('X-Amz-Algorithm');
  if (params.get('X-Amz-SignedHeaders')?.toLowerCase() !== 'host') {
    return fail('X-Amz-SignedHeaders must be "host"');
  }

  const scope = parseCredentialScope(params.get('X-Amz-Credential') ?? '');
  if (!scope) return fail('X-Amz-Credential is not <key>/<date>/<region>/<service>/aws4_request');

  const amzDate = params.get('X-Amz-Date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt) return fail('X-Amz-Date is not yyyymmddThhmmssZ');
  if (amzDate.slice(0, 8) !== scope.date)
    return fail('credential scope date differs from X-Amz-Date');

  const expiresText = params.get('X-Amz-Expires') ?? '';
  if (!/^\d{1,9}$/.test(expiresText)) return fail('X-Amz-Expires is not a whole number');

  const signature = params.get('X-Amz-Signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(signature)) return fail('X-Amz-Signature is not 64 hex digits');

  return {
    ok: true,
    token: {
      signedHost,
      host,
      port: portText === undefined ? undefined : Number(portText),
      dbUser,
      scope,
      amzDate,
      signedAt,
      expiresSeconds: Number(expiresText),
      sessionToken: params.get('X-Amz-Security-Token'),
      signature,
      signedQuery,
    },
  };
}

function fail(detail: string): ParseResult {
  return { ok: false, detail };
}
