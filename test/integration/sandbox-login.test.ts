import { connect } from 'node:net';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { loadFixture } from '#sandbox/fixture-schema.ts';
import { processCommandLine, readPidFile } from '#sandbox/servers/processes.ts';
import { statePaths } from '#sandbox/servers/state-paths.ts';
import {
  canaryCredentials,
  type LoginOptions,
  type LoginResult,
  login,
  loginMysql,
  presignToken,
  type SigningCredentials,
  signToken,
  tamperSignature,
} from '../support/iam-login.ts';
import {
  decisionsSince,
  instance,
  mintCredentials,
  readSandboxEnv,
  type SandboxInstance,
  sandboxCa,
  sandboxFetch,
} from '../support/sandbox.ts';

const CANARY_USER = 'arn:aws:iam::111111111111:user/canary';
const UNTAGGED_ROLE = 'arn:aws:iam::111111111111:role/untagged';
const WRONG_RESOURCE_ROLE = 'arn:aws:iam::111111111111:role/wrong-resource';
const HUB_ROLE = 'arn:aws:iam::111111111111:role/canary-hub';
const TARGET_ROLE = 'arn:aws:iam::222222222222:role/rds-connect';

afterEach(async () => {
  // Every test that patches the world (policies, instance settings) is undone here.
  await sandboxFetch('/reset', { method: 'POST' });
});

/** Asserts the engine's refusal and returns the verifier's decision for that login. */
async function expectRefused(
  target: SandboxInstance,
  user: string,
  token: string,
  reason: string,
  options: LoginOptions = {},
) {
  const since = new Date().toISOString();

  const result = await login(target, user, token, options);

  expectEngineRefusal(target, result);
  const decision = (await decisionsSince(target.name, since)).filter((d) => d.user === user).at(-1);
  expect(decision).toMatchObject({ decision: 'DENY', reason });
  return decision!;
}

function expectEngineRefusal(target: SandboxInstance, result: LoginResult) {
  expect(result.ok, 'the login should be refused').toBe(false);
  if (target.engine === 'postgres') expect(result.code).toBe('28000');
  else expect(result.errno).toBe(1045);
}

function expectLoggedIn(result: LoginResult) {
  expect(result.error?.message ?? 'ok').toBe('ok');
  expect(result.ok).toBe(true);
}

async function assumeRole(
  roleArn: string,
  credentials: SigningCredentials,
  extra: { ExternalId?: string; Tags?: { Key: string; Value: string }[] } = {},
): Promise<SigningCredentials> {
  const env = readSandboxEnv();
  const sts = new STSClient({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    credentials,
  });
  try {
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'sandbox-login-test', ...extra }),
    );
    return {
      accessKeyId: Credentials!.AccessKeyId!,
      secretAccessKey: Credentials!.SecretAccessKey!,
      sessionToken: Credentials!.SessionToken!,
    };
  } finally {
    sts.destroy();
  }
}

/** Replaces a fixture principal's identity policies through the admin API. */
async function setPolicies(arn: string, policies: unknown[]) {
  await sandboxFetch('/principals', { method: 'PATCH', body: { arn, policies } });
}

function fixturePolicies(arn: string): unknown[] {
  const fixture = loadFixture(statePaths(readSandboxEnv().stateDir).fixture);
  const principal = [...fixture.users, ...fixture.roles].find((p) => p.arn === arn);
  if (!principal) throw new Error(`the fixture has no principal ${arn}`);
  return principal.policies;
}

function connectArn(target: SandboxInstance, user: string): string {
  return `arn:aws:rds-db:${target.region}:${target.account}:dbuser:${target.resourceId}/${user}`;
}

describe.each(['orders', 'ledger'])('IAM login on %s', (name) => {
  const target = () => instance(name);

  it('logs in with a token signed by the canary user', async () => {
    const token = await signToken(target(), { user: 'canary_iam' });

    const result = await login(target(), 'canary_iam', token);

    expectLoggedIn(result);
  });

  it('logs in with a token signed by role-session credentials from STS', async () => {
    await setPolicies(UNTAGGED_ROLE, [
      { Effect: 'Allow', Action: 'rds-db:connect', Resource: connectArn(target(), 'canary_iam') },
    ]);
    const session = await assumeRole(UNTAGGED_ROLE, canaryCredentials());
    const token = await signToken(target(), { user: 'canary_iam' }, session);
    const since = new Date().toISOString();

    const result = await login(target(), 'canary_iam', token);

    expectLoggedIn(result);
    expect(session.sessionToken!.length).toBeGreaterThanOrEqual(1500);
    expect(token.length).toBeGreaterThanOrEqual(1500);
    const [decision] = await decisionsSince(target().name, since);
    expect(decision).toMatchObject({ decision: 'ALLOW', tokenLength: token.length });
    expect(decision!.principal).toMatch(/^arn:aws:sts::111111111111:assumed-role\/untagged\//);
  });

  it('refuses a token older than 15 minutes', async () => {
    const token = await presignToken(target(), 'canary_iam', new Date(Date.now() - 20 * 60_000));

    await expectRefused(target(), 'canary_iam', token, 'TOKEN_EXPIRED');
  });

  it('refuses a fresh token signed by credentials that have expired', async () => {
    const expired = await mintCredentials(CANARY_USER, -10);
    const token = await signToken(target(), { user: 'canary_iam' }, expired);

    await expectRefused(target(), 'canary_iam', token, 'CREDENTIALS_EXPIRED');
  });

  it('refuses a token signed for another region', async () => {
    const token = await signToken(target(), { user: 'canary_iam', region: 'us-west-2' });

    const decision = await expectRefused(target(), 'canary_iam', token, 'WRONG_REGION');

    expect(decision.region).toBe('us-west-2');
  });

  it('refuses a token signed for another host name', async () => {
    const token = await signToken(target(), {
      user: 'canary_iam',
      hostname: 'db.example.internal',
    });

    await expectRefused(target(), 'canary_iam', token, 'WRONG_HOST');
  });

  it('refuses a token signed for another port', async () => {
    const token = await signToken(target(), { user: 'canary_iam', port: target().port + 1 });

    await expectRefused(target(), 'canary_iam', token, 'WRONG_PORT');
  });

  it('refuses a token signed for another database user', async () => {
    const token = await signToken(target(), { user: 'someone_else' });

    await expectRefused(target(), 'canary_iam', token, 'WRONG_USER');
  });

  it('refuses a token whose signature was altered', async () => {
    const token = tamperSignature(await signToken(target(), { user: 'canary_iam' }));

    await expectRefused(target(), 'canary_iam', token, 'BAD_SIGNATURE');
  });

  it('refuses a principal that no policy allows to connect', async () => {
    const credentials = await mintCredentials(WRONG_RESOURCE_ROLE);
    const token = await signToken(target(), { user: 'canary_iam' }, credentials);

    const decision = await expectRefused(target(), 'canary_iam', token, 'NOT_AUTHORIZED');

    expect(decision.principal).toMatch(/assumed-role\/wrong-resource\//);
    expect(decision.resource).toBe(connectArn(target(), 'canary_iam'));
  });

  it('refuses an explicit deny in the signer’s policies', async () => {
    await setPolicies(CANARY_USER, [
      ...fixturePolicies(CANARY_USER),
      { Effect: 'Deny', Action: 'rds-db:connect', Resource: connectArn(target(), 'canary_iam') },
    ]);
    const token = await signToken(target(), { user: 'canary_iam' });

    await expectRefused(target(), 'canary_iam', token, 'EXPLICIT_DENY');
  });

  it('refuses logins while IAM authentication is disabled on the instance', async () => {
    await sandboxFetch(`/instances/${name}`, { method: 'PATCH', body: { iamAuth: false } });
    const token = await signToken(target(), { user: 'canary_iam' });

    await expectRefused(target(), 'canary_iam', token, 'IAM_AUTH_DISABLED');
  });

  it('throttles new IAM connections over the instance limit', async () => {
    await sandboxFetch(`/instances/${name}`, {
      method: 'PATCH',
      body: { maxIamConnectionsPerSecond: 1 },
    });
    const tokens = await Promise.all(
      [1, 2, 3].map(() => signToken(target(), { user: 'canary_iam' })),
    );
    const since = new Date().toISOString();

    const results = await Promise.all(tokens.map((t) => login(target(), 'canary_iam', t)));

    const refused = results.filter((r) => !r.ok);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const result of refused) expectEngineRefusal(target(), result);
    const reasons = (await decisionsSince(name, since)).map((d) => d.reason);
    expect(reasons).toContain('THROTTLED');
  });

  it('still lets a password user log in with its password', async () => {
    const result = await login(target(), 'app_password', 'sandbox-app-password');

    expectLoggedIn(result);
  });
});

describe('IAM login on PostgreSQL only', () => {
  it('refuses a user that an explicit deny in the fixture guards', async () => {
    const token = await signToken(instance('orders'), { user: 'readonly_guard' });

    await expectRefused(instance('orders'), 'readonly_guard', token, 'EXPLICIT_DENY');
  });

  it('refuses a user that the organization deny list forbids', async () => {
    const token = await signToken(instance('orders'), { user: 'blocked_by_org' });

    await expectRefused(instance('orders'), 'blocked_by_org', token, 'ORG_DENY');
  });

  it('refuses IAM logins on an instance created with IAM authentication off', async () => {
    const token = await signToken(instance('legacy'), { user: 'canary_iam' });

    await expectRefused(instance('legacy'), 'canary_iam', token, 'IAM_AUTH_DISABLED');
  });

  it('refuses an IAM user on a connection without TLS', async () => {
    // Not a token: nothing secret crosses the plain connection; the verifier refuses first.
    await expectRefused(instance('orders'), 'canary_iam', 'not-a-token', 'NO_TLS', { tls: false });
  });

  it('logs in across accounts through a role chain with ExternalId and session tags', async () => {
    const hub = await assumeRole(HUB_ROLE, canaryCredentials(), {
      Tags: [{ Key: 'team', Value: 'canary' }],
    });
    const target = await assumeRole(TARGET_ROLE, hub, { ExternalId: 'canary-7f3a' });
    const token = await signToken(instance('payments'), { user: 'canary_iam' }, target);

    const result = await login(instance('payments'), 'canary_iam', token);

    expectLoggedIn(result);
  });
});

describe('IAM login on MariaDB without TLS', () => {
  it('keeps the driver from sending a token in clear text', async () => {
    const token = await signToken(instance('ledger'), { user: 'canary_iam' });

    const result = await login(instance('ledger'), 'canary_iam', token, { tls: false });

    expect(result.ok).toBe(false);
    expect(result.code).toBe('MYSQL_CLEAR_PASSWORD_NOT_ENABLED');
  });

  it('refuses the login on the server: IAM users require SSL', async () => {
    const ledger = instance('ledger');

    const result = await loginMysql(ledger, 'canary_iam', 'not-a-token', {
      tls: false,
      forceCleartext: true,
    });

    expectEngineRefusal(ledger, result);
    expect(await mysqlSslType(ledger, 'canary_iam')).toBe('ANY');
  });
});

async function mysqlSslType(target: SandboxInstance, user: string): Promise<string> {
  const admin = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: 'sandbox_admin',
    password: target.adminPassword,
    ssl: { ca: sandboxCa() },
  });
  try {
    const [rows] = await admin.query('SELECT ssl_type FROM mysql.user WHERE User = ?', [user]);
    return (rows as { ssl_type: string }[])[0]!.ssl_type;
  } finally {
    await admin.end();
  }
}

describe('the system servers', () => {
  it.each([
    ['PostgreSQL', 5432, '/run/postgresql/15-main.pid'],
    ['MariaDB', 3306, '/run/mysqld/mysqld.pid'],
  ])('keeps the system %s on port %i running, outside the sandbox', async (_, port, pidFile) => {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });

    expect(listening).toBe(true);
    const pid = readPidFile(pidFile);
    expect(pid).toBeDefined();
    expect(processCommandLine(pid!)).toBeDefined();
    expect(processCommandLine(pid!)).not.toContain(readSandboxEnv().stateDir);
  });
});
