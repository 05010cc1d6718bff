import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SEVERITY,
  formatAlert,
  formatSubject,
  MAX_MESSAGE_BYTES,
} from '#shared/publish/format-alert.ts';
import type { CheckResult } from '#shared/report/types.ts';

function failed(overrides: Partial<CheckResult> = {}): CheckResult {
  return {
    target: 'orders-primary',
    engine: 'postgres',
    endpoint: 'orders.c1a2b3.eu-west-1.rds.amazonaws.com:5432',
    region: 'eu-west-1',
    principal: 'arn:aws:sts::111111111111:assumed-role/rds-connect/rds-iam-canary-orders',
    expect: 'connect',
    outcome: 'AUTH_REJECTED',
    passed: false,
    attempts: 2,
    timings: { assumeRoleMs: 10, tokenMs: 1, connectMs: 30, queryMs: 0, totalMs: 41 },
    tokenAgeSeconds: 0,
    error: { code: '28000', message: 'PAM authentication failed for user "canary_iam"' },
    diagnosis: [],
    tags: { owner: 'orders', severity: 'ticket' },
    ...overrides,
  };
}

describe('formatSubject', () => {
  it('reads like RDS IAM REJECTED <target> <region>', () => {
    expect(formatSubject(failed())).toBe('RDS IAM REJECTED orders-primary eu-west-1');
  });

  it('names a guard that let the canary in and other outcomes in words', () => {
    expect(formatSubject(failed({ outcome: 'CONNECTED', expect: 'reject' }))).toBe(
      'RDS IAM NOT REJECTED orders-primary eu-west-1',
    );
    expect(formatSubject(failed({ outcome: 'ASSUME_ROLE_DENIED' }))).toBe(
      'RDS IAM ASSUME ROLE DENIED orders-primary eu-west-1',
    );
  });

  it('stays under 100 ASCII characters with a long target name, keeping the region', () => {
    const subject = formatSubject(failed({ target: 'x'.repeat(64), outcome: 'CREDENTIALS_ERROR' }));

    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.endsWith('... eu-west-1')).toBe(true);
  });

  it('strips control characters and non-ASCII', () => {
    const subject = formatSubject(
      failed({ target: 'örders\r\nprimary\u0007\u200b', region: 'eu-west-1\n' }),
    );

    expect(subject).toBe('RDS IAM REJECTED rdersprimary eu-west-1');
  });
});

describe('formatAlert', () => {
  it('sets attributes target, outcome and severity from tags', () => {
    expect(formatAlert(failed()).attributes).toEqual({
      target: 'orders-primary',
      outcome: 'AUTH_REJECTED',
      severity: 'ticket',
    });
  });

  it('defaults severity to page', () => {
    expect(formatAlert(failed({ tags: {} })).attributes.severity).toBe(DEFAULT_SEVERITY);
  });

  it('puts a readable summary first and the result as JSON after it', () => {
    const { message } = formatAlert(
      failed({
        diagnosis: [
          {
            cause: 'RESOURCE_ARN_MISMATCH',
            confidence: 'likely',
            evidence: 'policy names orders-primary',
            fix: 'use db-ABC',
          },
        ],
      }),
    );

    const [summary, json] = message.split('Result (JSON):\n');
    expect(summary).toContain('AUTH_REJECTED');
    expect(summary).toContain('arn:aws:sts::111111111111:assumed-role/rds-connect');
    expect(summary).toContain('orders.c1a2b3.eu-west-1.rds.amazonaws.com:5432');
    expect(summary).toContain('28000');
    expect(summary).toContain('RESOURCE_ARN_MISMATCH');
    expect(summary).toContain('owner=orders');
    expect(JSON.parse(json!)).toMatchObject({ target: 'orders-primary', outcome: 'AUTH_REJECTED' });
  });

  it('carries no token, signature or secret even when the error message had one', () => {
    const signature = 'ab'.repeat(32);
    const alert = formatAlert(
      failed({
        error: {
          code: 'CANARY_ERROR',
          message: `h:5432/?Action=connect&X-Amz-Security-Token=${'Q'.repeat(200)}&X-Amz-Signature=${signature}`,
        },
      }),
    );

    expect(alert.message).not.toContain(signature);
    expect(alert.message).not.toContain('Q'.repeat(50));
  });

  it('fits a huge result into an SNS message', () => {
    const alert = formatAlert(failed({ error: { code: 'X', message: 'é '.repeat(200_000) } }));

    expect(Buffer.byteLength(alert.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });
});
