/**
 * `rds-iam-canary smoke` against a local Lambda Invoke endpoint on loopback
 * (test/support/local-lambda.ts) that runs the real smoke handler in this process, which
 * checks the sandbox's databases. The CLI runs as a child with AWS_ENDPOINT_URL_LAMBDA.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoundReport } from '#shared/report/types.ts';
import { type LocalHandler, type LocalLambda, startLocalLambda } from '../support/local-lambda.ts';
import { readSandboxEnv } from '../support/sandbox.ts';

const CLI = fileURLToPath(new URL('../../bin/rds-iam-canary.mjs', import.meta.url));
const ENV_KEYS = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];
const saved: Record<string, string | undefined> = {};
let lambda: LocalLambda;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with only the local Lambda endpoint and dummy keys in its environment. */
function runCli(args: string[]): Promise<Run> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'smoke', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  const sandbox = readSandboxEnv();
  for (const key of [...ENV_KEYS, 'CANARY_CONFIG']) saved[key] = process.env[key];
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: sandbox.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: sandbox.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: sandbox.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: sandbox.AWS_REGION,
    CANARY_CONFIG: 'sandbox/canary.sandbox.yaml',
  });
  const smoke = (await import('../../functions/smoke.ts')).handler as unknown as LocalHandler;
  const broken: LocalHandler = async () => {
    throw Object.assign(new Error('canary.yaml: targets[0].port: expected a port number'), {
      name: 'ConfigError',
    });
  };
  // 20 s per invocation: a failed target is reported after one round (no retry fits).
  lambda = await startLocalLambda(
    { 'rds-iam-canary-test-smoke': smoke, 'rds-iam-canary-broken-smoke': broken },
    20_000,
  );
});

afterAll(async () => {
  await lambda?.close();
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('rds-iam-canary smoke', () => {
  it('invokes rds-iam-canary-<stage>-smoke synchronously and exits 0 when all pass', async () => {
    const run = await runCli([
      '--stage',
      'test',
      '--region',
      'eu-west-1',
      '--target',
      'orders-primary',
      '--target',
      'ledger-primary',
    ]);

    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('orders-primary');
    expect(run.stdout).toContain('ledger-primary');
    expect(lambda.invocations.at(-1)).toEqual({
      functionName: 'rds-iam-canary-test-smoke',
      invocationType: 'RequestResponse',
      payload: { targets: ['orders-primary', 'ledger-primary'] },
      signed: true,
    });
  });

  it('prints the report as JSON with --json', async () => {
    const run = await runCli([
      '--stage',
      'test',
      '--region',
      'eu-west-1',
      '--target',
      'orders-primary',
      '--json',
    ]);

    const report = JSON.parse(run.stdout) as RoundReport;
    expect(run.status).toBe(0);
    expect(report.results.map((r) => [r.target, r.outcome])).toEqual([
      ['orders-primary', 'CONNECTED'],
    ]);
  });

  it('prints the table and exits 1 when the function fails a target', async () => {
    const run = await runCli([
      '--stage',
      'test',
      '--region',
      'eu-west-1',
      '--target',
      'orders-primary',
      '--target',
      'orders-retired-host',
      '--json',
    ]);

    const report = JSON.parse(run.stdout) as RoundReport;
    expect(run.status).toBe(1);
    expect(report.results.map((r) => [r.target, r.outcome])).toEqual([
      ['orders-primary', 'CONNECTED'],
      ['orders-retired-host', 'DNS_ERROR'],
    ]);
    expect(run.stderr).toContain('SmokeFailedError');
  });

  it('exits 1 on any other function error, printing its type', async () => {
    const run = await runCli([
      '--function',
      'rds-iam-canary-broken-smoke',
      '--region',
      'eu-west-1',
    ]);

    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('ConfigError: canary.yaml: targets[0].port');
  });

  it('exits 2 when the function does not exist', async () => {
    const run = await runCli(['--stage', 'nope', '--region', 'eu-west-1']);

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('ResourceNotFoundException');
  });

  it('exits 2 without a stage or region', async () => {
    const noStage = await runCli(['--region', 'eu-west-1']);
    const noRegion = await runCli(['--stage', 'test']);

    expect(noStage.status).toBe(2);
    expect(noStage.stderr).toContain('--stage');
    expect(noRegion.status).toBe(2);
  });
});
