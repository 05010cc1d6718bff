import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  backoffMs,
  type RunCheckOptions,
  runCheck,
} from '#shared/check/run-check.ts';
import { type AssumeRoleRequest, RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import type { DbCheckRequest, DbCheckTimings } from '#shared/db/db-check-request.ts';
import { DbError } from '#shared/db/db-error.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import type { SignTokenRequest } from '#shared/token/sign-token.ts';

const target: ResolvedTarget = {
  name: 'orders',
  engine: 'postgres',
  host: 'orders.example',
  port: 5432,
  user: 'canary_iam',
  region: 'eu-west-1',
  signingHost: 'orders.example',
  signingPort: 5432,
  roles: [{ arn: 'arn:aws:iam::111111111111:role/canary-hub' }],
  expect: 'connect',
  query: 'SELECT 1',
  timeoutMs: 5000,
  tls: { ca: 'rds' },
  tags: { owner: 'payments' },
};

type Step = 'ok' | DbError | 'hang';

/** Seams: a fake STS, a counting signer and a scripted database. */
function harness(steps: Step[]) {
  const assumeRoleCalls: AssumeRoleRequest[] = [];
  const tokens: string[] = [];
  const requests: DbCheckRequest[] = [];
  let serial = 0;
  const sessionCache = new RoleSessionCache({
    assumeRole: async (request) => {
      assumeRoleCalls.push(request);
      return {
        credentials: {
          accessKeyId: `ASIA${assumeRoleCalls.length}`,
          secretAccessKey: 's',
          sessionToken: 't',
          expiration: new Date(Date.now() + 3_600_000),
        },
        arn: 'arn:aws:sts::111111111111:assumed-role/canary-hub/s',
      };
    },
  });
  const connect = async (request: DbCheckRequest): Promise<DbCheckTimings> => {
    requests.push(request);
    request.password();
    const step = steps[Math.min(requests.length - 1, steps.length - 1)]!;
    if (step === 'ok') return { connectMs: 5, queryMs: 1 };
    if (step === 'hang') {
      return new Promise((_, reject) => {
        request.signal?.addEventListener('abort', () => reject(request.signal?.reason));
      });
    }
    throw step;
  };
  const options: RunCheckOptions = {
    sessionCache,
    credentials: async () => ({ accessKeyId: 'AKIABASE', secretAccessKey: 'x' }),
    random: () => 0,
    signToken: async (request: SignTokenRequest) => {
      serial++;
      const token = `${request.hostname}:${request.port}/?X-Amz-Signature=sig${serial}`;
      tokens.push(token);
      return { token, signedAt: Date.now() };
    },
    connect: { postgres: connect, mysql: connect },
  };
  return { options, assumeRoleCalls, tokens, requests };
}

const rejected = () =>
  new DbError('28000', 'PAM authentication failed', { phase: 'connect', sqlState: '28000' });
const timeout = () =>
  new DbError('CONNECT_TIMEOUT', 'no login', { phase: 'connect', progress: 'none' });
const refused = () => new DbError('ECONNREFUSED', 'refused', { phase: 'connect' });

describe('runCheck', () => {
  it('reports a connection with phase timings, the principal and a fresh token’s age', async () => {
    const h = harness(['ok']);

    const result = await runCheck(target, h.options);

    expect(result).toMatchObject({
      target: 'orders',
      endpoint: 'orders.example:5432',
      outcome: 'CONNECTED',
      passed: true,
      attempts: 1,
      error: null,
      diagnosis: [],
      principal: 'arn:aws:sts::111111111111:assumed-role/canary-hub/s',
      tags: { owner: 'payments' },
    });
    expect(result.timings).toMatchObject({ connectMs: 5, queryMs: 1 });
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(0);
    expect(result.tokenAgeSeconds).toBeLessThan(1);
  });

  it('retries a transient failure with a fresh token each time, at most 3 attempts', async () => {
    const h = harness([timeout(), timeout(), timeout(), 'ok']);

    const result = await runCheck(target, h.options);

    expect(result).toMatchObject({ outcome: 'CONNECT_TIMEOUT', attempts: 3, passed: false });
    expect(h.tokens).toHaveLength(3);
    expect(new Set(h.tokens).size).toBe(3);
    expect(h.assumeRoleCalls).toHaveLength(1);
  });

  it('succeeds on a retry after a transient failure', async () => {
    const h = harness([timeout(), 'ok']);

    const result = await runCheck(target, h.options);

    expect(result).toMatchObject({ outcome: 'CONNECTED', attempts: 2, passed: true, error: null });
  });

  it('retries a rejection once with fresh credentials before it counts', async () => {
    const h = harness([rejected(), rejected(), 'ok']);

    const result = await runCheck(target, h.options);

    expect(result).toMatchObject({ outcome: 'AUTH_REJECTED', attempts: 2, passed: false });
    expect(result.error).toMatchObject({ code: '28000' });
    expect(h.assumeRoleCalls).toHaveLength(2);
  });

  it('passes a reject target on the first rejection without retrying', async () => {
    const h = harness([rejected(), 'ok']);

    const result = await runCheck({ ...target, expect: 'reject' }, h.options);

    expect(result).toMatchObject({ outcome: 'AUTH_REJECTED', attempts: 1, passed: true });
  });

  it('fails a reject target that connects', async () => {
    const h = harness(['ok']);

    const result = await runCheck({ ...target, expect: 'reject' }, h.options);

    expect(result).toMatchObject({ outcome: 'CONNECTED', passed: false });
  });

  it('does not retry a failure that is not transient', async () => {
    const h = harness([refused(), 'ok']);

    const result = await runCheck(target, h.options);

    expect(result).toMatchObject({ outcome: 'CONNECTION_REFUSED', attempts: 1 });
  });

  it('ends a hung check at its budget with TIMEOUT', async () => {
    const h = harness(['hang']);
    const started = performance.now();

    const result = await runCheck({ ...target, timeoutMs: 300 }, h.options);

    expect(result).toMatchObject({ outcome: 'TIMEOUT', passed: false });
    expect(result.error?.code).toBe('CHECK_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(600);
  });

  it('ends at once when the caller’s signal aborts', async () => {
    const h = harness(['hang']);
    const controller = new AbortController();

    const pending = runCheck(target, { ...h.options, signal: controller.signal });
    controller.abort();
    const result = await pending;

    expect(result).toMatchObject({ outcome: 'TIMEOUT', passed: false });
    expect(result.error?.code).toBe('ROUND_DEADLINE');
  });

  it('gives each attempt’s connect phase at most half the budget', async () => {
    const h = harness(['ok']);

    await runCheck({ ...target, timeoutMs: 4000 }, h.options);

    expect(h.requests[0]!.connectTimeoutMs).toBeLessThanOrEqual(2000);
    expect(h.requests[0]!.totalTimeoutMs).toBeLessThanOrEqual(4000);
  });

  it('keeps the token out of the error message', async () => {
    const h = harness([]);
    h.options.connect = {
      postgres: async (request) => {
        throw new DbError('28000', `rejected ${request.password()}`, {
          phase: 'connect',
          sqlState: '28000',
        });
      },
    };

    const result = await runCheck({ ...target, expect: 'reject' }, h.options);

    expect(result.error?.message).not.toContain(h.tokens[0]!);
    expect(JSON.stringify(result)).not.toMatch(/sig\d/);
  });

  it('reports the outcome of a failing assume-role and signs no token', async () => {
    const h = harness(['ok']);
    h.options.sessionCache = new RoleSessionCache({
      assumeRole: async () => {
        throw Object.assign(new Error('not authorized'), {
          name: 'AccessDenied',
          $metadata: { httpStatusCode: 403 },
        });
      },
    });

    const result = await runCheck(target, h.options);

    expect(result).toMatchObject({ outcome: 'ASSUME_ROLE_DENIED', attempts: 1, principal: null });
    expect(result.error?.code).toBe('AccessDenied');
    expect(h.tokens).toHaveLength(0);
  });

  it('fills diagnosis from the hook for a failed check only', async () => {
    const failing = harness([refused()]);
    const passing = harness(['ok']);
    const diagnose = async () => [
      { cause: 'NETWORK_BLOCKED', confidence: 'likely' as const, evidence: 'e', fix: 'f' },
    ];

    const failed = await runCheck(target, { ...failing.options, diagnose });
    const passed = await runCheck(target, { ...passing.options, diagnose });

    expect(failed.diagnosis.map((f) => f.cause)).toEqual(['NETWORK_BLOCKED']);
    expect(passed.diagnosis).toEqual([]);
  });
});

describe('backoffMs', () => {
  it('stays within half and all of the capped exponential step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.999999 }), (n, r) => {
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (n - 1));

        const delay = backoffMs(n, () => r);

        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }),
    );
  });
});
