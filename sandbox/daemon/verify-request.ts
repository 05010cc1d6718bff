import { AwsError, awsErrors } from './aws-errors.ts';
import type { CredentialAuthority, ResolvedCredentials } from './credentials.ts';
import {
  ALGORITHM,
  buildCanonicalRequest,
  type CredentialScope,
  canonicalHeaderValue,
  computeSignature,
  encodeRfc3986,
  formatAmzDate,
  parseAmzDate,
  parseCredentialScope,
  sha256Hex,
  signaturesEqual,
  UNSIGNED_PAYLOAD,
} from './sigv4.ts';

/**
 * Verifies the SigV4 Authorization header of an HTTP request as AWS does, from the real
 * method, path, query, signed headers and the SHA-256 of the body.
 */

export interface SignedRequest {
  method: string;
  /** Path and query as received (`/?a=b`). */
  url: string;
  /** Node's `req.rawHeaders`: names and values alternating, duplicates kept. */
  rawHeaders: string[];
  body: Buffer;
}

export interface VerifiedCaller {
  creds: ResolvedCredentials;
  scope: CredentialScope;
}

// AWS refuses requests whose date is more than 15 minutes off its clock.
const MAX_SKEW_MS = 15 * 60 * 1000;

/** The scope of an Authorization header, to pick the service before verifying it. */
export function readAuthorization(
  rawHeaders: string[],
): { scope: CredentialScope; signedHeaders: string[]; signature: string } | undefined {
  const header = headerValues(rawHeaders, 'authorization')[0];
  if (!header) return undefined;

  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== ALGORITHM) return undefined;

  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const scope = parseCredentialScope(fields.get('Credential') ?? '');
  const signedHeaders = fields.get('SignedHeaders')?.split(';');
  const signature = fields.get('Signature');
  if (!scope || !signedHeaders || !signature) return undefined;
  return { scope, signedHeaders, signature };
}

export function verifyRequest(
  request: SignedRequest,
  credentials: CredentialAuthority,
  nowMs: number,
): VerifiedCaller {
  if (headerValues(request.rawHeaders, 'authorization').length === 0) {
    throw awsErrors.missingAuthenticationToken();
  }
  const auth = readAuthorization(request.rawHeaders);
  if (!auth) {
    throw awsErrors.incompleteSignature(
      'Authorization header requires Credential, SignedHeaders and Signature ' +
        'with AWS4-HMAC-SHA256.',
    );
  }

  const sessionToken = headerValues(request.rawHeaders, 'x-amz-security-token')[0];
  const creds = credentials.resolve(auth.scope.accessKeyId, sessionToken);
  if (!creds) throw awsErrors.invalidClientTokenId();

  const amzDate = headerValues(request.rawHeaders, 'x-amz-date')[0] ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt || amzDate.slice(0, 8) !== auth.scope.date) {
    throw awsErrors.incompleteSignature(
      'X-Amz-Date is missing or differs from the credential scope.',
    );
  }
  if (!auth.signedHeaders.includes('host')) {
    throw awsErrors.signatureDoesNotMatch("'Host' must be a signed header.");
  }

  const expected = computeSignature(
    creds.secretAccessKey,
    auth.scope,
    amzDate,
    canonicalRequestOf(request, auth.signedHeaders),
  );
  if (!signaturesEqual(expected, auth.signature)) throw awsErrors.signatureDoesNotMatch();

  if (Math.abs(nowMs - signedAt.getTime()) > MAX_SKEW_MS) {
    const now = formatAmzDate(new Date(nowMs));
    throw awsErrors.signatureDoesNotMatch(
      `Signature expired: ${amzDate} is now earlier or later than ${now} (15 min. skew allowed)`,
    );
  }
  if (creds.expiration && creds.expiration.getTime() <= nowMs) throw awsErrors.expiredToken();

  return { creds, scope: auth.scope };
}

function canonicalRequestOf(request: SignedRequest, signedHeaders: string[]): string {
  const q = request.url.indexOf('?');
  const rawPath = q < 0 ? request.url : request.url.slice(0, q);
  const rawQuery = q < 0 ? '' : request.url.slice(q + 1);

  const headers = signedHeaders.map((name): [string, string] => [
    name,
    headerValues(request.rawHeaders, name).map(canonicalHeaderValue).join(','),
  ]);

  // A declared body hash is signed as declared, but must be the body's (unless unsigned).
  const bodyHash = sha256Hex(request.body);
  const declared = headerValues(request.rawHeaders, 'x-amz-content-sha256')[0];
  if (declared !== undefined && declared !== UNSIGNED_PAYLOAD && declared !== bodyHash) {
    throw awsErrors.signatureDoesNotMatch(
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  const payloadHash = declared ?? bodyHash;

  return buildCanonicalRequest({
    method: request.method,
    path: canonicalPath(rawPath),
    query: parseQueryPairs(rawQuery),
    headers,
    payloadHash,
  });
}

// The SDK normalises the path and encodes each (already encoded) segment once more.
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = rawPath.endsWith('/') && segments.length > 0 ? '/' : '';
  return `/${segments.map(encodeRfc3986).join('/')}${trailing}`;
}

export function parseQueryPairs(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    try {
      pairs.push([decodeURIComponent(key), decodeURIComponent(value)]);
    } catch {
      throw new AwsError('MalformedQueryString', 400, `Invalid query string parameter ${key}`);
    }
  }
  return pairs;
}

/** Every value of a header (case-insensitive name), in the order received. */
export function headerValues(rawHeaders: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  }
  return values;
}
