import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { Signer } from '@aws-sdk/rds-signer';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { build } from 'esbuild';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { deriveUserKeys } from '#sandbox/daemon/credentials.ts';

/**
 * The sandbox daemon as `sandbox up` runs it: the bundled daemon in a child process, on a
 * temporary state directory and a free port, spoken to by the real SDK clients through
 * AWS_ENDPOINT_URL and by the PAM module's socket protocol.
 */

const REGION = 'eu-west-1';
const CANARY = 'arn:aws:iam::111111111111:user/canary';
const HUB = 'arn:aws:iam::111111111111:role/canary-hub';
const RDS_CONNECT = 'arn:aws:iam::222222222222:role/rds-connect';
const UNTAGGED = 'arn:aws:iam::111111111111:role/untagged';
const EXTERNAL_ID = 'canary-7f3a';
const ORDERS = {
  host: 'orders-primary.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com',
  port: 15432,
};

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

let stateDir: string;
let bundlePath: string;
let daemon: ChildProcess;
let endpoint: string;
let canaryKeys: Keys;
let daemonExit: Promise<number | null>;
const savedEnv = { endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION };

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'sandbox-aws-'));
  const awsPort = await freePort();
  const fixture = parse(readFileSync('sandbox/fixture.default.yaml', 'utf8'));
  fixture.aws = { port: awsPort };
  const fixturePath = join(stateDir, 'fixture.yaml');
  writeFileSync(fixturePath, stringify(fixture));

  bundlePath = await daemonBundle();
  daemon = spawn(process.execPath, [bundlePath, '--state', stateDir, '--fixture', fixturePath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemonExit = new Promise((resolve) => daemon.once('exit', (code) => resolve(code)));
  await waitForReady(daemon);

  endpoint = `http://127.0.0.1:${awsPort}`;
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_REGION = REGION;
  const master = readFileSync(join(stateDir, 'secrets', 'master.key'), 'utf8').trim();
  canaryKeys = deriveUserKeys(master, CANARY);
});

afterAll(async () => {
  restoreEnv('AWS_ENDPOINT_URL', savedEnv.endpoint);
  restoreEnv('AWS_REGION', savedEnv.region);
  try {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      expect(await daemonExit).toBe(0);
    }
  } finally {
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
});

beforeEach(async () => {
  await admin('POST', '/reset');
});

describe('sandbox daemon process', () => {
  it('writes its pid file and a 0666 verifier socket', () => {
    const pid = readFileSync(join(stateDir, 'run', 'daemon.pid'), 'utf8').trim();
    const socket = statSync(join(stateDir, 'run', 'verifier.sock'));

    expect(Number(pid)).toBe(daemon.pid);
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o666);
    expect(statSync(join(stateDir, 'secrets', 'master.key')).mode & 0o777).toBe(0o600);
  });
});

describe('sandbox daemon start-up', () => {
  it('refuses to start beside a running daemon on the same state directory', async () => {
    const second = spawn(
      process.execPath,
      [
        bundlePath,
        '--state',
        stateDir,
        '--fixture',
        join(stateDir, 'fixture.yaml'),
        '--aws-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    second.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });

    const code = await new Promise((resolve) => second.once('exit', resolve));

    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(await askVerifierRaw('HELLO\n\n')).toBe('DENY MALFORMED_TOKEN\n');
  });
});

describe('STS', () => {
  it('answers GetCallerIdentity for a fixture user key', async () => {
    const identity = await sts(canaryKeys).send(new GetCallerIdentityCommand({}));

    expect(identity).toMatchObject({ Arn: CANARY, Account: '111111111111' });
  });

  it('assumes a role without ExternalId when the trust policy asks for none', async () => {
    const out = await sts(canaryKeys).send(
      new AssumeRoleCommand({ RoleArn: HUB, RoleSessionName: 'hub' }),
    );

    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::111111111111:assumed-role/canary-hub/hub');
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(out.Credentials?.SessionToken?.length).toBeGreaterThanOrEqual(1536);
    expect(out.Credentials?.Expiration?.getTime()).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('chains across accounts: canary user, canary-hub, rds-connect with ExternalId and tags', async () => {
    const hub = await assume(canaryKeys, {
      RoleArn: HUB,
      RoleSessionName: 'hub',
      Tags: [{ Key: 'canary', Value: 'yes' }],
      TransitiveTagKeys: ['canary'],
    });

    const target = await assume(hub, {
      RoleArn: RDS_CONNECT,
      RoleSessionName: 'payments',
      ExternalId: EXTERNAL_ID,
      Tags: [{ Key: 'target', Value: 'payments' }],
    });
    const identity = await sts(target).send(new GetCallerIdentityCommand({}));

    expect(identity.Arn).toBe('arn:aws:sts::222222222222:assumed-role/rds-connect/payments');
    expect(identity.Account).toBe('222222222222');
  });

  it('serves the chain fromTemporaryCredentials resolves, with AWS_ENDPOINT_URL only', async () => {
    const hub = fromTemporaryCredentials({
      masterCredentials: canaryKeys,
      params: { RoleArn: HUB, RoleSessionName: 'hub' },
      clientConfig: { region: REGION },
    });
    const target = fromTemporaryCredentials({
      masterCredentials: hub,
      params: { RoleArn: RDS_CONNECT, RoleSessionName: 'payments', ExternalId: EXTERNAL_ID },
      clientConfig: { region: REGION },
    });

    const identity = await new STSClient({ region: REGION, credentials: target }).send(
      new GetCallerIdentityCommand({}),
    );

    expect(identity.Arn).toBe('arn:aws:sts::222222222222:assumed-role/rds-connect/payments');
  });

  it('refuses the cross-account role without the ExternalId its trust requires', async () => {
    const hub = await assume(canaryKeys, { RoleArn: HUB, RoleSessionName: 'hub' });

    const missing = await errorOf(assume(hub, { RoleArn: RDS_CONNECT, RoleSessionName: 'pay' }));
    const wrong = await errorOf(
      assume(hub, { RoleArn: RDS_CONNECT, RoleSessionName: 'pay', ExternalId: 'not-it' }),
    );

    expect(missing).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(missing.message).toBe(
      `User: arn:aws:sts::111111111111:assumed-role/canary-hub/hub is not authorized to perform: sts:AssumeRole on resource: ${RDS_CONNECT}`,
    );
    expect(wrong.name).toBe('AccessDenied');
  });

  it('refuses session tags when the trust policy does not allow sts:TagSession', async () => {
    const error = await errorOf(
      assume(canaryKeys, {
        RoleArn: UNTAGGED,
        RoleSessionName: 'untagged',
        Tags: [{ Key: 'k', Value: 'v' }],
      }),
    );

    expect(error.name).toBe('AccessDenied');
    expect(error.message).toContain('sts:TagSession');
  });

  it('refuses DurationSeconds over one hour for a chained role', async () => {
    const hub = await assume(canaryKeys, { RoleArn: HUB, RoleSessionName: 'hub' });

    const error = await errorOf(
      assume(hub, {
        RoleArn: RDS_CONNECT,
        RoleSessionName: 'pay',
        ExternalId: EXTERNAL_ID,
        DurationSeconds: 7200,
      }),
    );

    expect(error).toMatchObject({ name: 'ValidationError', status: 400 });
  });

  it('refuses a request signed with the wrong secret (SignatureDoesNotMatch)', async () => {
    const wrong = { ...canaryKeys, secretAccessKey: `${canaryKeys.secretAccessKey.slice(1)}x` };

    const error = await errorOf(sts(wrong).send(new GetCallerIdentityCommand({})));

    expect(error).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
  });

  it('refuses an unknown access key (InvalidClientTokenId)', async () => {
    const unknown = {
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    };

    const error = await errorOf(sts(unknown).send(new GetCallerIdentityCommand({})));

    expect(error).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });

  it('refuses expired temporary credentials (ExpiredToken)', async () => {
    const expired = await mintCredentials(HUB, -10);

    const error = await errorOf(sts(expired).send(new GetCallerIdentityCommand({})));

    expect(error).toMatchObject({ name: 'ExpiredToken', status: 400 });
  });

  it('answers injected faults with the AWS error shape, which the SDK retries', async () => {
    await admin('POST', '/faults', { service: 'sts', status: 500, count: 2 });

    const identity = await sts(canaryKeys).send(new GetCallerIdentityCommand({}));

    expect(identity.$metadata.attempts).toBe(3);
  });
});

describe('CloudWatch', () => {
  it('records PutMetricData exactly as sent', async () => {
    const since = new Date().toISOString();
    const timestamp = new Date('2026-12-04T12:00:00Z');

    await cloudWatch().send(
      new PutMetricDataCommand({
        Namespace: 'RdsIamCanary',
        MetricData: [
          {
            MetricName: 'LoginSucceeded',
            Dimensions: [{ Name: 'Target', Value: 'orders' }],
            Timestamp: timestamp,
            Value: 1,
            Unit: 'Count',
          },
        ],
      }),
    );
    const calls = await admin(
      'GET',
      `/calls?service=monitoring&action=PutMetricData&since=${since}`,
    );

    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      principal: CANARY,
      outcome: 'ok',
      params: {
        Namespace: 'RdsIamCanary',
        MetricData: [
          {
            MetricName: 'LoginSucceeded',
            Dimensions: [{ Name: 'Target', Value: 'orders' }],
            Timestamp: timestamp.getTime() / 1000,
            Value: 1,
            Unit: 'Count',
          },
        ],
      },
    });
  });

  it('accepts 1000 metric data (a compressed body) and refuses 1001', async () => {
    const datum = (i: number) => ({ MetricName: `m${i}`, Value: i });

    await cloudWatch().send(
      new PutMetricDataCommand({
        Namespace: 'N',
        MetricData: Array.from({ length: 1000 }, (_, i) => datum(i)),
      }),
    );
    const error = await errorOf(
      cloudWatch().send(
        new PutMetricDataCommand({
          Namespace: 'N',
          MetricData: Array.from({ length: 1001 }, (_, i) => datum(i)),
        }),
      ),
    );

    expect(error).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
  });

  it('refuses more than 30 dimensions and a reserved namespace', async () => {
    const dimensions = Array.from({ length: 31 }, (_, i) => ({ Name: `d${i}`, Value: 'v' }));

    const tooMany = await errorOf(
      cloudWatch().send(
        new PutMetricDataCommand({
          Namespace: 'N',
          MetricData: [{ MetricName: 'm', Value: 1, Dimensions: dimensions }],
        }),
      ),
    );
    const reserved = await errorOf(
      cloudWatch().send(
        new PutMetricDataCommand({
          Namespace: 'AWS/RDS',
          MetricData: [{ MetricName: 'm', Value: 1 }],
        }),
      ),
    );

    expect(tooMany.name).toBe('InvalidParameterValueException');
    expect(reserved.name).toBe('InvalidParameterValueException');
  });

  it('refuses an unknown key in the JSON protocol too', async () => {
    const client = new CloudWatchClient({
      region: REGION,
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x'.repeat(40) },
    });

    const error = await errorOf(
      client.send(
        new PutMetricDataCommand({ Namespace: 'N', MetricData: [{ MetricName: 'm', Value: 1 }] }),
      ),
    );

    expect(error).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });
});

describe('SNS', () => {
  it('records Publish exactly as sent and returns a MessageId', async () => {
    const since = new Date().toISOString();
    const topic = 'arn:aws:sns:eu-west-1:111111111111:canary-alerts';

    const out = await new SNSClient({ region: REGION, credentials: canaryKeys }).send(
      new PublishCommand({
        TopicArn: topic,
        Subject: 'orders: AUTH_REJECTED',
        Message: '{"target":"orders"}',
        MessageAttributes: { severity: { DataType: 'String', StringValue: 'high' } },
      }),
    );
    const calls = await admin('GET', `/calls?service=sns&since=${since}`);

    expect(out.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls[0]).toMatchObject({
      action: 'Publish',
      outcome: 'ok',
      params: {
        TopicArn: topic,
        Subject: 'orders: AUTH_REJECTED',
        Message: '{"target":"orders"}',
        'MessageAttributes.entry.1.Name': 'severity',
        'MessageAttributes.entry.1.Value.DataType': 'String',
        'MessageAttributes.entry.1.Value.StringValue': 'high',
      },
    });
  });

  it('refuses a subject over 100 characters and a topic outside the fixture', async () => {
    const sns = new SNSClient({ region: REGION, credentials: canaryKeys });

    const subject = await errorOf(
      sns.send(
        new PublishCommand({
          TopicArn: 'arn:aws:sns:eu-west-1:111111111111:t',
          Subject: 's'.repeat(101),
          Message: 'm',
        }),
      ),
    );
    const topic = await errorOf(
      sns.send(
        new PublishCommand({ TopicArn: 'arn:aws:sns:eu-west-1:999999999999:t', Message: 'm' }),
      ),
    );

    expect(subject.name).toBe('InvalidParameterException');
    expect(topic.name).toBe('NotFoundException');
  });
});

describe('unknown operations', () => {
  it('answers an unknown query action with InvalidAction in XML', async () => {
    const response = await signedFetch('sts', 'Action=GetSessionTokenX&Version=2011-06-15', {
      'content-type': 'application/x-www-form-urlencoded',
    });

    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<Code>InvalidAction</Code>');
  });

  it('answers an unknown JSON target with UnknownOperationException', async () => {
    const response = await signedFetch('monitoring', '{}', {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'GraniteServiceVersion20100801.DescribeNothing',
    });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toContain(
      'UnknownOperationException',
    );
  });

  it('answers a service it does not serve in the protocol of the request', async () => {
    const response = await signedFetch('dynamodb', '{}', {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.ListTables',
    });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toContain(
      'UnknownOperationException',
    );
  });
});

describe('call log', () => {
  it('never holds a secret key, session token or signature', async () => {
    const hub = await assume(canaryKeys, { RoleArn: HUB, RoleSessionName: 'hub' });
    await sts(hub).send(new GetCallerIdentityCommand({}));

    const log = readFileSync(join(stateDir, 'log', 'aws-calls.jsonl'), 'utf8');

    expect(log).not.toContain(hub.secretAccessKey);
    expect(log).not.toContain(hub.sessionToken);
    expect(log).not.toContain(canaryKeys.secretAccessKey);
    expect(log).not.toMatch(/Signature=/);
  });
});

describe('token verifier socket', () => {
  it('allows a token from @aws-sdk/rds-signer and logs the decision', async () => {
    const since = new Date().toISOString();
    const token = await rdsToken(canaryKeys, 'canary_iam');

    const answer = await askVerifier('orders', 'canary_iam', token);
    const decisions = await admin('GET', `/decisions?since=${since}`);

    expect(answer).toBe('ALLOW\n');
    expect(decisions.at(-1)).toMatchObject({
      decision: 'ALLOW',
      instance: 'orders',
      principal: CANARY,
    });
  });

  it('allows a whole 1.5 KB+ token signed by a role session', async () => {
    const session = await admin('POST', '/credentials', {
      arn: 'arn:aws:iam::111111111111:role/untagged',
    });
    const token = await rdsToken(session, 'canary_iam');

    expect(token.length).toBeGreaterThan(1536);
    expect(await askVerifier('orders', 'canary_iam', token)).toBe('ALLOW\n');
  });

  it('denies a tampered token with BAD_SIGNATURE', async () => {
    const token = await rdsToken(canaryKeys, 'canary_iam');
    const tampered = token.replace('DBUser=canary_iam', 'DBUser=canary_iam&X-Extra=1');

    expect(await askVerifier('orders', 'canary_iam', tampered)).toBe('DENY BAD_SIGNATURE\n');
  });

  it('follows PATCH /_sandbox/instances and POST /_sandbox/reset', async () => {
    const token = await rdsToken(canaryKeys, 'canary_iam');

    await admin('PATCH', '/instances/orders', { iamAuth: false });
    const off = await askVerifier('orders', 'canary_iam', token);
    await admin('POST', '/reset');
    const on = await askVerifier('orders', 'canary_iam', token);

    expect(off).toBe('DENY IAM_AUTH_DISABLED\n');
    expect(on).toBe('ALLOW\n');
  });

  it('follows PATCH /_sandbox/principals', async () => {
    const token = await rdsToken(canaryKeys, 'canary_iam');

    await admin('PATCH', '/principals', {
      arn: CANARY,
      policies: [{ Effect: 'Deny', Action: 'rds-db:*', Resource: '*' }],
    });

    expect(await askVerifier('orders', 'canary_iam', token)).toBe('DENY EXPLICIT_DENY\n');
  });

  it('reads a request that arrives in many small writes', async () => {
    const token = await rdsToken(canaryKeys, 'canary_iam');
    const request = `RDSIAM/1\ninstance=orders\nuser=canary_iam\nrhost=\ntls=required\ntoken=${token}\n\n`;

    const answer = await askVerifierInPieces(request, 7);

    expect(answer).toBe('ALLOW\n');
  });

  it('refuses a request larger than 64 KB without waiting for its end', async () => {
    expect(await askVerifierRaw(`RDSIAM/1\ntoken=${'x'.repeat(70_000)}`)).toBe(
      'DENY MALFORMED_TOKEN\n',
    );
  });

  it('answers a request that breaks the protocol with a DENY', async () => {
    expect(await askVerifierRaw('HELLO\n\n')).toBe('DENY MALFORMED_TOKEN\n');
  });
});

// ---- helpers ------------------------------------------------------------------------

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** dist/sandbox-daemon.mjs when newer than its sources, else a fresh bundle in stateDir. */
async function daemonBundle(): Promise<string> {
  const dist = 'dist/sandbox-daemon.mjs';
  const sources = ['sandbox/fixture-schema.ts', ...listFiles('sandbox/daemon')];
  const newestSource = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  try {
    if (statSync(dist).mtimeMs > newestSource) return dist;
  } catch {
    // No dist yet: bundle below.
  }

  const outfile = join(stateDir, 'sandbox-daemon.mjs');
  await build({
    entryPoints: ['sandbox/daemon/main.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return outfile;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`daemon not ready in 15 s: ${stderr}`)),
      15_000,
    );
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child.stdout?.on('data', (chunk) => {
      if (String(chunk).includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code}: ${stderr}`));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function sts(credentials: Keys): STSClient {
  return new STSClient({ region: REGION, credentials, maxAttempts: 3 });
}

function cloudWatch(): CloudWatchClient {
  return new CloudWatchClient({ region: REGION, credentials: canaryKeys });
}

async function assume(
  credentials: Keys,
  input: ConstructorParameters<typeof AssumeRoleCommand>[0],
): Promise<Keys> {
  const out = await sts(credentials).send(new AssumeRoleCommand(input));
  return {
    accessKeyId: out.Credentials!.AccessKeyId!,
    secretAccessKey: out.Credentials!.SecretAccessKey!,
    sessionToken: out.Credentials!.SessionToken!,
  };
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
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A request signed by the SDK's signer for `service`, sent with fetch. */
async function signedFetch(service: string, body: string, headers: Record<string, string>) {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials: canaryKeys,
    region: REGION,
    service,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, ...headers },
      body,
    }),
  );
  return fetch(`${endpoint}/`, { method: 'POST', headers: signed.headers, body });
}

/** Temporary credentials from POST /_sandbox/credentials, in the SDK's shape. */
async function mintCredentials(arn: string, expiresInSeconds: number): Promise<Keys> {
  const minted = await admin('POST', '/credentials', { arn, expiresInSeconds });
  return {
    accessKeyId: minted.accessKeyId,
    secretAccessKey: minted.secretAccessKey,
    sessionToken: minted.sessionToken,
  };
}

function rdsToken(credentials: Keys, user: string): Promise<string> {
  const signer = new Signer({
    hostname: ORDERS.host,
    port: ORDERS.port,
    region: REGION,
    username: user,
    credentials,
  });
  return signer.getAuthToken();
}

function askVerifier(instance: string, user: string, token: string): Promise<string> {
  return askVerifierRaw(
    `RDSIAM/1\ninstance=${instance}\nuser=${user}\nrhost=127.0.0.1\ntls=required\ntoken=${token}\n\n`,
  );
}

/** Sends `request` in `size`-byte writes, without closing its side, as the PAM module does. */
function askVerifierInPieces(request: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(stateDir, 'run', 'verifier.sock'));
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('verifier did not answer in 5 s')));
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.on('connect', async () => {
      for (let i = 0; i < request.length; i += size) {
        socket.write(request.slice(i, i + size));
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

function askVerifierRaw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(stateDir, 'run', 'verifier.sock'));
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('verifier did not answer in 5 s')));
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.end(request);
  });
}
