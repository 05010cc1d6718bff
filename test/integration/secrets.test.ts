/**
 * Secrets stay secret: passing and failing rounds (library, CLI `check --json`, the Lambda
 * handler), with alerts, metrics and the EMF fallback, capture everything that leaves the
 * process (log lines, stdout, stderr, reports, alerts and metrics as the sandbox received
 * them, thrown errors) and scan it for token material and for the exact secret values in
 * play. And a token is never sent where TLS is off or unverified.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCheck } from '#shared/check/run-check.ts';
import { runRound } from '#shared/check/run-round.ts';
import { ConfigError } from '#shared/config/config-error.ts';
import { loadConfig, parseConfig } from '#shared/config/load-config.ts';
import {
  type AssumedSession,
  type AssumeRoleRequest,
  RoleSessionCache,
} from '#shared/credentials/assume-role-chain.ts';
import { createCloudWatchClient, createSnsClient } from '#shared/publish/aws-clients.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { runCanary } from '#shared/run-canary.ts';
import { signToken } from '#shared/token/sign-token.ts';
import { closedPort, mysqlWithoutTls, postgresWithoutTls } from '../support/network-faults.ts';
import {
  ALERT_TOPIC,
  awsCallsSince,
  canaryCredentials,
  capturingLogger,
  useSandboxAwsEnv,
} from '../support/reliability.ts';
import { readSandboxEnv, sandboxTarget } from '../support/sandbox.ts';

const SANDBOX_CONFIG = fileURLToPath(new URL('../../sandbox/canary.sandbox.yaml', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/rds-iam-canary.mjs', import.meta.url));

/** Everything captured that left the process, by where it was seen. */
const captured: { where: string; text: string }[] = [];
/** Exact secret values in play: secret keys, session tokens, tokens, signatures. */
const secrets = new Set<string>();
let restoreEnv: () => void = () => {};
let dir: string;

function capture(where: string, value: unknown): void {
  captured.push({
    where,
    text: typeof value === 'string' ? value : inspect(value, { depth: 20, breakLength: 200 }),
  });
}

function addSecret(value: string | undefined): void {
  if (value && value.length >= 16) secrets.add(value);
}

/** A token's own secrets: the whole token, its signature and its security token. */
function addToken(token: string): void {
  addSecret(token);
  const query = new URLSearchParams(token.slice(token.indexOf('?') + 1));
  addSecret(query.get('X-Amz-Signature') ?? undefined);
  addSecret(query.get('X-Amz-Security-Token') ?? undefined);
}

/**
 * Token material by shape, whatever its value: a presigned query not redacted, a SigV4
 * signature (64 hex), a secret-key-like 40-character base64 run, a session-token-like
 * base64 run of 100+ characters.
 */
const PATTERNS: [string, RegExp][] = [
  ['X-Amz-Signature', /X-Amz-Signature(=|%3D)(?!\[REDACTED\])[0-9a-f]/i],
  ['X-Amz-Security-Token', /X-Amz-Security-Token(=|%3D)(?!\[REDACTED\])[\w%]/i],
  ['X-Amz-Credential', /X-Amz-Credential(=|%3D)(?!\[REDACTED\])[A-Z0-9]{16,}/i],
  ['presigned connect URL', /Action=connect&DBUser=[^&\s]*&X-Amz-Algorithm/],
  ['64-hex signature', /(?<![0-9A-Za-z])[0-9a-f]{64}(?![0-9A-Za-z])/],
  [
    '40-char secret',
    /(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/,
  ],
  ['long base64 blob', /[A-Za-z0-9/+]{100,}={0,2}/],
];

interface Finding {
  where: string;
  what: string;
  excerpt: string;
}

function scan(): Finding[] {
  const findings: Finding[] = [];
  for (const { where, text } of captured) {
    for (const secret of secrets) {
      const at = text.indexOf(secret);
      if (at >= 0) {
        // Never print the secret itself: show where it sat.
        findings.push({
          where,
          what: 'exact secret value',
          excerpt: text.slice(Math.max(0, at - 60), at),
        });
      }
    }
    for (const [what, pattern] of PATTERNS) {
      const match = pattern.exec(text);
      if (match) {
        findings.push({
          where,
          what,
          excerpt: text.slice(Math.max(0, match.index - 60), match.index + 12),
        });
      }
    }
  }
  return findings;
}

/**
 * AssumeRole through the sandbox's STS like the product's own call, recording the
 * temporary credentials it hands out so the scan knows their exact values.
 */
async function recordingAssumeRole(request: AssumeRoleRequest): Promise<AssumedSession> {
  const client = new STSClient({
    region: request.region,
    credentials: request.credentials,
    maxAttempts: 1,
  });
  try {
    const answer = await client.send(
      new AssumeRoleCommand({
        RoleArn: request.roleArn,
        RoleSessionName: request.sessionName,
        ExternalId: request.externalId,
        DurationSeconds: request.durationSeconds,
        Tags: request.sessionTags
          ? Object.entries(request.sessionTags).map(([Key, Value]) => ({ Key, Value }))
          : undefined,
      }),
      { abortSignal: request.signal },
    );
    const c = answer.Credentials!;
    addSecret(c.SecretAccessKey);
    addSecret(c.SessionToken);
    return {
      credentials: {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken!,
        expiration: c.Expiration!,
      },
      arn: answer.AssumedRoleUser!.Arn!,
    };
  } finally {
    client.destroy();
  }
}

function recordingCache(): RoleSessionCache {
  return new RoleSessionCache({ assumeRole: recordingAssumeRole });
}

beforeAll(() => {
  restoreEnv = useSandboxAwsEnv();
  dir = mkdtempSync(join(tmpdir(), 'secrets-'));
  const env = readSandboxEnv();
  addSecret(env.AWS_SECRET_ACCESS_KEY);
  for (const db of env.instances) addSecret(db.adminPassword);
});

afterAll(() => {
  restoreEnv();
  rmSync(dir, { recursive: true, force: true });
});

describe('no secret leaves the process', () => {
  let since: string;

  beforeAll(() => {
    since = new Date().toISOString();
  });

  it('runs passing and failing rounds through every exit, capturing all output', async () => {
    const config = loadConfig(SANDBOX_CONFIG);
    expect(config.targets.length).toBeGreaterThanOrEqual(9);

    // 1. The library round, with a recording signer and a diagnosis hook that keeps errors.
    const errors: unknown[] = [];
    const report = await runRound(config.targets, {
      sessionCache: recordingCache(),
      credentials: canaryCredentials(),
      check: (target, options) =>
        runCheck(target, {
          ...options,
          signToken: async (request) => {
            addSecret(request.credentials.secretAccessKey);
            addSecret(request.credentials.sessionToken);
            const signed = await signToken(request);
            addToken(signed.token);
            return signed;
          },
          diagnose: async (context) => {
            errors.push(context.error);
            capture(`diagnosis context of ${context.target.name}`, {
              token: context.token,
              result: context.result,
            });
            return [];
          },
        }),
    });
    capture('runRound report', JSON.stringify(report));
    for (const error of errors) capture('error handed to diagnosis', error);
    expect(report.summary.passed).toBeGreaterThan(0);
    expect(report.summary.failed).toBeGreaterThan(0);

    // 2. runCanary with publishing: once normally, once with CloudWatch gone (EMF fallback).
    for (const cloudWatchDown of [false, true]) {
      const extra: Record<string, string> = cloudWatchDown
        ? { AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${await closedPort()}` }
        : {};
      const restore = useSandboxAwsEnv(extra);
      const cloudWatch = createCloudWatchClient();
      const sns = createSnsClient(ALERT_TOPIC);
      const { logger, lines } = capturingLogger();
      const emf: string[] = [];
      try {
        const run = await runCanary(config, {
          deadlineMs: Date.now() + 30_000,
          logger,
          publish: {
            namespace: 'RdsIamCanarySecrets',
            cloudWatch,
            alerts: { topicArn: ALERT_TOPIC, sns },
            writeEmf: (line) => emf.push(line),
          },
          sessionCache: recordingCache(),
        });
        capture('runCanary report', JSON.stringify(run));
        if (cloudWatchDown) expect(emf.length).toBeGreaterThan(0);
      } finally {
        cloudWatch.destroy();
        sns.destroy();
        restore();
      }
      capture(`runCanary log (cloudWatchDown=${cloudWatchDown})`, lines.join('\n'));
      capture(`EMF lines (cloudWatchDown=${cloudWatchDown})`, emf.join('\n'));
    }

    // 3. The CLI, `check --json`, once publishing normally and once with SNS and CloudWatch gone.
    for (const down of [false, true]) {
      const port = await closedPort();
      const sandbox = readSandboxEnv();
      const cli = spawnSync(
        process.execPath,
        [CLI, 'check', '--config', SANDBOX_CONFIG, '--json'],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            PATH: process.env.PATH,
            AWS_ENDPOINT_URL: sandbox.AWS_ENDPOINT_URL,
            AWS_ACCESS_KEY_ID: sandbox.AWS_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY: sandbox.AWS_SECRET_ACCESS_KEY,
            AWS_REGION: sandbox.AWS_REGION,
            CANARY_ALERT_TOPIC_ARN: ALERT_TOPIC,
            ...(down
              ? {
                  AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${port}`,
                  AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${port}`,
                }
              : {}),
          },
        },
      );
      expect(cli.status).toBe(1);
      expect(JSON.parse(cli.stdout).summary.total).toBe(config.targets.length);
      capture(`CLI stdout (down=${down})`, cli.stdout);
      capture(`CLI stderr (down=${down})`, cli.stderr);
    }

    // 4. The Lambda handler: a round, and a cold start with a broken config.
    const stdout: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    const saved = { ...process.env };
    try {
      for (const file of [SANDBOX_CONFIG, writeBrokenConfig()]) {
        vi.resetModules();
        process.env.CANARY_CONFIG = file;
        process.env.CANARY_ALERT_TOPIC_ARN = ALERT_TOPIC;
        const { handler } = await import('../../functions/canary.ts');
        const context = { getRemainingTimeInMillis: () => 60_000 };
        try {
          capture('Lambda return value', JSON.stringify(await handler({}, context as never)));
        } catch (error) {
          capture('Lambda thrown error', error);
          capture('Lambda thrown error (JSON)', JSON.stringify(error));
        }
      }

      // The smoke Lambda fails its invocation with the report inside the error.
      vi.resetModules();
      process.env.CANARY_CONFIG = SANDBOX_CONFIG;
      const smoke = await import('../../functions/smoke.ts');
      const smokeContext = { getRemainingTimeInMillis: () => 20_000 };
      const failure = await smoke.handler({}, smokeContext as never).catch((e: unknown) => e);
      expect((failure as { code?: string }).code).toBe('SMOKE_FAILED');
      capture('smoke Lambda thrown error', failure);
      capture('smoke Lambda error message', (failure as Error).message);
    } finally {
      process.env = saved;
      vi.restoreAllMocks();
      vi.resetModules();
    }
    capture('Lambda stdout', stdout.join(''));

    // 5. What the sandbox received: alerts (SNS Publish), metrics (PutMetricData), all calls.
    const calls = await awsCallsSince(since);
    capture('alerts received by SNS', JSON.stringify(calls.filter((c) => c.service === 'sns')));
    capture(
      'metrics received by CloudWatch',
      JSON.stringify(calls.filter((c) => c.service === 'monitoring')),
    );
    expect(calls.some((c) => c.action === 'Publish')).toBe(true);
    expect(calls.some((c) => c.action === 'PutMetricData')).toBe(true);
  }, 120_000);

  it('finds no token, signature, secret key or session token in anything captured', () => {
    // The scan is only meaningful if there was something to find.
    expect(secrets.size).toBeGreaterThan(10);
    expect(captured.length).toBeGreaterThan(10);

    const findings = scan();

    expect(findings).toEqual([]);
  });

  it('finds a planted token (the scanner works)', () => {
    const token = [...secrets].find((s) => s.includes('X-Amz-Signature='))!;
    captured.push({ where: 'planted', text: `error: login failed with ${token}` });

    const findings = scan().filter((f) => f.where === 'planted');
    captured.pop();

    expect(findings.map((f) => f.what)).toEqual(
      expect.arrayContaining(['exact secret value', 'X-Amz-Signature', 'presigned connect URL']),
    );
  });
});

function writeBrokenConfig(): string {
  const file = join(dir, 'broken.yaml');
  const env = readSandboxEnv();
  // A secret key pasted into the config by mistake must not come back in the error.
  const text = `targets:\n  - { name: a, engine: postgres, host: "db:${env.AWS_SECRET_ACCESS_KEY}", user: u }\n`;
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe('TLS cannot be turned off for a token', () => {
  const base = (tls: string) => `targets:
  - name: a
    engine: postgres
    host: orders.c1a2b3.eu-west-1.rds.amazonaws.com
    user: canary_iam
    ${tls}
`;

  it.each([
    ['tls: false', 'targets[0].tls'],
    ['tls: { ca: rds, rejectUnauthorized: false }', 'targets[0].tls.rejectUnauthorized'],
    ['tls: { ca: rds, enabled: false }', 'targets[0].tls.enabled'],
    ['ssl: false', 'targets[0].ssl'],
    ['sslmode: disable', 'targets[0].sslmode'],
    ['tls: { ca: "" }', 'targets[0].tls.ca'],
    ['tls: null', 'targets[0].tls'],
  ])('refuses `%s` in the config', (tls, path) => {
    const attempt = () => parseConfig(base(tls), { file: '/x/canary.yaml', env: {} });

    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      expect((error as ConfigError).path).toBe(path);
    }
  });

  it('refuses `tls.ca: none`-style values that name no CA file', () => {
    const attempt = () =>
      parseConfig(base('tls: { ca: none }'), { file: '/x/canary.yaml', env: {} });

    expect(attempt).toThrow(ConfigError);
  });
});

describe('a token is never sent to a server that has not completed verified TLS', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });

  function target(port: number, engine: 'postgres' | 'mysql'): ResolvedTarget {
    return sandboxTarget(engine === 'postgres' ? 'orders' : 'ledger', `fake-${engine}`, {
      host: '127.0.0.1',
      port,
      signingPort: port,
      tls: { ca: readSandboxEnv().caPath, serverName: 'localhost' },
      timeoutMs: 2000,
    });
  }

  async function checkAgainst(t: ResolvedTarget) {
    const tokens: string[] = [];
    const result = await runCheck(t, {
      sessionCache: new RoleSessionCache({ identify: async () => 'x' }),
      credentials: canaryCredentials(),
      maxAttempts: 1,
      signToken: async (request) => {
        const signed = await signToken(request);
        tokens.push(signed.token);
        return signed;
      },
    });
    return { result, tokens };
  }

  function receivedText(chunks: Buffer[]): string {
    return Buffer.concat(chunks).toString('latin1');
  }

  it('withholds the token from a PostgreSQL server that answers the SSLRequest with N', async () => {
    const server = await postgresWithoutTls();
    closers.push(server.close);

    const { result, tokens } = await checkAgainst(target(server.port, 'postgres'));

    expect(result.outcome).toBe('TLS_ERROR');
    expect(tokens).toHaveLength(1);
    const text = receivedText(server.received);
    expect(text).not.toContain('X-Amz');
    expect(text).not.toContain(tokens[0]!.slice(0, 40));
  });

  it('withholds the token from a MySQL server that offers no TLS and asks for clear text', async () => {
    const server = await mysqlWithoutTls();
    closers.push(server.close);

    const { result } = await checkAgainst(target(server.port, 'mysql'));

    expect(['TLS_ERROR', 'CANARY_ERROR']).toContain(result.outcome);
    expect(receivedText(server.received)).not.toContain('X-Amz');
  });

  it('withholds the token from a PostgreSQL server whose certificate is from another CA', async () => {
    const fake = await untrustedTlsPostgres();
    closers.push(fake.close);

    const { result } = await checkAgainst(target(fake.port, 'postgres'));

    expect(result.outcome).toBe('TLS_ERROR');
    expect(fake.decrypted().toString('latin1')).not.toContain('X-Amz');
    expect(fake.decrypted().length).toBe(0);
  });
});

/**
 * A PostgreSQL stand-in that accepts the SSLRequest and completes TLS with a self-signed
 * certificate (not from the sandbox CA), recording whatever arrives inside TLS.
 */
async function untrustedTlsPostgres(): Promise<{
  port: number;
  decrypted: () => Buffer;
  close: () => Promise<void>;
}> {
  const keyDir = mkdtempSync(join(tmpdir(), 'untrusted-tls-'));
  const key = join(keyDir, 'key.pem');
  const cert = join(keyDir, 'cert.pem');
  spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  const options = { key: readFileSync(key), cert: readFileSync(cert), isServer: true };
  rmSync(keyDir, { recursive: true, force: true });

  const decrypted: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write('S');
      const tls = new TLSSocket(socket, options);
      tls.on('error', () => {});
      tls.on('data', (data: Buffer) => decrypted.push(data));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    decrypted: () => Buffer.concat(decrypted),
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
