/**
 * The Lambda handlers, in-process, with the event shapes AWS delivers (a scheduled event, a
 * direct invocation, a CloudFormation stack status change, malformed payloads), against the
 * sandbox's databases and local AWS endpoints with sandbox/canary.sandbox.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRound } from '#shared/check/run-round.ts';
import { loadConfig } from '#shared/config/load-config.ts';
import type { RoundReport } from '#shared/report/types.ts';
import { runSmoke } from '#shared/smoke/run-smoke.ts';
import { parseSmokeFailure } from '#shared/smoke/smoke-failed-error.ts';
import { lambdaContext, scheduledEvent, stackStatusChange } from '../support/lambda-events.ts';
import { readSandboxEnv, sandboxFetch } from '../support/sandbox.ts';

const CONFIG = 'sandbox/canary.sandbox.yaml';
const CANARY_USER = 'arn:aws:iam::111111111111:user/canary';
const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_PROFILE',
  'CANARY_CONFIG',
  'CANARY_ALERT_TOPIC_ARN',
  'CANARY_METRIC_NAMESPACE',
];
const saved: Record<string, string | undefined> = {};

type Handler = (event: unknown, context: unknown) => Promise<RoundReport>;
let smoke: Handler;
let canary: Handler;

/** Calls the smoke handler; returns the error it fails with (or throws if it succeeds). */
async function smokeFailure(event: unknown, remainingMs = 20_000) {
  try {
    await smoke(event, lambdaContext(remainingMs));
  } catch (error) {
    return error as Error & { code?: string; path?: string };
  }
  throw new Error('the smoke handler succeeded');
}

async function awsCallsSince(since: string, service: string) {
  return sandboxFetch<{ action: string }[]>(
    `/calls?service=${service}&since=${encodeURIComponent(since)}`,
  );
}

beforeAll(async () => {
  const sandbox = readSandboxEnv();
  for (const key of ENV_KEYS) saved[key] = process.env[key];
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: sandbox.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: sandbox.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: sandbox.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: sandbox.AWS_REGION,
    CANARY_CONFIG: CONFIG,
    CANARY_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:rds-iam-canary-test-alerts',
    CANARY_METRIC_NAMESPACE: 'RdsIamCanaryHandlerTest',
  });
  // Imported after the environment is set: the handlers build their clients at load.
  smoke = (await import('../../functions/smoke.ts')).handler as unknown as Handler;
  canary = (await import('../../functions/canary.ts')).handler as unknown as Handler;
});

afterAll(() => {
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

describe('canary handler', () => {
  it('runs a round on a scheduled event and publishes the heartbeat', async () => {
    const since = new Date().toISOString();

    const report = await canary(
      scheduledEvent(),
      lambdaContext(60_000, 'rds-iam-canary-dev-canary'),
    );

    const config = loadConfig(CONFIG);
    expect(report.results.map((r) => r.target)).toEqual(config.targets.map((t) => t.name));
    expect(report.results.find((r) => r.target === 'orders-primary')?.outcome).toBe('CONNECTED');
    const metrics = await awsCallsSince(since, 'monitoring');
    expect(metrics.some((c) => c.action === 'PutMetricData')).toBe(true);
  });
});

describe('smoke handler', () => {
  it('checks the targets a direct invocation names and returns the report', async () => {
    const report = (await smoke(
      { targets: ['ledger-primary', 'orders-primary'] },
      lambdaContext(60_000),
    )) as RoundReport & { rounds: number };

    expect(report.results.map((r) => [r.target, r.outcome])).toEqual([
      ['orders-primary', 'CONNECTED'],
      ['ledger-primary', 'CONNECTED'],
    ]);
    expect(report.summary).toEqual({ total: 2, passed: 2, failed: 0 });
    expect(report.rounds).toBe(1);
  });

  it('fails the invocation when a target fails, other targets unaffected', async () => {
    const error = await smokeFailure({ targets: ['orders-primary', 'orders-retired-host'] });

    const { report } = parseSmokeFailure(error.message);
    expect(error.code).toBe('SMOKE_FAILED');
    expect(error.name).toBe('SmokeFailedError');
    expect(report?.results.map((r) => [r.target, r.outcome, r.passed])).toEqual([
      ['orders-primary', 'CONNECTED', true],
      ['orders-retired-host', 'DNS_ERROR', false],
    ]);
    // 20 s left: a retry round (15 s pause plus a round) would not fit before the deadline.
    expect(report?.rounds).toBe(1);
  });

  it('checks every target when a CloudFormation stack finishes updating', async () => {
    const error = await smokeFailure(stackStatusChange('UPDATE_COMPLETE', 'orders-database'));

    const { report } = parseSmokeFailure(error.message);
    const names = loadConfig(CONFIG).targets.map((t) => t.name);
    expect(error.code).toBe('SMOKE_FAILED');
    expect(report?.results.map((r) => r.target)).toEqual(names);
    expect(report?.results.find((r) => r.target === 'payments-cross-account')?.passed).toBe(true);
    expect(report?.results.find((r) => r.target === 'orders-readonly-guard')).toMatchObject({
      outcome: 'AUTH_REJECTED',
      passed: true,
    });
  });

  it('refuses malformed events before checking anything', async () => {
    const since = new Date().toISOString();
    const cases: [unknown, string][] = [
      ['orders-primary', 'event'],
      [['orders-primary'], 'event'],
      [{ target: ['orders-primary'] }, 'event.target'],
      [{ targets: 'orders-primary' }, 'event.targets'],
      [{ targets: ['orders-primary', 42] }, 'event.targets[1]'],
      [{ targets: ['orders-primary', 'no-such-target'] }, 'event.targets'],
      [stackStatusChange('UPDATE_ROLLBACK_COMPLETE'), 'event.detail.status-details.status'],
      [
        { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' },
        'event.detail-type',
      ],
    ];

    for (const [event, path] of cases) {
      const error = await smokeFailure(event);
      expect({ code: error.code, path: error.path }).toEqual({ code: 'INVALID_INPUT', path });
    }
    expect(await awsCallsSince(since, 'sts')).toEqual([]);
  });
});

describe('smoke retries', () => {
  it('passes once an IAM change has propagated, re-checking only the failed target', async () => {
    const config = loadConfig(CONFIG);
    const targets = config.targets.filter((t) =>
      ['orders-primary', 'ledger-primary'].includes(t.name),
    );
    const checked: string[][] = [];
    // The canary's permission on orders is missing at first (a policy not yet propagated),
    // and back before the second round.
    await sandboxFetch('/principals', {
      method: 'PATCH',
      body: {
        arn: CANARY_USER,
        policies: [
          {
            Effect: 'Allow',
            Action: 'rds-db:connect',
            Resource:
              'arn:aws:rds-db:eu-west-1:111111111111:dbuser:db-LEDGER0PRIMARY000000000001/canary_iam',
          },
        ],
      },
    });

    try {
      const report = await runSmoke(targets, {
        deadlineMs: Date.now() + 60_000,
        retryDelaysMs: [0],
        minRoundBudgetMs: 1_000,
        runRound: (selected, options) => {
          checked.push(selected.map((t) => t.name));
          return runRound(selected, options);
        },
        // The pause between rounds is when the change propagates.
        sleep: async () => {
          await sandboxFetch('/reset', { method: 'POST' });
        },
      });

      expect(checked).toEqual([['orders-primary', 'ledger-primary'], ['orders-primary']]);
      expect(report.rounds).toBe(2);
      expect(report.summary).toEqual({ total: 2, passed: 2, failed: 0 });
    } finally {
      await sandboxFetch('/reset', { method: 'POST' });
    }
  });
});
