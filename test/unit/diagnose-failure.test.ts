import { describe, expect, it } from 'vitest';
import { diagnoseFailure } from '#shared/diagnose/diagnose-failure.ts';
import type { CheckResult, Outcome, ResolvedTarget } from '#shared/report/types.ts';

const target: ResolvedTarget = {
  name: 'orders',
  engine: 'postgres',
  host: 'orders.c1.eu-west-1.rds.amazonaws.com',
  port: 5432,
  user: 'app_user',
  region: 'eu-west-1',
  signingHost: 'orders.c1.eu-west-1.rds.amazonaws.com',
  signingPort: 5432,
  roles: [],
  expect: 'connect',
  query: 'SELECT 1',
  timeoutMs: 5000,
  tls: { ca: 'rds' },
  tags: {},
};

function failed(outcome: Outcome, error: { code: string; message: string }): CheckResult {
  return {
    target: target.name,
    engine: target.engine,
    endpoint: `${target.host}:${target.port}`,
    region: target.region,
    principal: null,
    expect: 'connect',
    outcome,
    passed: false,
    attempts: 1,
    timings: { assumeRoleMs: 0, tokenMs: 0, connectMs: 0, queryMs: 0, totalMs: 0 },
    tokenAgeSeconds: null,
    error,
    diagnosis: [],
    tags: {},
  };
}

describe('diagnoseFailure', () => {
  it('gives an outcome no source explains a fix of its own, never "run diagnose"', async () => {
    const error = { code: 'CHECK_TIMEOUT', message: 'no result within 4833.2752550000005 ms' };

    const [finding] = await diagnoseFailure({
      target,
      result: failed('TIMEOUT', error),
      error,
      token: null,
      signal: new AbortController().signal,
      awsCredentials: false,
    });

    expect(finding).toMatchObject({ cause: 'UNKNOWN', confidence: 'possible' });
    expect(finding!.evidence).toContain('4833 ms');
    expect(finding!.fix).toContain('timeoutMs');
    expect(finding!.fix).not.toContain('rds-iam-canary diagnose');
  });

  it('names the resolver code of a host that does not resolve', async () => {
    const error = { code: 'ENOTFOUND', message: `getaddrinfo ENOTFOUND ${target.host}` };

    const [finding] = await diagnoseFailure({
      target,
      result: failed('DNS_ERROR', error),
      error,
      token: null,
      signal: new AbortController().signal,
      awsCredentials: false,
    });

    expect(finding!.cause).toBe('UNKNOWN');
    expect(finding!.evidence).toContain('ENOTFOUND');
    expect(finding!.fix).toContain('endpoint name');
  });
});
