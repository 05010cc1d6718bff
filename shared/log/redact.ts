/**
 * Removes secrets from anything about to leave the process (a log line, an alert, a report).
 * Applied at the boundary, so a token that slipped into an error message deep in a driver
 * is still caught. Redacts:
 * - values under keys named like a secret (`secret`, `token`, `password`, `sessionToken`,
 *   `secretAccessKey`, `signature`, `authorization`, `credentials`, ...);
 * - SigV4 query parameters and headers (`X-Amz-Signature=`, `X-Amz-Security-Token=`,
 *   `Signature=` in an Authorization header), raw or URL-encoded;
 * - `password=` / `pwd=` pairs and the password in `scheme://user:password@host`;
 * - stand-alone 40-character base64 runs (AWS secret access keys), 64-hex-digit runs
 *   (SigV4 signatures) and base64 runs of 100+ characters (session tokens).
 */

export const REDACTED = '[REDACTED]';

/** Lower-cased key names, without `_` and `-`, whose values are always secret. */
const SECRET_KEY_SUFFIXES = [
  'secret',
  'secretkey',
  'secretaccesskey',
  'token',
  'sessiontoken',
  'authtoken',
  'password',
  'passphrase',
  'signature',
  'privatekey',
  'authorization',
  'credentials',
];

/** Keys whose names end like a secret but hold none (timings, ages). */
const SAFE_KEYS = new Set(['tokenms', 'tokenageseconds', 'tokenlatency']);

const TEXT_RULES: [RegExp, string][] = [
  // SigV4 presigned query parameters (an RDS token is one), raw or URL-encoded.
  [/(X-Amz-(?:Signature|Security-Token)(?:=|%3D))[^&\s"',;]+/gi, `$1${REDACTED}`],
  // Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=<hex>
  [/(\bSignature=)[0-9a-f]{16,}/gi, `$1${REDACTED}`],
  // key=value pairs in connection strings and query strings.
  [/(\b(?:password|pwd|passwd)=)[^&\s"',;]+/gi, `$1${REDACTED}`],
  // scheme://user:password@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, `$1${REDACTED}@`],
  // Session tokens and other long base64 blobs.
  [/[A-Za-z0-9/+]{100,}={0,2}/g, REDACTED],
  // A SigV4 signature standing alone (64 hex digits; other SHA-256 digests go too).
  [/(?<![0-9A-Za-z])[0-9a-f]{64}(?![0-9A-Za-z])/g, REDACTED],
  // A 40-character secret access key standing alone.
  [/(?<![A-Za-z0-9/+-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=-])/g, REDACTED],
];

/** Redacts secrets inside a string. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of TEXT_RULES) out = out.replace(pattern, replacement);
  return out;
}

/** True when a key's value must never be shown, e.g. `sessionToken`, `db_password`. */
export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[_-]/g, '');
  if (SAFE_KEYS.has(normalized)) return false;
  return SECRET_KEY_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

/**
 * A deep copy of `value` with every secret removed (see the module comment). Errors become
 * `{ name, code, message }`; cycles and depth beyond 8 become a marker; functions drop out.
 */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && !(value instanceof Error)) {
    return redactValue((value as { toJSON(): unknown }).toJSON(), depth, seen);
  }
  if (seen.has(value)) return '[Circular]';
  if (depth >= 8) return '[Truncated]';
  seen.add(value);

  try {
    return redactObject(value, depth, seen);
  } finally {
    // Only the current path counts as a cycle: the same object twice side by side is fine.
    seen.delete(value);
  }
}

function redactObject(value: object, depth: number, seen: WeakSet<object>): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      ...(code === undefined ? {} : { code: redactValue(code, depth + 1, seen) }),
      message: redactText(value.message),
    };
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, seen));

  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      isSecretKey(key) && item !== null && item !== undefined
        ? REDACTED
        : redactValue(item, depth + 1, seen);
  }
  return out;
}
