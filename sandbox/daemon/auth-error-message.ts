import type { Decision, DenyReason } from './verify-token.ts';

/**
 * A refused login as a line of RDS's `iam-db-auth-error` log, which RDS writes as
 * `2025-08-11T04:00:05,804 [ERROR] Failed to authenticate the connection request for user
 * 'app' because ...`. RDS names only what the server can see (a signature that does not
 * match its own endpoint, user and key; an expired token; a refused authorization; the
 * throttle), so a wrong host, port or user reads as a signature mismatch there too. The
 * sandbox appends its own reason code, which RDS does not have.
 */

// What RDS says for each reason, as close to its wording as the documentation shows.
const RDS_WORDING: Record<DenyReason, string> = {
  UNKNOWN_INSTANCE: 'the DB instance is unknown',
  NO_TLS: 'IAM database authentication requires an SSL/TLS connection',
  MALFORMED_TOKEN: 'the provided token is malformed or otherwise invalid',
  UNKNOWN_ACCESS_KEY:
    'the provided token is invalid: the security token included in the request is invalid',
  BAD_SIGNATURE: 'the provided token is invalid: signature mismatch',
  EXPIRES_TOO_LONG: 'the provided token is invalid: X-Amz-Expires must be 900 seconds or less',
  TOKEN_EXPIRED: 'the provided token has expired',
  TOKEN_NOT_YET_VALID: 'the provided token is invalid: the signature is not yet current',
  CREDENTIALS_EXPIRED:
    'the provided token is invalid: the security token included in the request is expired',
  WRONG_REGION: 'the provided token is invalid: the credential should be scoped to a valid region',
  WRONG_SERVICE:
    "the provided token is invalid: the credential should be scoped to correct service 'rds-db'",
  WRONG_HOST: 'the provided token is invalid: signature mismatch',
  WRONG_PORT: 'the provided token is invalid: signature mismatch',
  WRONG_USER: 'the provided token is invalid: signature mismatch',
  IAM_AUTH_DISABLED: 'IAM database authentication is not enabled on the DB instance',
  ORG_DENY: 'the IAM identity is not authorized to perform rds-db:connect',
  EXPLICIT_DENY: 'the IAM identity is not authorized to perform rds-db:connect',
  NOT_AUTHORIZED: 'the IAM identity is not authorized to perform rds-db:connect',
  BOUNDARY_DENY: 'the IAM identity is not authorized to perform rds-db:connect',
  THROTTLED: 'the request was throttled: too many IAM authentication requests',
};

/** The log line for a DENY decision; never the token or any secret (the decision has none). */
export function formatAuthErrorMessage(decision: Decision): string {
  const time = decision.time.replace('.', ',').replace(/Z$/, '');
  const reason = decision.reason ?? 'UNKNOWN_INSTANCE';
  return (
    `${time} [ERROR] Failed to authenticate the connection request for user ` +
    `'${decision.user}' because ${RDS_WORDING[reason]}. [sandbox reason: ${reason}]`
  );
}
