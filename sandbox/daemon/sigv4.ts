import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signature Version 4 primitives shared by the token verifier (query-string signatures on
 * RDS tokens) and the local AWS endpoint (Authorization-header signatures).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */

export const ALGORITHM = 'AWS4-HMAC-SHA256';

/** SHA-256 of an empty body: what @smithy/signature-v4 signs when a request has none. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What botocore and some other SDKs sign in presigned URLs instead of a body hash. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** A credential scope: `<key id>/<yyyymmdd>/<region>/<service>/aws4_request`. */
export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

export interface CanonicalRequestParts {
  method: string;
  /** Canonical URI: already normalised and encoded. */
  path: string;
  /** Decoded query pairs, in any order; X-Amz-Signature must be left out by the caller. */
  query: Array<[string, string]>;
  /** Signed header names (lower case, sorted) with their canonical values. */
  headers: Array<[string, string]>;
  payloadHash: string;
}

/** Parses `AKIA.../20261204/eu-west-1/rds-db/aws4_request`; undefined when malformed. */
export function parseCredentialScope(credential: string): CredentialScope | undefined {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return undefined;

  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) return undefined;
  return { accessKeyId, date, region, service };
}

/** RFC 3986 encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Sorted, encoded query string of a canonical request. */
export function canonicalQueryString(pairs: Array<[string, string]>): string {
  const encoded = pairs.map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const);
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header value as SigV4 canonicalises it: trimmed, runs of spaces collapsed. */
export function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export function buildCanonicalRequest(parts: CanonicalRequestParts): string {
  const headerLines = parts.headers.map(([name, value]) => `${name}:${value}\n`).join('');
  const signedHeaders = parts.headers.map(([name]) => name).join(';');
  return [
    parts.method,
    parts.path,
    canonicalQueryString(parts.query),
    headerLines,
    signedHeaders,
    parts.payloadHash,
  ].join('\n');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// Signing keys change once a day per scope: caching them saves four HMACs per request.
const signingKeyCache = new Map<string, Buffer>();
const SIGNING_KEY_CACHE_SIZE = 256;

export function deriveSigningKey(secret: string, scope: CredentialScope): Buffer {
  const cacheKey = `${secret}\0${scope.date}\0${scope.region}\0${scope.service}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached) return cached;

  const kDate = createHmac('sha256', `AWS4${secret}`).update(scope.date).digest();
  const kRegion = createHmac('sha256', kDate).update(scope.region).digest();
  const kService = createHmac('sha256', kRegion).update(scope.service).digest();
  const kSigning = createHmac('sha256', kService).update('aws4_request').digest();

  if (signingKeyCache.size >= SIGNING_KEY_CACHE_SIZE) signingKeyCache.clear();
  signingKeyCache.set(cacheKey, kSigning);
  return kSigning;
}

/** Hex signature of a canonical request made at `amzDate` (yyyymmddThhmmssZ). */
export function computeSignature(
  secret: string,
  scope: CredentialScope,
  amzDate: string,
  canonicalRequest: string,
): string {
  const scopeText = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scopeText, sha256Hex(canonicalRequest)].join('\n');
  return createHmac('sha256', deriveSigningKey(secret, scope)).update(stringToSign).digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(expected: string, given: string): boolean {
  if (expected.length !== given.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}

/** `20261204T161405Z` to a Date; undefined when malformed. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;

  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (date.getUTCDate() !== d || date.getUTCMonth() !== mo - 1) return undefined;
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Date to `20261204T161405Z`. */
export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
