/**
 * The check against real servers: the sandbox's PostgreSQL and MariaDB (verifying IAM tokens
 * like RDS), its local STS, and loopback servers that misbehave on purpose.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyFailure } from '#shared/check/classify-failure.ts';
import { type RunCheckOptions, runCheck } from '#shared/check/run-check.ts';
import { runRound } from '#shared/check/run-round.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import { connectPostgres } from '#shared/db/connect-postgres.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { signToken } from '#shared/token/sign-token.ts';
import {
  closedPort,
  droppingPort,
  type FaultServer,
  mysqlWithoutTls,
  postgresWithoutTls,
  scriptedServer,
} from '../support/network-faults.ts';
import {
  type Decision,
  decisionsSince,
  instance,
  readSandboxEnv,
  sandboxFetch,
  sandboxTarget,
} from '../support/sandbox.ts';

const HUB = 'arn:aws:iam::111111111111:role/canary-hub';
const RDS_CONNECT = 'arn:aws:iam::222222222222:role/rds-connect';
const AWS_KEYS = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];

const env = readSandboxEnv();
const savedEnv: Record<string, string | undefined> = {};
const faults: FaultServer[] = [];

/** The canary's own credentials (the fixture's IAM user `canary`), as the default chain finds them. */
const canaryCredentials = async () => ({
  accessKeyId: env.AWS_ACCESS_KEY_ID,
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
});

/** A target for a sandbox instance, every default applied, with overrides. */
function targetFor(name: string, overrides: Partial<ResolvedTarget> = {}): ResolvedTarget {
  return sandboxTarget(name, `${name}-check`, { ...overrides });
}

function check(target: ResolvedTarget, options: Partial<RunCheckOptions> = {}) {
  return runCheck(target, {
    sessionCache: new RoleSessionCache(),
    credentials: canaryCredentials,
    ...options,
  });
}

async function decisions(instanceName: string, since: string): Promise<Decision[]> {
  return decisionsSince(instanceName, since);
}

interface CallRecord {
  action: string;
  params: Record<string, string>;
  outcome: 'ok' | 'error';
  errorCode?: string;
}

function assumeRoleCallsSince(since: string): Promise<CallRecord[]> {
  return sandboxFetch<CallRecord[]>(
    `/calls?${new URLSearchParams({ service: 'sts', action: 'AssumeRole', since })}`,
  );
}

beforeAll(() => {
  for (const key of AWS_KEYS) {
    savedEnv[key] = process.env[key];
    process.env[key] = (env as unknown as Record<string, string>)[key];
  }
});

afterAll(() => {
  for (const key of AWS_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

afterEach(async () => {
  await Promise.all(faults.splice(0).map((f) => f.close()));
});

describe('CONNECTED', () => {
  it('logs in to PostgreSQL over verified TLS with a fresh token', async () => {
    const result = await check(targetFor('orders'));

    expect(result).toMatchObject({
      outcome: 'CONNECTED',
      passed: true,
      attempts: 1,
      error: null,
      principal: 'arn:aws:iam::111111111111:user/canary',
    });
    expect(result.timings.connectMs).toBeGreaterThan(0);
    expect(result.timings.queryMs).toBeGreaterThan(0);
    expect(result.tokenAgeSeconds).toBeLessThan(5);
  });

  it('logs in to MariaDB over verified TLS, opting in to the clear-password switch (F1)', async () => {
    const result = await check(targetFor('ledger'));

    expect(result).toMatchObject({ outcome: 'CONNECTED', passed: true, attempts: 1 });
  });

  it('logs in through a cross-account chain with ExternalId and session tags', async () => {
    const since = new Date().toISOString();
    const roles = [
      { arn: HUB },
      { arn: RDS_CONNECT, externalId: 'canary-7f3a', sessionTags: { team: 'payments' } },
    ];

    const result = await check(targetFor('payments', { roles }));

    expect(result).toMatchObject({ outcome: 'CONNECTED', passed: true });
    expect(result.principal).toMatch(
      /^arn:aws:sts::222222222222:assumed-role\/rds-connect\/rds-iam-canary-[0-9a-f]{16}$/,
    );
    const calls = await assumeRoleCallsSince(since);
    expect(calls.map((c) => c.params.RoleArn)).toEqual([HUB, RDS_CONNECT]);
    expect(calls[1]!.params).toMatchObject({
      ExternalId: 'canary-7f3a',
      'Tags.member.1.Key': 'team',
      'Tags.member.1.Value': 'payments',
    });
  });

  it('finds its credentials through the default AWS chain', async () => {
    const report = await runRound([targetFor('orders')], { sessionCache: new RoleSessionCache() });

    expect(report.results[0]).toMatchObject({ outcome: 'CONNECTED', passed: true });
  });
});

describe('AUTH_REJECTED', () => {
  it.each([
    ['IAM authentication is off on the instance', 'legacy', {}, 'IAM_AUTH_DISABLED'],
    ['the token is signed for another region', 'orders', { region: 'us-east-1' }, 'WRONG_REGION'],
    [
      'the token is signed for another host',
      'orders',
      { signingHost: 'orders-replica.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com' },
      'WRONG_HOST',
    ],
  ] as const)('is the outcome when %s, after one retry', async (_why, name, overrides, reason) => {
    const since = new Date().toISOString();

    const result = await check(targetFor(name, overrides));

    expect(result).toMatchObject({ outcome: 'AUTH_REJECTED', passed: false, attempts: 2 });
    expect(result.error?.code).toBe('28000');
    const denied = (await decisions(name, since)).filter(
      (d) => d.decision === 'DENY' && d.user === 'canary_iam',
    );
    expect(denied.map((d) => d.reason)).toEqual([reason, reason]);
  });

  it('passes a reject target that is refused (an explicit Deny), without retrying', async () => {
    const result = await check(targetFor('orders', { user: 'readonly_guard', expect: 'reject' }));

    expect(result).toMatchObject({ outcome: 'AUTH_REJECTED', passed: true, attempts: 1 });
  });

  it('fails a reject target that gets in', async () => {
    const result = await check(targetFor('orders', { expect: 'reject' }));

    expect(result).toMatchObject({ outcome: 'CONNECTED', passed: false, error: null });
  });
});

describe('ASSUME_ROLE_DENIED', () => {
  it('is the outcome when the role’s trust policy refuses session tags', async () => {
    const roles = [{ arn: 'arn:aws:iam::111111111111:role/untagged', sessionTags: { team: 'x' } }];

    const result = await check(targetFor('orders', { roles }));

    expect(result).toMatchObject({ outcome: 'ASSUME_ROLE_DENIED', passed: false, attempts: 1 });
    expect(result.error?.code).toBe('AccessDenied');
    expect(result.error?.message).toContain('untagged');
  });

  it('is the outcome when the ExternalId is wrong', async () => {
    const roles = [{ arn: HUB }, { arn: RDS_CONNECT, externalId: 'not-the-one' }];

    const result = await check(targetFor('payments', { roles }));

    expect(result).toMatchObject({ outcome: 'ASSUME_ROLE_DENIED', passed: false });
    expect(result.error?.code).toBe('AccessDenied');
    expect(result.error?.message).toContain('rds-connect');
  });
});

describe('CREDENTIALS_ERROR', () => {
  it('is the outcome when the credentials provider finds nothing', async () => {
    const nothing = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };

    const result = await check(targetFor('orders'), { credentials: nothing });

    expect(result).toMatchObject({ outcome: 'CREDENTIALS_ERROR', principal: null, attempts: 1 });
    expect(result.error?.code).toBe('CredentialsProviderError');
  });

  it('is the outcome in a process whose environment holds no credentials at all', () => {
    const home = mkdtempSync(join(tmpdir(), 'canary-no-creds-'));
    const target = targetFor('orders');
    const script = [
      "import { runRound } from '#shared/check/run-round.ts';",
      `const report = await runRound([${JSON.stringify(target)}]);`,
      'process.stdout.write(JSON.stringify(report.results[0]));',
    ].join('\n');

    try {
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: process.cwd(),
          encoding: 'utf8',
          timeout: 20_000,
          env: {
            PATH: process.env.PATH,
            HOME: home,
            // Never ask an instance metadata service: it is not on loopback.
            AWS_EC2_METADATA_DISABLED: 'true',
            AWS_CONFIG_FILE: join(home, 'config'),
            AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
            AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL,
          },
        },
      );
      const result = JSON.parse(child.stdout);

      expect(result).toMatchObject({ outcome: 'CREDENTIALS_ERROR', passed: false });
      expect(result.error.code).toBe('CredentialsProviderError');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('network outcomes', () => {
  it('is DNS_ERROR for a host name that does not resolve', async () => {
    const result = await check(targetFor('orders', { host: 'orders-retired.invalid' }));

    expect(result).toMatchObject({ outcome: 'DNS_ERROR', attempts: 1 });
    expect(result.error?.code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
  });

  it.each(['orders', 'ledger'])(
    'is CONNECTION_REFUSED on a closed loopback port (%s)',
    async (name) => {
      const port = await closedPort();

      const result = await check(targetFor(name, { host: '127.0.0.1', port }));

      expect(result).toMatchObject({ outcome: 'CONNECTION_REFUSED', attempts: 1 });
      expect(result.error?.code).toBe('ECONNREFUSED');
    },
  );

  it('is CONNECT_TIMEOUT within the budget when SYNs are dropped (F8)', async () => {
    const dropping = await droppingPort();
    faults.push(dropping);
    const started = performance.now();

    const result = await check(
      targetFor('orders', { host: '127.0.0.1', port: dropping.port, timeoutMs: 1500 }),
    );

    expect(result).toMatchObject({ outcome: 'CONNECT_TIMEOUT', passed: false });
    expect(result.attempts).toBeGreaterThanOrEqual(2);
    expect(performance.now() - started).toBeLessThan(1500 + 250);
  });

  it.each(['orders', 'ledger'])(
    'is CONNECT_TIMEOUT when a server accepts and never speaks (%s)',
    async (name) => {
      const silent = await scriptedServer();
      faults.push(silent);

      const result = await check(
        targetFor(name, { host: '127.0.0.1', port: silent.port, timeoutMs: 1000 }),
      );

      expect(result).toMatchObject({ outcome: 'CONNECT_TIMEOUT', passed: false });
    },
  );

  it('keeps other targets unaffected by a dropping network in the same round (F8)', async () => {
    const dropping = await droppingPort();
    faults.push(dropping);
    const blocked = targetFor('orders', {
      name: 'blocked',
      host: '127.0.0.1',
      port: dropping.port,
      timeoutMs: 1500,
    });

    const report = await runRound([blocked, targetFor('orders'), targetFor('ledger')], {
      sessionCache: new RoleSessionCache(),
      credentials: canaryCredentials,
    });

    expect(report.results.map((r) => r.outcome)).toEqual([
      'CONNECT_TIMEOUT',
      'CONNECTED',
      'CONNECTED',
    ]);
    expect(report.durationMs).toBeLessThan(1500 + 500);
  });
});

describe('TLS_ERROR', () => {
  it.each(['orders', 'ledger'])(
    'is the outcome with a CA that does not match (%s)',
    async (name) => {
      const result = await check(targetFor(name, { tls: { ca: 'rds' } }));

      expect(result).toMatchObject({ outcome: 'TLS_ERROR', attempts: 1 });
      expect(result.error?.code).toMatch(
        /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
      );
    },
  );

  it.each(['orders', 'ledger'])(
    'is the outcome when the certificate does not name the server (%s)',
    async (name) => {
      const result = await check(
        targetFor(name, { tls: { ca: env.caPath, serverName: 'someone-else.example.com' } }),
      );

      expect(result).toMatchObject({ outcome: 'TLS_ERROR' });
      expect(result.error?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    },
  );

  it('never sends the token to a PostgreSQL server that refuses TLS', async () => {
    const server = await postgresWithoutTls();
    faults.push(server);
    let asked = false;

    const result = await check(targetFor('orders', { host: '127.0.0.1', port: server.port }), {
      connect: {
        postgres: (request) =>
          connectPostgres({
            ...request,
            password: () => {
              asked = true;
              return request.password();
            },
          }),
      },
    });

    expect(result).toMatchObject({ outcome: 'TLS_ERROR' });
    expect(asked).toBe(false);
    expect(Buffer.concat(server.received).length).toBe(8); // the SSLRequest alone
  });

  it('never sends the token to a MySQL server that offers no TLS (F1)', async () => {
    const server = await mysqlWithoutTls();
    faults.push(server);
    let token = '';

    const result = await check(targetFor('ledger', { host: '127.0.0.1', port: server.port }), {
      signToken: async (request) => {
        const signed = await signToken(request);
        token = signed.token;
        return signed;
      },
    });

    expect(result).toMatchObject({ outcome: 'TLS_ERROR' });
    expect(result.error?.code).toBe('HANDSHAKE_NO_SSL_SUPPORT');
    expect(token).not.toBe('');
    expect(Buffer.concat(server.received).toString('latin1')).not.toContain('X-Amz');
  });
});

describe('transient AWS failures', () => {
  const chain = [
    { arn: HUB },
    { arn: RDS_CONNECT, externalId: 'canary-7f3a', sessionTags: { team: 'payments' } },
  ];

  afterEach(async () => {
    await sandboxFetch('/faults', {
      method: 'POST',
      body: { service: 'sts', status: 500, count: 0 },
    });
  });

  it('retries an STS 500 and connects', async () => {
    await sandboxFetch('/faults', {
      method: 'POST',
      body: { service: 'sts', status: 500, count: 1 },
    });

    const result = await check(targetFor('payments', { roles: chain }));

    expect(result).toMatchObject({ outcome: 'CONNECTED', passed: true, attempts: 2 });
  });

  it('reports THROTTLED when STS keeps throttling, after the bounded attempts', async () => {
    await sandboxFetch('/faults', {
      method: 'POST',
      body: { service: 'sts', status: 400, count: 20 },
    });

    const result = await check(targetFor('payments', { roles: chain }));

    expect(result).toMatchObject({ outcome: 'THROTTLED', passed: false, attempts: 3 });
    expect(result.error?.code).toBe('Throttling');
  });
});

describe('QUERY_ERROR', () => {
  it.each(['orders', 'ledger'])('is the outcome of a bad query after login (%s)', async (name) => {
    const result = await check(targetFor(name, { query: 'SELECT * FROM no_such_table_here' }));

    expect(result).toMatchObject({ outcome: 'QUERY_ERROR', attempts: 1 });
    expect(result.timings.connectMs).toBeGreaterThan(0);
  });
});

describe('role sessions', () => {
  it('assumes each role of a chain once for all targets of a round', async () => {
    const since = new Date().toISOString();
    const roles = [
      { arn: HUB },
      { arn: RDS_CONNECT, externalId: 'canary-7f3a', sessionTags: { team: 'payments' } },
    ];
    const targets = Array.from({ length: 6 }, (_, i) =>
      targetFor('payments', { name: `payments-${i}`, roles }),
    );
    const sessionCache = new RoleSessionCache();

    const report = await runRound(targets, { sessionCache, credentials: canaryCredentials });
    const again = await runRound(targets, { sessionCache, credentials: canaryCredentials });

    expect(report.results.every((r) => r.outcome === 'CONNECTED')).toBe(true);
    expect(again.results.every((r) => r.outcome === 'CONNECTED')).toBe(true);
    const calls = await assumeRoleCallsSince(since);
    expect(calls.map((c) => c.params.RoleArn)).toEqual([HUB, RDS_CONNECT]);
    expect(sessionCache.assumeRoleCalls).toBe(2);
  });
});

describe('field cases', () => {
  it('F1: mysql2 refuses the clear-password switch without the opt-in, which is a canary defect', async () => {
    const { default: mysql } = await import('mysql2/promise');
    const ledger = instance('ledger');
    const { token } = await signToken({
      hostname: ledger.host,
      port: ledger.port,
      region: ledger.region,
      username: 'canary_iam',
      credentials: await canaryCredentials(),
    });

    const error = await mysql
      .createConnection({
        host: ledger.host,
        port: ledger.port,
        user: 'canary_iam',
        password: token,
        ssl: { ca: (await import('node:fs')).readFileSync(env.caPath, 'utf8') },
      })
      .then(async (connection) => {
        await connection.end();
        return null;
      })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' });
    expect(classifyFailure(Object.assign(error as Error, { phase: 'connect' })).outcome).toBe(
      'CANARY_ERROR',
    );
  });

  it('F3: every attempt, retries included, signs a fresh token used within seconds', async () => {
    const since = new Date().toISOString();
    const signedAt: number[] = [];

    const result = await check(targetFor('legacy'), {
      signToken: async (request) => {
        const signed = await signToken(request);
        signedAt.push(signed.signedAt);
        return signed;
      },
    });

    expect(result.attempts).toBe(2);
    expect(signedAt).toHaveLength(2);
    expect(result.tokenAgeSeconds).toBeLessThan(2);
    const seen = await decisions('legacy', since);
    expect(seen).toHaveLength(2);
    for (const d of seen)
      expect((d as { tokenAgeSeconds?: number }).tokenAgeSeconds).toBeLessThan(2);
  });

  describe('F7: IAM authentication throttled', () => {
    afterEach(async () => {
      await sandboxFetch('/instances/orders', {
        method: 'PATCH',
        body: { maxIamConnectionsPerSecond: null },
      });
    });

    // A session name of this test's own, so that other clients of the shared sandbox do not
    // count: the `untagged` role may connect to orders.
    const sessionName = `f7-${process.pid}-${Date.now()}`;
    const roles = [{ arn: 'arn:aws:iam::111111111111:role/untagged', sessionName }];
    const burst = (n: number) =>
      Array.from({ length: n }, (_, i) => targetFor('orders', { name: `orders-${i}`, roles }));
    const throttledSince = async (since: string) =>
      (await decisions('orders', since)).filter(
        (d) => d.reason === 'THROTTLED' && d.principal?.endsWith(`/${sessionName}`),
      );

    it('stays under the instance’s limit with its own per-endpoint rate limit', async () => {
      await sandboxFetch('/instances/orders', {
        method: 'PATCH',
        body: { maxIamConnectionsPerSecond: 3 },
      });
      const since = new Date().toISOString();

      const report = await runRound(burst(6), {
        sessionCache: new RoleSessionCache(),
        credentials: canaryCredentials,
        perEndpointConnectionsPerSecond: 2,
      });

      expect(report.results.map((r) => r.outcome)).toEqual(Array(6).fill('CONNECTED'));
      expect(await throttledSince(since)).toHaveLength(0);
    });

    it('retries a throttled login with a fresh token; the server says 28000, so it reads as a rejection', async () => {
      await sandboxFetch('/instances/orders', {
        method: 'PATCH',
        body: { maxIamConnectionsPerSecond: 1 },
      });
      const since = new Date().toISOString();

      const report = await runRound(burst(3), {
        sessionCache: new RoleSessionCache(),
        credentials: canaryCredentials,
        perEndpointConnectionsPerSecond: 100,
      });

      expect((await throttledSince(since)).length).toBeGreaterThan(0);
      const refused = report.results.filter((r) => r.outcome !== 'CONNECTED');
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) {
        // Only the decision log (issue: diagnosis) can tell throttling from other rejections.
        expect(r).toMatchObject({ outcome: 'AUTH_REJECTED', attempts: 2 });
      }
    });
  });
});
