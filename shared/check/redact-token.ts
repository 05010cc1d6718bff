/**
 * Removes IAM token material from a text before it leaves the check (error messages end up in
 * reports, logs and alerts). A token is a presigned URL: its signature, security token and
 * credential scope are secrets or identify one.
 */

/** Query parameters of a presigned URL whose values must never be shown. */
const SECRET_PARAMS = /(X-Amz-(?:Signature|Security-Token|Credential))=[^&\s"'<>]*/gi;

/** The longest message kept: drivers can echo whole packets into an error. */
const MAX_MESSAGE_LENGTH = 500;

/**
 * Returns `text` with every known token replaced by `[REDACTED]` and the secret parameters of
 * any presigned URL blanked. `known` holds the exact tokens in play (may be empty).
 *
 * @example redactTokens('bad X-Amz-Signature=abc', []) // 'bad X-Amz-Signature=[REDACTED]'
 */
export function redactTokens(text: string, known: readonly string[]): string {
  let out = text;
  for (const token of known) {
    if (token.length >= 8) out = out.split(token).join('[REDACTED]');
  }
  out = out.replace(SECRET_PARAMS, '$1=[REDACTED]');
  return out.length > MAX_MESSAGE_LENGTH ? `${out.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : out;
}
