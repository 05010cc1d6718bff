import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOMES, type RoundReport } from '#shared/report/types.ts';
import { readSandboxEnv, sandboxFetch } from '../support/sandbox.ts';

const CLI = fileURLToPath(new URL('../../bin/rds-iam-canary.mjs', import.meta.url));
const CONFIG = fileURLToPath(new URL('../../sandbox/canary.sandbox.yaml', import.meta.url));
// Names of their own, so that calls of other clients of the sandbox never count here.
const TOPIC = `arn:aws:sns:eu-west-1:111111111111:cli-test-${process.pid}`;
const NAMESPACE = `RdsIamCanaryCliTest${process.pid}`;

/** What each target of the sandbox config must come to (see the file's header). */
const EXPECTED = {
  'orders-primary': ['CONNECTED', true, undefined],
  'ledger-primary': ['CONNECTED', true, undefined],
  'payments-cross-account': ['CONNECTED', true, undefined],
  'orders-readonly-guard': ['AUTH_REJECTED', true, undefined],
  'legacy-primary': ['AUTH_REJECTED', false, 'IAM_AUTH_DISABLED'],
  'orders-untagged-role': ['ASSUME_ROLE_DENIED', false, 'TAG_SESSION_DENIED'],
  'orders-wrong-region': ['AUTH_REJECTED', false, 'REGION_MISMATCH'],
  'orders-retired-host': ['DNS_ERROR', false, 'UNKNOWN'],
  'orders-moved-port': ['CONNECTION_REFUSED', false, 'PORT_MISMATCH'],
} as const;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'canary-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await sandboxFetch('/reset', { method: 'POST' });
});

/** Runs the CLI with the sandbox's AWS settings and nothing else from this environment. */
function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const sandbox = readSandboxEnv();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_ENDPOINT_URL: sandbox.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: sandbox.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: sandbox.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: sandbox.AWS_REGION,
    ...extraEnv,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('rds-iam-canary check', () => {
  it('reports every sandbox target once, exits 1 for the broken paths and publishes', async () => {
    const since = new Date().toISOString();

    const run = await runCli(['check', '--config', CONFIG, '--json'], {
      CANARY_ALERT_TOPIC_ARN: TOPIC,
      CANARY_METRIC_NAMESPACE: NAMESPACE,
    });

    expect(run.status, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as RoundReport;
    expect(report.summary).toEqual({ total: 9, passed: 4, failed: 5 });
    expect(report.results.map((r) => r.target)).toEqual(Object.keys(EXPECTED));
    for (const r of report.results) {
      // The bundled CLI, diagnosis included: its AWS look-ups load SDK clients lazily, which
      // a bundle resolves differently from Node's own loader.
      const [outcome, passed, cause] = EXPECTED[r.target as keyof typeof EXPECTED];
      expect({
        target: r.target,
        outcome: r.outcome,
        passed: r.passed,
        cause: r.diagnosis[0]?.cause,
      }).toEqual({ target: r.target, outcome, passed, cause });
      expect(OUTCOMES).toContain(r.outcome);
      expect(r).toMatchObject({
        engine: expect.any(String),
        endpoint: expect.stringMatching(/:\d+$/),
        region: expect.any(String),
        attempts: expect.any(Number),
        timings: {
          assumeRoleMs: expect.any(Number),
          tokenMs: expect.any(Number),
          connectMs: expect.any(Number),
          queryMs: expect.any(Number),
          totalMs: expect.any(Number),
        },
        diagnosis: expect.any(Array),
      });
      expect(r.error === null).toBe(r.outcome === 'CONNECTED');
    }
    const payments = report.results.find((r) => r.target === 'payments-cross-account');
    expect(payments?.principal).toMatch(/^arn:aws:sts::222222222222:assumed-role\/rds-connect\//);

    const calls = await sandboxFetch<
      { service: string; action: string; params: Record<string, unknown> }[]
    >(`/calls?${new URLSearchParams({ since })}`);
    const alerts = calls.filter((c) => c.action === 'Publish' && c.params.TopicArn === TOPIC);
    expect(
      alerts.map((c) => c.params['MessageAttributes.entry.1.Value.StringValue']).sort(),
    ).toEqual(
      report.results
        .filter((r) => !r.passed)
        .map((r) => r.target)
        .sort(),
    );
    const metrics = calls.filter(
      (c) => c.action === 'PutMetricData' && c.params.Namespace === NAMESPACE,
    );
    expect(metrics.flatMap((c) => c.params.MetricData as unknown[])).toHaveLength(9 * 8 + 3);
    expect(run.stdout + run.stderr).not.toContain(readSandboxEnv().AWS_SECRET_ACCESS_KEY);
  });

  it('checks only the named targets and exits 0 when they pass', async () => {
    const run = await runCli([
      'check',
      '--config',
      CONFIG,
      '--target',
      'orders-primary',
      '--target',
      'orders-readonly-guard',
      '--no-publish',
    ]);

    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/orders-primary\s+CONNECTED/);
    expect(run.stdout).toContain('2 targets: 2 passed, 0 failed');
  });

  it('exits 2 naming an unknown target', async () => {
    const run = await runCli(['check', '--config', CONFIG, '--target', 'nope', '--no-publish']);

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--target');
    expect(run.stderr).toContain('"nope"');
  });

  it('exits 2 for an unknown flag', async () => {
    const run = await runCli(['check', '--colour']);

    expect(run.status).toBe(2);
  });
});

describe('rds-iam-canary watch', () => {
  it('reuses role sessions across rounds', async () => {
    // A session name of its own tells this run's STS calls from any other client's.
    const session = `cli-watch-${process.pid}-${Date.now()}`;
    const file = join(dir, 'chain.yaml');
    writeFileSync(
      file,
      readFileSync(CONFIG, 'utf8')
        .replace('role/canary-hub\n', `role/canary-hub\n        sessionName: ${session}\n`)
        .replace(
          'externalId: canary-7f3a\n',
          `externalId: canary-7f3a\n        sessionName: ${session}\n`,
        )
        .replace(/tls:\n {4}ca: .*\n/, `tls:\n    ca: ${readSandboxEnv().caPath}\n`),
    );
    const since = new Date().toISOString();

    const run = await runCli([
      'watch',
      '--config',
      file,
      '--target',
      'payments-cross-account',
      '--interval',
      '1s',
      '--rounds',
      '3',
      '--no-publish',
    ]);

    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.match(/1 targets: 1 passed/g)).toHaveLength(3);
    const calls = await sandboxFetch<{ action: string; params: Record<string, unknown> }[]>(
      `/calls?${new URLSearchParams({ service: 'sts', since })}`,
    );
    const assumed = calls.filter(
      (c) => c.action === 'AssumeRole' && c.params.RoleSessionName === session,
    );
    // canary-hub, then rds-connect: assumed in round 1 only.
    expect(assumed.map((c) => c.params.RoleArn)).toEqual([
      'arn:aws:iam::111111111111:role/canary-hub',
      'arn:aws:iam::222222222222:role/rds-connect',
    ]);
  });

  it('ends cleanly on SIGINT between rounds', async () => {
    const sandbox = readSandboxEnv();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'watch',
        '--config',
        CONFIG,
        '--target',
        'orders-primary',
        '--interval',
        '1h',
        '--no-publish',
      ],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          AWS_ENDPOINT_URL: sandbox.AWS_ENDPOINT_URL,
          AWS_ACCESS_KEY_ID: sandbox.AWS_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: sandbox.AWS_SECRET_ACCESS_KEY,
          AWS_REGION: sandbox.AWS_REGION,
        },
      },
    );
    try {
      let stdout = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

      await new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          if (stdout.includes('1 targets:')) resolve();
        });
      });
      child.kill('SIGINT');
      const status = await exited;

      expect(status).toBe(0);
      expect(stdout.match(/^round \d+$/gm)).toEqual(['round 1']);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('rds-iam-canary validate', () => {
  it('accepts the sandbox config', async () => {
    const run = await runCli(['validate', '--config', CONFIG]);

    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('valid, 9 targets');
  });

  it('prints the path of the problem on one line and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'targets:\n  - { name: a, engine: postgres, host: db.example.com, user: u, region: eu-west-1 }\n' +
        '  - { name: b, engine: postgres, host: db.example.com, user: u, region: eu-west-1, port: "5432" }\n',
    );

    const run = await runCli(['validate', '--config', file]);

    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^rds-iam-canary: .*bad\.yaml: targets\[1\]\.port: /),
    ]);
  });

  it('reads CANARY_CONFIG when no --config is given', async () => {
    const run = await runCli(['validate'], { CANARY_CONFIG: join(dir, 'missing.yaml') });

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('missing.yaml');
  });
});

describe('usage errors from the new-user test', () => {
  it.each([
    [['watch', '--config', CONFIG, '--rounds', '0'], '--rounds'],
    [['watch', '--config', CONFIG, '--rounds', '-1'], '--rounds'],
    [['watch', '--config', CONFIG, '--rounds', '1.5'], '--rounds'],
    [['demo', '--bogus'], '--bogus'],
    [['check', '--config', CONFIG, '--target', 'nope'], '--target'],
    [['validate', '--config', '/dev/zero'], 'not a regular file'],
  ])('refuses %j with one line and exit 2', async (args, mention) => {
    const run = await runCli(args, { HOME: dir });

    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(mention)]);
  });

  it('refuses smoke without a region before calling AWS', async () => {
    const run = await runCli(['smoke', '--stage', 'prod'], { AWS_REGION: '', HOME: dir });

    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('--region')]);
  });

  it('refuses a FIFO as the config without waiting for a writer', async () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);

    const run = await runCli(['validate', '--config', fifo]);

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('not a regular file');
  });

  it('prints the package version with --version', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };

    const run = await runCli(['--version']);

    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(`rds-iam-canary ${version}`);
  });

  it('prints demo help, --json included, with exit 0', async () => {
    const run = await runCli(['demo', '--help']);

    expect(run.status).toBe(0);
    expect(run.stdout).toContain('--json');
  });

  it('counts one target in the singular', async () => {
    const file = join(dir, 'one.yaml');
    writeFileSync(
      file,
      'targets:\n  - { name: a, engine: postgres, host: db.example.com, user: u, region: eu-west-1 }\n',
    );

    const run = await runCli(['validate', '--config', file]);

    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('valid, 1 target\n');
  });
});
