/**
 * Redaction at the boundary of the call log: parameters are recorded as sent, except any
 * field whose name says it holds a secret.
 */

const SECRET_KEY = /secret|sessiontoken|security-token|signature|password|^token$/i;

export const REDACTED = '[REDACTED]';

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;

  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redactSecrets(inner);
  }
  return out;
}
