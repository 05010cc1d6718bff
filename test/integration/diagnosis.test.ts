/**
 * Diagnosis against the sandbox: each failure arranged for real (servers verifying tokens,
 * the local AWS endpoints), the check run with runCheck, its failed result and context fed to
 * diagnoseFailure (through createDiagnoser, the hook run-check calls), the top cause asserted.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FailedCheckContext, RunCheckOptions } from '#shared/check/run-check.ts';
import { runCheck } from '#shared/check/run-check.ts';
import { runDiagnose } from '#shared/cli/diagnose-command.ts';
import {
  type CredentialsProvider,
  RoleSessionCache,
} from '#shared/credentials/assume-role-chain.ts';
import { createDiagnoser, diagnoseFailure } from '#shared/diagnose/diagnose-failure.ts';
import type { CheckResult, Finding, ResolvedTarget } from '#shared/report/types.ts';
import type { SignTokenRequest } from '#shared/token/sign-token.ts';
import { droppingPort, type FaultServer } from '../support/network-faults.ts';
import {
  instance,
  mintCredentials,
  readSandboxEnv,
  sandboxFetch,
  sandboxTarget,
} from '../support/sandbox.ts';

const HUB = 'arn:aws:iam::111111111111:role/canary-hub';
const RDS_CONNECT = 'arn:aws:iam::222222222222:role/rds-connect';
const UNTAGGED = 'arn:aws:iam::111111111111:role/untagged';
const WRONG_RESOURCE = 'arn:aws:iam::111111111111:role/wrong-resource';
const AWS_KEYS = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];

const env = readSandboxEnv();
const savedEnv: Record<string, string | undefined> = {};
const restore: (() => Promise<unknown>)[] = [];

const canaryCredentials: CredentialsProvider = async () => ({
  accessKeyId: env.AWS_ACCESS_KEY_ID,
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
});

/** A target for a sandbox instance, every default applied, with overrides. */
function targetFor(name: string, overrides: Partial<ResolvedTarget> = {}): ResolvedTarget {
  return sandboxTarget(name, `${name}-diagnosis`, { timeoutMs: 6000, ...overrides });
}

/** Runs the check with the diagnosis hook run-check calls, as the round wires it. */
function diagnosedCheck(
  target: ResolvedTarget,
  options: Partial<RunCheckOptions> & { awsCredentials?: CredentialsProvider | false } = {},
): Promise<CheckResult> {
  const { awsCredentials, ...rest } = options;
  return runCheck(target, {
    sessionCache: new RoleSessionCache(),
    credentials: canaryCredentials,
    diagnose: createDiagnoser({ awsCredentials: awsCredentials ?? canaryCredentials }),
    ...rest,
  });
}

function top(result: CheckResult): Finding {
  expect(result.diagnosis.length).toBeGreaterThan(0);
  return result.diagnosis[0]!;
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
  for (const undo of restore.splice(0)) await undo();
});

describe('field cases', () => {
  it('names the issuer of an untrusted server certificate (F2)', async () => {
    const result = await diagnosedCheck(targetFor('orders', { tls: { ca: 'rds' } }));

    expect(result.outcome).toBe('TLS_ERROR');
    expect(top(result)).toMatchObject({ cause: 'TLS_UNTRUSTED', confidence: 'certain' });
    expect(top(result).evidence).toMatch(/issued by "CN=[^"]+"/);
  });

  it('names the issuer for MySQL too (F2)', async () => {
    const result = await diagnosedCheck(targetFor('ledger', { tls: { ca: 'rds' } }));

    expect(result.outcome).toBe('TLS_ERROR');
    expect(top(result)).toMatchObject({ cause: 'TLS_UNTRUSTED', confidence: 'certain' });
    expect(top(result).evidence).toMatch(/issued by "CN=[^"]+"/);
  });

  it('gives the grant for a PostgreSQL user outside rds_iam (F4)', async () => {
    const result = await diagnosedCheck(targetFor('orders', { user: 'app_password' }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    // The server answers a missing user alike, so the evidence makes it likely, not certain.
    expect(top(result)).toMatchObject({ cause: 'USER_NOT_IAM_ENABLED', confidence: 'likely' });
    expect(top(result).fix).toContain('GRANT rds_iam TO "app_password";');
  });

  it('gives the ALTER USER for a MySQL user with a password plugin (F4)', async () => {
    const result = await diagnosedCheck(targetFor('ledger', { user: 'app_password' }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result)).toMatchObject({ cause: 'USER_NOT_IAM_ENABLED', confidence: 'likely' });
    expect(top(result).fix).toContain(
      "ALTER USER 'app_password'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';",
    );
  });

  it('shows the ARN in the policy and the ARN that works (F5)', async () => {
    const result = await diagnosedCheck(targetFor('orders', { roles: [{ arn: WRONG_RESOURCE }] }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result)).toMatchObject({ cause: 'RESOURCE_ARN_MISMATCH', confidence: 'certain' });
    expect(top(result).evidence).toContain(
      'arn:aws:rds-db:eu-west-1:111111111111:dbuser:orders-primary/canary_iam',
    );
    expect(top(result).fix).toContain(
      'arn:aws:rds-db:eu-west-1:111111111111:dbuser:db-ORDERS0PRIMARY000000000001/canary_iam',
    );
  });

  it('names the principal that signed without permission (F6)', async () => {
    const payments = instance('payments');
    const target = targetFor('payments', {
      roles: [{ arn: HUB }],
      accountId: payments.account,
      resourceId: payments.resourceId,
    });

    const result = await diagnosedCheck(target);

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result).cause).toBe('POLICY_DENIES_CONNECT');
    expect(top(result).evidence).toContain('assumed-role/canary-hub/');
  });

  it('tells a network that drops packets from a rejection (F8)', async () => {
    const dropping: FaultServer = await droppingPort();
    restore.push(() => dropping.close());
    const orders = instance('orders');
    const target = targetFor('orders', {
      host: '127.0.0.1',
      port: dropping.port,
      signingHost: orders.host,
      signingPort: orders.port,
      timeoutMs: 1500,
    });

    const result = await diagnosedCheck(target);

    expect(result.outcome).toBe('CONNECT_TIMEOUT');
    expect(top(result).cause).toBe('NETWORK_BLOCKED');
  });

  it('shows both regions for a token signed in another region (F9)', async () => {
    const result = await diagnosedCheck(targetFor('orders', { region: 'us-east-1' }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result)).toMatchObject({ cause: 'REGION_MISMATCH', confidence: 'certain' });
    expect(top(result).evidence).toContain('us-east-1');
    expect(top(result).evidence).toContain('eu-west-1');
  });
});

describe('every cause the sandbox can produce', () => {
  it('finds the explicit Deny', async () => {
    const result = await diagnosedCheck(targetFor('orders', { user: 'readonly_guard' }));

    expect(top(result)).toMatchObject({ cause: 'EXPLICIT_DENY', confidence: 'certain' });
  });

  it('finds the organization policy', async () => {
    const result = await diagnosedCheck(targetFor('orders', { user: 'blocked_by_org' }));

    expect(top(result)).toMatchObject({ cause: 'ORG_POLICY_DENY', confidence: 'certain' });
  });

  it('finds IAM authentication off on the instance', async () => {
    const result = await diagnosedCheck(targetFor('legacy'));

    expect(top(result)).toMatchObject({ cause: 'IAM_AUTH_DISABLED', confidence: 'certain' });
    expect(top(result).fix).toContain('--enable-iam-database-authentication');
  });

  it('finds the trust policy refusing a wrong ExternalId', async () => {
    const roles = [{ arn: HUB }, { arn: RDS_CONNECT, externalId: 'not-the-one' }];

    const result = await diagnosedCheck(targetFor('payments', { roles }));

    expect(result.outcome).toBe('ASSUME_ROLE_DENIED');
    expect(top(result).cause).toBe('TRUST_POLICY_DENIES');
    expect(top(result).fix).toContain(RDS_CONNECT);
  });

  it('finds session tags refused by the trust policy', async () => {
    const roles = [{ arn: UNTAGGED, sessionTags: { team: 'x' } }];

    const result = await diagnosedCheck(targetFor('orders', { roles }));

    expect(result.outcome).toBe('ASSUME_ROLE_DENIED');
    expect(top(result)).toMatchObject({ cause: 'TAG_SESSION_DENIED', confidence: 'certain' });
    // The result's principal is null (no role session was had); the finding says who asked.
    expect(result.principal).toBeNull();
    expect(top(result).evidence).toContain(
      `arn:aws:iam::111111111111:user/canary was refused sts:TagSession on ${UNTAGGED}`,
    );
  });

  // Right after tests with no login to orders as canary_iam: the auth-error log cannot tell
  // one connection's line from another's, only their times.
  it('finds throttling in the auth-error log', async () => {
    await sandboxFetch('/instances/orders', {
      method: 'PATCH',
      body: { maxIamConnectionsPerSecond: 1 },
    });
    restore.push(() =>
      sandboxFetch('/instances/orders', {
        method: 'PATCH',
        body: { maxIamConnectionsPerSecond: null },
      }),
    );
    const target = targetFor('orders');
    // Two logins in the same second: the second is throttled.
    await Promise.all([
      diagnosedCheck(target, { maxAttempts: 1 }),
      diagnosedCheck(target, { maxAttempts: 1 }),
    ]).then((results) => {
      const throttled = results.find((r) => r.outcome === 'AUTH_REJECTED');
      expect(throttled).toBeDefined();
      expect(top(throttled!)).toMatchObject({ cause: 'THROTTLING', confidence: 'certain' });
    });
  });

  it('finds the permissions boundary', async () => {
    await sandboxFetch('/principals', {
      method: 'PATCH',
      body: { arn: UNTAGGED, boundary: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] },
    });
    restore.push(() =>
      sandboxFetch('/principals', { method: 'PATCH', body: { arn: UNTAGGED, boundary: null } }),
    );

    const result = await diagnosedCheck(targetFor('orders', { roles: [{ arn: UNTAGGED }] }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result)).toMatchObject({ cause: 'BOUNDARY_DENY', confidence: 'certain' });
  });

  it('finds a token used past its life', async () => {
    const result = await diagnosedCheck(targetFor('orders'), { signToken: signTwentyMinutesAgo });

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result)).toMatchObject({ cause: 'TOKEN_EXPIRED', confidence: 'certain' });
  });

  it('finds credentials that expired before the token was used', async () => {
    const expired = await mintCredentials('arn:aws:iam::111111111111:user/canary', -10);
    const credentials: CredentialsProvider = async () => ({
      accessKeyId: expired.accessKeyId,
      secretAccessKey: expired.secretAccessKey,
      sessionToken: expired.sessionToken,
      expiration: new Date(expired.expiration),
    });

    const result = await diagnosedCheck(targetFor('orders'), { credentials });

    expect(result.outcome).toBe('AUTH_REJECTED');
    expect(top(result)).toMatchObject({ cause: 'CREDENTIALS_EXPIRED', confidence: 'certain' });
  });

  it('finds a token signed for another host', async () => {
    const signingHost = 'orders-replica.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com';

    const result = await diagnosedCheck(targetFor('orders', { signingHost }));

    expect(top(result)).toMatchObject({ cause: 'SIGNING_HOST_MISMATCH', confidence: 'certain' });
  });

  it('finds the port RDS describes when the configured one refuses connections', async () => {
    const result = await diagnosedCheck(targetFor('orders', { port: 15439, signingPort: 15432 }));

    expect(result.outcome).toBe('CONNECTION_REFUSED');
    expect(top(result)).toMatchObject({ cause: 'PORT_MISMATCH', confidence: 'certain' });
    expect(top(result).fix).toContain('15432');
  });

  it('finds a token signed for another port', async () => {
    const result = await diagnosedCheck(targetFor('orders', { signingPort: 5432 }));

    expect(top(result)).toMatchObject({ cause: 'PORT_MISMATCH', confidence: 'certain' });
  });
});

describe('reject guards', () => {
  it('says which Allow let a guard in', async () => {
    const target = targetFor('orders', { expect: 'reject' });

    const result = await diagnosedCheck(target);

    expect(result).toMatchObject({ outcome: 'CONNECTED', passed: false, error: null });
    expect(top(result).cause).toBe('UNKNOWN');
    expect(top(result).evidence).toContain('the Allow that let it in: user/canary');
    expect(top(result).evidence).toContain('allowed');
    expect(top(result).fix).toContain(
      'arn:aws:rds-db:eu-west-1:111111111111:dbuser:db-ORDERS0PRIMARY000000000001/canary_iam',
    );
  });
});

describe('failures outside IAM', () => {
  it('reads a database that does not exist by its code, not as the network', async () => {
    const result = await diagnosedCheck(targetFor('orders', { database: 'no_such_database' }));

    expect(result.outcome).toBe('DATABASE_ERROR');
    expect(top(result)).toMatchObject({ cause: 'UNKNOWN', confidence: 'certain' });
    expect(top(result).evidence).toContain('3D000');
    expect(top(result).fix).toContain('`database`');
  });

  it('reads a MySQL database that does not exist by its errno', async () => {
    const result = await diagnosedCheck(targetFor('ledger', { database: 'no_such_database' }));

    // MySQL answers 1044 (not 1049) to a user without rights on a missing database.
    expect(result.outcome).toBe('DATABASE_ERROR');
    expect(top(result)).toMatchObject({ cause: 'UNKNOWN', confidence: 'certain' });
    expect(top(result).evidence).toContain('1044');
    expect(top(result).fix).toContain('`database`');
  });

  it('says the login worked when the query fails', async () => {
    const result = await diagnosedCheck(
      targetFor('orders', { query: 'SELECT * FROM no_such_table' }),
    );

    expect(result.outcome).toBe('QUERY_ERROR');
    expect(top(result)).toMatchObject({ cause: 'UNKNOWN', confidence: 'likely' });
    expect(top(result).evidence).toContain('42P01');
    expect(top(result).evidence).toContain('login succeeded');
  });

  it('says a PostgreSQL user that may not exist is likely, not certainly, not IAM-enabled', async () => {
    const result = await diagnosedCheck(targetFor('orders', { user: 'no_such_user' }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    // The simulator may be certain that no policy allows this user: that does not contradict.
    const user = result.diagnosis.find((f) => f.cause === 'USER_NOT_IAM_ENABLED');
    expect(user?.confidence).toBe('likely');
    expect(user?.fix).toContain('CREATE USER');
  });

  it('says a MySQL user that may not exist is likely, not certainly, not IAM-enabled', async () => {
    const result = await diagnosedCheck(targetFor('ledger', { user: 'no_such_user' }));

    expect(result.outcome).toBe('AUTH_REJECTED');
    // The simulator may be certain that no policy allows this user: that does not contradict.
    const user = result.diagnosis.find((f) => f.cause === 'USER_NOT_IAM_ENABLED');
    expect(user?.confidence).toBe('likely');
    expect(user?.fix).toContain('CREATE USER');
  });

  it('says the server answered when a MySQL client meets a PostgreSQL port', async () => {
    const target = targetFor('orders', { engine: 'mysql', timeoutMs: 1500 });

    const result = await diagnosedCheck(target, { maxAttempts: 1 });

    expect(['CONNECT_TIMEOUT', 'DATABASE_ERROR', 'TLS_ERROR']).toContain(result.outcome);
    expect(top(result)).toMatchObject({ cause: 'PORT_MISMATCH', confidence: 'likely' });
    expect(top(result).evidence).toContain('accepted TCP');
    expect(top(result).fix).toContain('engine: postgres');
  });

  it('names a MySQL server when a PostgreSQL client meets a MySQL port', async () => {
    const target = targetFor('ledger', { engine: 'postgres', timeoutMs: 1500 });

    const result = await diagnosedCheck(target, { maxAttempts: 1 });

    expect(result.outcome).toBe('TLS_ERROR');
    expect(top(result)).toMatchObject({ cause: 'PORT_MISMATCH', confidence: 'certain' });
    expect(result.diagnosis.map((f) => f.cause)).not.toContain('TLS_REQUIRED');
    expect(top(result).fix).toContain('engine: mysql');
    expect(top(result).evidence).not.toMatch(/\d\.\d+ ms/);
  });
});

describe('degradation', () => {
  it('still names a cause without the optional permissions, and which would sharpen it', async () => {
    const hub = await mintCredentials(HUB);
    const hubCredentials: CredentialsProvider = async () => ({
      accessKeyId: hub.accessKeyId,
      secretAccessKey: hub.secretAccessKey,
      sessionToken: hub.sessionToken,
      expiration: new Date(hub.expiration),
    });

    const result = await diagnosedCheck(targetFor('orders', { region: 'us-east-1' }), {
      awsCredentials: hubCredentials,
    });

    expect(top(result)).toMatchObject({ cause: 'REGION_MISMATCH', confidence: 'certain' });
    expect(top(result).evidence).toContain('rds:DescribeDBInstances');
    expect(top(result).evidence).toContain('logs:FilterLogEvents');
  });

  it('names the simulator permission when it cannot ask it', async () => {
    const hub = await mintCredentials(HUB);
    const hubCredentials: CredentialsProvider = async () => ({
      accessKeyId: hub.accessKeyId,
      secretAccessKey: hub.secretAccessKey,
      sessionToken: hub.sessionToken,
    });
    const target = targetFor('orders', {
      user: 'readonly_guard',
      resourceId: instance('orders').resourceId,
      accountId: instance('orders').account,
    });

    const result = await diagnosedCheck(target, { awsCredentials: hubCredentials });

    expect(result.diagnosis.length).toBeGreaterThan(0);
    expect(top(result).evidence).toContain('iam:SimulatePrincipalPolicy');
  });

  it('returns what it knows within 2 s when AWS does not answer', async () => {
    const target = targetFor('orders', { region: 'us-east-1' });
    const failed = await diagnosedCheck(target, { awsCredentials: false, maxAttempts: 1 });
    const blackhole = await droppingPort();
    const endpoint = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${blackhole.port}`;
    restore.push(async () => {
      process.env.AWS_ENDPOINT_URL = endpoint;
      await blackhole.close();
    });
    const started = performance.now();

    const diagnosis = await diagnoseFailure({
      target,
      result: failed,
      error: null,
      token: {
        signedAt: Date.now(),
        accessKeyId: 'AKIA',
        hadSessionToken: false,
        credentialsExpiration: undefined,
      },
      signal: new AbortController().signal,
      awsCredentials: canaryCredentials,
    });

    expect(performance.now() - started).toBeLessThan(2000);
    expect(diagnosis[0]).toMatchObject({ cause: 'REGION_MISMATCH', confidence: 'certain' });
  });

  it('does no AWS look-up when told not to', async () => {
    const result = await diagnosedCheck(targetFor('orders', { region: 'us-east-1' }), {
      awsCredentials: false,
    });

    expect(top(result)).toMatchObject({ cause: 'REGION_MISMATCH', confidence: 'certain' });
    expect(top(result).evidence).not.toContain('not checked');
    expect(top(result).evidence).not.toContain('auth-error log');
  });
});

describe('diagnoseFailure', () => {
  it('does no work for a passing check', async () => {
    let context: FailedCheckContext | undefined;
    const result = await runCheck(targetFor('orders'), {
      sessionCache: new RoleSessionCache(),
      credentials: canaryCredentials,
      diagnose: async (c) => {
        context = c;
        return [];
      },
    });

    expect(result.passed).toBe(true);
    expect(context).toBeUndefined();
    expect(
      await diagnoseFailure({
        target: targetFor('orders'),
        result,
        error: null,
        token: null,
        signal: new AbortController().signal,
      }),
    ).toEqual([]);
  });
});

describe('diagnose command', () => {
  it('prints every finding of one target in full and exits 1', async () => {
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await runDiagnose([
        '--target',
        'legacy-primary',
        '--config',
        'sandbox/canary.sandbox.yaml',
        '--json',
      ]);
    } finally {
      write.mockRestore();
    }

    expect(code).toBe(1);
    const printed = JSON.parse(out.join('')) as CheckResult;
    expect(printed.diagnosis[0]).toMatchObject({
      cause: 'IAM_AUTH_DISABLED',
      confidence: 'certain',
    });
  });
});

/** A real token for the request, signed as if 20 minutes ago (a token reused past its life). */
async function signTwentyMinutesAgo(request: SignTokenRequest) {
  const signedAt = Date.now() - 20 * 60_000;
  const signer = new SignatureV4({
    service: 'rds-db',
    region: request.region,
    sha256: Sha256,
    credentials: request.credentials,
  });
  const presigned = await signer.presign(
    new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: request.hostname,
      port: request.port,
      path: '/',
      query: { Action: 'connect', DBUser: request.username },
      headers: { host: `${request.hostname}:${request.port}` },
    }),
    { expiresIn: 900, signingDate: new Date(signedAt) },
  );
  const query = Object.entries(presigned.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return { token: `${request.hostname}:${request.port}/?${query}`, signedAt };
}
