import { describe, expect, it } from 'vitest';
import { formatAuthErrorMessage } from '#sandbox/daemon/auth-error-message.ts';
import type { Decision, DenyReason } from '#sandbox/daemon/verify-token.ts';

const REASONS: DenyReason[] = [
  'UNKNOWN_INSTANCE',
  'NO_TLS',
  'MALFORMED_TOKEN',
  'UNKNOWN_ACCESS_KEY',
  'BAD_SIGNATURE',
  'EXPIRES_TOO_LONG',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'CREDENTIALS_EXPIRED',
  'WRONG_REGION',
  'WRONG_SERVICE',
  'WRONG_HOST',
  'WRONG_PORT',
  'WRONG_USER',
  'IAM_AUTH_DISABLED',
  'ORG_DENY',
  'EXPLICIT_DENY',
  'NOT_AUTHORIZED',
  'BOUNDARY_DENY',
  'THROTTLED',
];

function denial(reason: DenyReason): Decision {
  return {
    time: '2026-12-04T16:42:20.220Z',
    instance: 'orders',
    user: 'canary_iam',
    rhost: '127.0.0.1',
    decision: 'DENY',
    reason,
    detail: 'credential scope region us-east-1, instance region eu-west-1',
    accessKeyId: 'ASIAEXAMPLEEXAMPLE00',
    tokenLength: 1800,
  };
}

describe('formatAuthErrorMessage', () => {
  it('writes the line as RDS does, with the sandbox reason code', () => {
    const line = formatAuthErrorMessage(denial('WRONG_REGION'));

    expect(line).toBe(
      "2026-12-04T16:42:20,220 [ERROR] Failed to authenticate the connection request for user 'canary_iam' because the provided token is invalid: the credential should be scoped to a valid region. [sandbox reason: WRONG_REGION]",
    );
  });

  it.each(REASONS)('words %s and names it', (reason) => {
    const line = formatAuthErrorMessage(denial(reason));

    expect(line).toMatch(/ because \S/);
    expect(line).not.toContain('undefined');
    expect(line.endsWith(`[sandbox reason: ${reason}]`)).toBe(true);
  });

  it('reads a wrong host, port or user as a signature mismatch, as RDS cannot tell them apart', () => {
    const lines = (['WRONG_HOST', 'WRONG_PORT', 'WRONG_USER'] as const).map((r) =>
      formatAuthErrorMessage(denial(r)),
    );

    for (const line of lines) expect(line).toContain('signature mismatch');
  });

  it('never writes the access key or the detail', () => {
    const line = formatAuthErrorMessage(denial('BAD_SIGNATURE'));

    expect(line).not.toContain('ASIA');
    expect(line).not.toContain('credential scope');
  });
});
