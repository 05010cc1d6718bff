import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  type EvaluationResult,
  IAMClient,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBProxiesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { Signer } from '@aws-sdk/rds-signer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deriveUserKeys } from '#sandbox/daemon/credentials.ts';
import { type RunningDaemon, startDaemon } from '#sandbox/daemon/daemon.ts';
import { type Fixture, parseFixture } from '#sandbox/fixture-schema.ts';
import { tamperSignature } from '../support/iam-login.ts';

/**
 * The AWS calls diagnosis makes (RDS Describe*, IAM SimulatePrincipalPolicy, CloudWatch
 * Logs FilterLogEvents), answered by an in-process sandbox daemon on the default fixture
 * and spoken to by the real SDK clients. The fixture gains one user in account 222 that
 * may simulate there, since IAM only simulates principals of the caller's own account.
 */

const REGION = 'eu-west-1';
const CANARY = 'arn:aws:iam::111111111111:user/canary';
const HUB = 'arn:aws:iam::111111111111:role/canary-hub';
const WRONG_RESOURCE = 'arn:aws:iam::111111111111:role/wrong-resource';
const RDS_CONNECT = 'arn:aws:iam::222222222222:role/rds-connect';
const AUDITOR = 'arn:aws:iam::222222222222:user/auditor';
const ORDERS = {
  name: 'orders',
  identifier: 'orders-primary',
  host: 'orders-primary.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com',
  port: 15432,
  region: REGION,
  resourceId: 'db-ORDERS0PRIMARY000000000001',
};
const PAYMENTS = {
  name: 'payments',
  host: 'payments-primary.c9z8y7x6w5v4.us-east-1.rds.amazonaws.com',
  port: 15433,
  region: 'us-east-1',
  resourceId: 'db-PAYMENTS0PRIMARY0000000001',
};
const ORDERS_LOG = '/aws/rds/instance/orders-primary/iam-db-auth-error';

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

let stateDir: string;
let daemon: RunningDaemon;
let endpoint: string;
let canaryKeys: Keys;
let auditorKeys: Keys;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'sandbox-diagnosis-'));
  const fixture = parse(readFileSync('sandbox/fixture.default.yaml', 'utf8')) as Fixture;
  fixture.users.push({
    arn: AUDITOR,
    policies: [{ Effect: 'Allow', Action: 'iam:SimulatePrincipalPolicy', Resource: '*' }],
  });
  const masterKeyHex = randomBytes(32).toString('hex');

  daemon = await startDaemon({
    stateDir,
    fixture: parseFixture(JSON.stringify(fixture), 'test fixture'),
    masterKeyHex,
    awsPort: 0,
  });
  endpoint = `http://127.0.0.1:${daemon.awsPort}`;
  canaryKeys = deriveUserKeys(masterKeyHex, CANARY);
  auditorKeys = deriveUserKeys(masterKeyHex, AUDITOR);
});

afterAll(async () => {
  try {
    await daemon?.close();
  } finally {
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
});

beforeEach(async () => {
  await admin('POST', '/reset');
});

describe('RDS DescribeDBInstances', () => {
  it('describes one instance with the fields diagnosis reads', async () => {
    const out = await rds(canaryKeys).send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-primary' }),
    );

    expect(out.DBInstances).toHaveLength(1);
    expect(out.DBInstances![0]).toMatchObject({
      DBInstanceIdentifier: 'orders-primary',
      DbiResourceId: ORDERS.resourceId,
      Engine: 'postgres',
      Endpoint: { Address: ORDERS.host, Port: ORDERS.port },
      IAMDatabaseAuthenticationEnabled: true,
      DBInstanceArn: 'arn:aws:rds:eu-west-1:111111111111:db:orders-primary',
      AvailabilityZone: 'eu-west-1a',
      EnabledCloudwatchLogsExports: ['iam-db-auth-error'],
    });
  });

  it("lists the caller account's instances in the request region only", async () => {
    const out = await rds(canaryKeys).send(new DescribeDBInstancesCommand({}));

    const byId = Object.fromEntries(
      out.DBInstances!.map((i) => [i.DBInstanceIdentifier, i.IAMDatabaseAuthenticationEnabled]),
    );
    expect(byId).toEqual({
      'orders-primary': true,
      'ledger-primary': true,
      'legacy-primary': false,
    });
  });

  it('answers DBInstanceNotFound for an unknown identifier and another account', async () => {
    const unknown = await errorOf(
      rds(canaryKeys).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nope' })),
    );
    const otherAccount = await errorOf(
      rds(canaryKeys, 'us-east-1').send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'payments-primary' }),
      ),
    );

    expect(unknown).toMatchObject({ name: 'DBInstanceNotFoundFault', status: 404 });
    expect(otherAccount.name).toBe('DBInstanceNotFoundFault');
  });

  it('follows PATCH /_sandbox/instances', async () => {
    await admin('PATCH', '/instances/orders', { iamAuth: false });

    const out = await rds(canaryKeys).send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-primary' }),
    );

    expect(out.DBInstances![0]!.IAMDatabaseAuthenticationEnabled).toBe(false);
  });
});

describe('RDS DescribeDBClusters and DescribeDBProxies', () => {
  it('answers empty lists for a fixture without clusters or proxies', async () => {
    const clusters = await rds(canaryKeys).send(new DescribeDBClustersCommand({}));
    const proxies = await rds(canaryKeys).send(new DescribeDBProxiesCommand({}));

    expect(clusters.DBClusters ?? []).toEqual([]);
    expect(proxies.DBProxies ?? []).toEqual([]);
  });

  it('answers the not-found faults for a named cluster or proxy', async () => {
    const cluster = await errorOf(
      rds(canaryKeys).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders' })),
    );
    const proxy = await errorOf(
      rds(canaryKeys).send(new DescribeDBProxiesCommand({ DBProxyName: 'orders-proxy' })),
    );

    expect(cluster.name).toBe('DBClusterNotFoundFault');
    expect(proxy.name).toBe('DBProxyNotFoundFault');
  });
});

describe('permissions of the diagnosis calls', () => {
  it('refuses every diagnosis call to canary-hub with AccessDenied', async () => {
    const hub = await mintCredentials(HUB);

    const errors = await Promise.all([
      errorOf(rds(hub).send(new DescribeDBInstancesCommand({}))),
      errorOf(rds(hub).send(new DescribeDBClustersCommand({}))),
      errorOf(rds(hub).send(new DescribeDBProxiesCommand({}))),
      errorOf(iam(hub).send(simulate(CANARY, ['rds-db:connect'], ['*']))),
      errorOf(logs(hub).send(new FilterLogEventsCommand({ logGroupName: ORDERS_LOG }))),
    ]);

    expect(errors.map((e) => e.name)).toEqual([
      'AccessDenied',
      'AccessDenied',
      'AccessDenied',
      'AccessDenied',
      'AccessDeniedException',
    ]);
    expect(errors[0]!.message).toBe(
      'User: arn:aws:sts::111111111111:assumed-role/canary-hub/sandbox-admin is not ' +
        'authorized to perform: rds:DescribeDBInstances on resource: ' +
        'arn:aws:rds:eu-west-1:111111111111:db:* because no identity-based policy allows ' +
        'the rds:DescribeDBInstances action',
    );
  });

  it('follows PATCH /_sandbox/principals: a Deny takes a permission away', async () => {
    await admin('PATCH', '/principals', {
      arn: CANARY,
      policies: [{ Effect: 'Deny', Action: 'rds:Describe*', Resource: '*' }],
    });

    const error = await errorOf(rds(canaryKeys).send(new DescribeDBInstancesCommand({})));

    expect(error).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(error.message).toContain('with an explicit deny in an identity-based policy');
  });

  it('refuses to simulate a principal of another account', async () => {
    const error = await errorOf(
      iam(canaryKeys).send(simulate(RDS_CONNECT, ['rds-db:connect'], ['*'])),
    );

    expect(error.name).toBe('AccessDenied');
  });
});

describe('IAM SimulatePrincipalPolicy', () => {
  it('allows the canary on its own ARN and names the matching statement', async () => {
    const [result] = await simulateConnect(canaryKeys, CANARY, ORDERS.resourceId, 'canary_iam');

    expect(result).toMatchObject({
      EvalActionName: 'rds-db:connect',
      EvalResourceName: connectArn(ORDERS, 'canary_iam'),
      EvalDecision: 'allowed',
      MatchedStatements: [
        { SourcePolicyId: 'user/canary', SourcePolicyType: 'user', StartPosition: { Line: 3 } },
      ],
      OrganizationsDecisionDetail: { AllowedByOrganizations: true },
    });
    expect(result!.PermissionsBoundaryDecisionDetail).toBeUndefined();
  });

  it('reports an explicit deny with the Deny statement', async () => {
    const [result] = await simulateConnect(canaryKeys, CANARY, ORDERS.resourceId, 'readonly_guard');

    expect(result).toMatchObject({
      EvalDecision: 'explicitDeny',
      MatchedStatements: [{ SourcePolicyId: 'user/canary', StartPosition: { Line: 4 } }],
    });
  });

  it('reports an organization deny', async () => {
    const [result] = await simulateConnect(canaryKeys, CANARY, ORDERS.resourceId, 'blocked_by_org');

    expect(result).toMatchObject({
      EvalDecision: 'explicitDeny',
      MatchedStatements: [{ SourcePolicyId: 'organization/deny', SourcePolicyType: 'none' }],
      OrganizationsDecisionDetail: { AllowedByOrganizations: false },
    });
  });

  it('maps an assumed-role session ARN to its role (F5: identifier in the ARN)', async () => {
    const session = 'arn:aws:sts::111111111111:assumed-role/wrong-resource/canary';

    const [onResourceId, onIdentifier] = await Promise.all([
      simulateConnect(canaryKeys, session, ORDERS.resourceId, 'canary_iam'),
      simulateConnect(canaryKeys, session, 'orders-primary', 'canary_iam'),
    ]);

    expect(onResourceId[0]).toMatchObject({ EvalDecision: 'implicitDeny', MatchedStatements: [] });
    expect(onIdentifier[0]).toMatchObject({
      EvalDecision: 'allowed',
      MatchedStatements: [{ SourcePolicyId: 'role/wrong-resource', SourcePolicyType: 'role' }],
    });
  });

  it('reports the permissions boundary decision', async () => {
    const allowed = await simulateConnect(
      auditorKeys,
      RDS_CONNECT,
      PAYMENTS.resourceId,
      'canary_iam',
      PAYMENTS,
    );
    await admin('PATCH', '/principals', {
      arn: RDS_CONNECT,
      boundary: [{ Effect: 'Allow', Action: 'rds-db:connect', Resource: 'arn:aws:rds-db:*:*:x' }],
    });
    const bounded = await simulateConnect(
      auditorKeys,
      RDS_CONNECT,
      PAYMENTS.resourceId,
      'canary_iam',
      PAYMENTS,
    );

    expect(allowed[0]).toMatchObject({
      EvalDecision: 'allowed',
      PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: true },
    });
    expect(bounded[0]).toMatchObject({
      EvalDecision: 'implicitDeny',
      PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: false },
    });
  });

  it('answers one result per action and resource, with context entries applied', async () => {
    await admin('PATCH', '/principals', {
      arn: CANARY,
      policies: [
        {
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-1' } },
        },
        { Effect: 'Allow', Action: 'iam:SimulatePrincipalPolicy', Resource: CANARY },
      ],
    });

    const out = await iam(canaryKeys).send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: CANARY,
        ActionNames: ['rds-db:connect', 'rds:DescribeDBInstances'],
        ResourceArns: ['arn:a', 'arn:b'],
        ContextEntries: [
          {
            ContextKeyName: 'aws:SourceVpc',
            ContextKeyValues: ['vpc-1'],
            ContextKeyType: 'string',
          },
        ],
      }),
    );

    expect(out.EvaluationResults!.map((r) => r.EvalDecision)).toEqual([
      'allowed',
      'allowed',
      'implicitDeny',
      'implicitDeny',
    ]);
    expect(out.IsTruncated).toBe(false);
  });

  it('answers NoSuchEntity for an unknown principal', async () => {
    const user = await errorOf(
      iam(canaryKeys).send(simulate('arn:aws:iam::111111111111:user/ghost', ['s3:Get*'])),
    );
    const role = await errorOf(
      iam(canaryKeys).send(simulate('arn:aws:sts::111111111111:assumed-role/ghost/s', ['s3:Get*'])),
    );

    expect(user).toMatchObject({ name: 'NoSuchEntityException', status: 404 });
    expect(role.name).toBe('NoSuchEntityException');
  });
});

describe('simulator and verifier agree on the default fixture', () => {
  const paths = [
    { path: 'allowed', principal: CANARY, user: 'canary_iam', reason: null },
    { path: 'explicit deny', principal: CANARY, user: 'readonly_guard', reason: 'EXPLICIT_DENY' },
    { path: 'org deny', principal: CANARY, user: 'blocked_by_org', reason: 'ORG_DENY' },
    { path: 'F5 ARN', principal: WRONG_RESOURCE, user: 'canary_iam', reason: 'NOT_AUTHORIZED' },
    { path: 'no policy', principal: HUB, user: 'canary_iam', reason: 'NOT_AUTHORIZED' },
  ] as const;

  it.each(paths)('agrees on the $path path', async ({ principal, user, reason }) => {
    const signer = principal === CANARY ? canaryKeys : await mintCredentials(principal);

    const answer = await askVerifier(ORDERS.name, user, await rdsToken(signer, user, ORDERS));
    const [result] = await simulateConnect(canaryKeys, principal, ORDERS.resourceId, user);

    expect(answer).toBe(reason === null ? 'ALLOW\n' : `DENY ${reason}\n`);
    expect(result!.EvalDecision).toBe(expectedDecision(reason));
  });

  it('agrees on the boundary path, allowed and denied', async () => {
    const session = await mintCredentials(RDS_CONNECT);
    const token = await rdsToken(session, 'canary_iam', PAYMENTS);
    const allowedAnswer = await askVerifier(PAYMENTS.name, 'canary_iam', token);
    const allowed = await simulateConnect(
      auditorKeys,
      RDS_CONNECT,
      PAYMENTS.resourceId,
      'canary_iam',
      PAYMENTS,
    );

    await admin('PATCH', '/principals', { arn: RDS_CONNECT, boundary: [] });
    const deniedAnswer = await askVerifier(PAYMENTS.name, 'canary_iam', token);
    const denied = await simulateConnect(
      auditorKeys,
      RDS_CONNECT,
      PAYMENTS.resourceId,
      'canary_iam',
      PAYMENTS,
    );

    expect(allowedAnswer).toBe('ALLOW\n');
    expect(allowed[0]!.EvalDecision).toBe('allowed');
    expect(deniedAnswer).toBe('DENY BOUNDARY_DENY\n');
    expect(denied[0]).toMatchObject({
      EvalDecision: 'implicitDeny',
      PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: false },
    });
  });
});

describe('CloudWatch Logs FilterLogEvents on the iam-db-auth-error log', () => {
  it('returns the reason of a refused login', async () => {
    const startTime = Date.now();
    const token = await rdsToken(canaryKeys, 'canary_iam', { ...ORDERS, region: 'us-east-1' });
    await askVerifier(ORDERS.name, 'canary_iam', token);

    const out = await logs(canaryKeys).send(
      new FilterLogEventsCommand({ logGroupName: ORDERS_LOG, startTime }),
    );

    expect(out.events).toHaveLength(1);
    expect(out.events![0]).toMatchObject({ logStreamName: 'orders-primary' });
    expect(out.events![0]!.timestamp).toBeGreaterThanOrEqual(startTime);
    expect(out.events![0]!.message).toContain("for user 'canary_iam'");
    expect(out.events![0]!.message).toContain('[sandbox reason: WRONG_REGION]');
    expect(out.events![0]!.message).not.toContain('X-Amz-Signature');
  });

  it('serves DENY lines only, within startTime and endTime, up to limit', async () => {
    const startTime = Date.now();
    const good = await rdsToken(canaryKeys, 'canary_iam', ORDERS);
    await askVerifier(ORDERS.name, 'canary_iam', good);
    await askVerifier(ORDERS.name, 'canary_iam', tamperSignature(good));
    await askVerifier(ORDERS.name, 'readonly_guard', good);
    await askVerifier(
      ORDERS.name,
      'readonly_guard',
      await rdsToken(canaryKeys, 'readonly_guard', ORDERS),
    );

    const all = await logs(canaryKeys).send(
      new FilterLogEventsCommand({ logGroupName: ORDERS_LOG, startTime }),
    );
    const first = await logs(canaryKeys).send(
      new FilterLogEventsCommand({ logGroupName: ORDERS_LOG, startTime, limit: 1 }),
    );
    const next = await logs(canaryKeys).send(
      new FilterLogEventsCommand({
        logGroupName: ORDERS_LOG,
        startTime,
        nextToken: first.nextToken,
      }),
    );
    const before = await logs(canaryKeys).send(
      new FilterLogEventsCommand({ logGroupName: ORDERS_LOG, endTime: startTime - 60_000 }),
    );

    expect(all.events!.map((e) => /sandbox reason: (\w+)/.exec(e.message!)?.[1])).toEqual([
      'BAD_SIGNATURE',
      'WRONG_USER',
      'EXPLICIT_DENY',
    ]);
    expect(first.events).toHaveLength(1);
    expect(first.nextToken).toBeDefined();
    expect(next.events!.map((e) => e.eventId)).toEqual(all.events!.slice(1).map((e) => e.eventId));
    expect(before.events!.filter((e) => e.timestamp! >= startTime)).toEqual([]);
  });

  it('answers ResourceNotFoundException for an unknown log group', async () => {
    const unknown = await errorOf(
      logs(canaryKeys).send(
        new FilterLogEventsCommand({ logGroupName: '/aws/rds/instance/nope/iam-db-auth-error' }),
      ),
    );
    const otherAccount = await errorOf(
      logs(canaryKeys, 'us-east-1').send(
        new FilterLogEventsCommand({
          logGroupName: '/aws/rds/instance/payments-primary/iam-db-auth-error',
        }),
      ),
    );

    expect(unknown).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
    expect(otherAccount.name).toBe('ResourceNotFoundException');
  });
});

// ---- helpers ------------------------------------------------------------------------

function rds(credentials: Keys, region = REGION): RDSClient {
  return new RDSClient({ region, endpoint, credentials, maxAttempts: 1 });
}

function iam(credentials: Keys): IAMClient {
  return new IAMClient({ region: REGION, endpoint, credentials, maxAttempts: 1 });
}

function logs(credentials: Keys, region = REGION): CloudWatchLogsClient {
  return new CloudWatchLogsClient({ region, endpoint, credentials, maxAttempts: 1 });
}

function simulate(
  policySourceArn: string,
  actions: string[],
  resources?: string[],
): SimulatePrincipalPolicyCommand {
  return new SimulatePrincipalPolicyCommand({
    PolicySourceArn: policySourceArn,
    ActionNames: actions,
    ResourceArns: resources,
  });
}

function connectArn(instance: { region: string; resourceId: string }, user: string): string {
  const account = instance.region === REGION ? '111111111111' : '222222222222';
  return `arn:aws:rds-db:${instance.region}:${account}:dbuser:${instance.resourceId}/${user}`;
}

async function simulateConnect(
  caller: Keys,
  principal: string,
  resourceId: string,
  user: string,
  instance: { region: string } = ORDERS,
): Promise<EvaluationResult[]> {
  const resource = connectArn({ region: instance.region, resourceId }, user);
  const out = await iam(caller).send(simulate(principal, ['rds-db:connect'], [resource]));
  return out.EvaluationResults ?? [];
}

function expectedDecision(reason: string | null): string {
  if (reason === null) return 'allowed';
  return reason === 'EXPLICIT_DENY' || reason === 'ORG_DENY' ? 'explicitDeny' : 'implicitDeny';
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

// biome-ignore lint/suspicious/noExplicitAny: admin answers are checked field by field
async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${endpoint}/_sandbox${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  }
  return json;
}

/** Temporary credentials for a fixture role, from POST /_sandbox/credentials. */
async function mintCredentials(arn: string): Promise<Keys> {
  const minted = await admin('POST', '/credentials', { arn, expiresInSeconds: 3600 });
  return {
    accessKeyId: minted.accessKeyId,
    secretAccessKey: minted.secretAccessKey,
    sessionToken: minted.sessionToken,
  };
}

function rdsToken(
  credentials: Keys,
  user: string,
  target: { host: string; port: number; region: string },
): Promise<string> {
  const signer = new Signer({
    hostname: target.host,
    port: target.port,
    region: target.region,
    username: user,
    credentials,
  });
  return signer.getAuthToken();
}

/** One login decision over the verifier socket, as the PAM module asks it. */
function askVerifier(instance: string, user: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(daemon.socketPath);
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('verifier did not answer in 5 s')));
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.end(
      `RDSIAM/1\ninstance=${instance}\nuser=${user}\nrhost=127.0.0.1\ntls=required\n` +
        `token=${token}\n\n`,
    );
  });
}
