import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { SNSClient } from '@aws-sdk/client-sns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '#shared/log/logger.ts';
import { createCloudWatchClient, createSnsClient } from '#shared/publish/aws-clients.ts';
import { publishAlerts } from '#shared/publish/publish-alerts.ts';
import { putMetrics } from '#shared/publish/put-metrics.ts';
import { buildMetricData } from '#shared/publish/report-metrics.ts';
import type { CheckResult, RoundReport } from '#shared/report/types.ts';
import { readSandboxEnv, sandboxFetch } from '../support/sandbox.ts';

// Names of their own, so that calls of other clients of the sandbox never count here.
const TOPIC = `arn:aws:sns:eu-west-1:111111111111:publish-test-${process.pid}`;
const NAMESPACE = `RdsIamCanaryTest${process.pid}`;

interface RecordedCall {
  time: string;
  service: string;
  action: string;
  outcome: string;
  status: number;
  params: Record<string, unknown>;
}

let cloudWatch: CloudWatchClient;
let sns: SNSClient;
const saved = { ...process.env };

beforeAll(() => {
  const env = readSandboxEnv();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: env.AWS_REGION,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  cloudWatch = createCloudWatchClient('eu-west-1');
  sns = createSnsClient(TOPIC);
});

afterEach(async () => {
  await sandboxFetch('/reset', { method: 'POST' });
});

afterAll(() => {
  cloudWatch?.destroy();
  sns?.destroy();
  process.env = saved;
});

function result(target: string, overrides: Partial<CheckResult> = {}): CheckResult {
  return {
    target,
    engine: 'postgres',
    endpoint: 'orders-primary.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com:15432',
    region: 'eu-west-1',
    principal: 'arn:aws:iam::111111111111:user/canary',
    expect: 'connect',
    outcome: 'CONNECTED',
    passed: true,
    attempts: 1,
    timings: { assumeRoleMs: 1, tokenMs: 2, connectMs: 3, queryMs: 4, totalMs: 10 },
    tokenAgeSeconds: 0,
    error: null,
    diagnosis: [],
    tags: {},
    ...overrides,
  };
}

function rejected(target: string, overrides: Partial<CheckResult> = {}): CheckResult {
  return result(target, {
    outcome: 'AUTH_REJECTED',
    passed: false,
    attempts: 2,
    error: { code: '28000', message: 'PAM authentication failed for user "canary_iam"' },
    ...overrides,
  });
}

function report(results: CheckResult[]): RoundReport {
  const failed = results.filter((r) => !r.passed).length;
  return {
    startedAt: new Date().toISOString(),
    durationMs: 5,
    summary: { total: results.length, passed: results.length - failed, failed },
    results,
  };
}

function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: createLogger({ sink: (l) => lines.push(JSON.parse(l)) }), lines };
}

/** This file's calls to `service` since `since` (its namespace or topic). */
async function callsSince(since: string, service: string): Promise<RecordedCall[]> {
  const calls = await sandboxFetch<RecordedCall[]>(
    `/calls?${new URLSearchParams({ service, since })}`,
  );
  return calls.filter((c) => c.params.Namespace === NAMESPACE || c.params.TopicArn === TOPIC);
}

async function injectFaults(service: string, count: number): Promise<void> {
  await sandboxFetch('/faults', { method: 'POST', body: { service, status: 500, count } });
}

describe('putMetrics against CloudWatch', () => {
  it('sends a 200-target round (1603 values) in two calls within the 1000-item limit', async () => {
    const since = new Date().toISOString();
    const data = buildMetricData(report(Array.from({ length: 200 }, (_, i) => result(`t${i}`))));
    const { logger, lines } = captureLogger();

    const sent = await putMetrics(data, { client: cloudWatch, namespace: NAMESPACE, logger });

    expect(sent).toEqual({ calls: 2, sent: 1603, fallbackValues: 0, fallbackLines: 0 });
    expect(lines).toEqual([]);
    const calls = (await callsSince(since, 'monitoring')).filter((c) => c.outcome === 'ok');
    const sizes = calls.map((c) => (c.params.MetricData as unknown[]).length);
    expect(sizes).toEqual([1000, 603]);
    expect(calls.every((c) => c.params.Namespace === NAMESPACE)).toBe(true);
    const last = (
      calls[1]!.params.MetricData as { MetricName: string; Dimensions?: unknown[] }[]
    ).at(-1);
    expect(last).toMatchObject({ MetricName: 'TargetsFailed' });
  });

  it('retries a failed call and sends it once', async () => {
    await injectFaults('monitoring', 2);
    const since = new Date().toISOString();
    const { logger } = captureLogger();

    const sent = await putMetrics(buildMetricData(report([result('a')])), {
      client: cloudWatch,
      namespace: NAMESPACE,
      logger,
    });

    expect(sent.calls).toBe(1);
    const calls = await callsSince(since, 'monitoring');
    expect(calls.map((c) => c.status)).toEqual([500, 500, 200]);
  });

  it('writes every value as EMF lines when CloudWatch keeps failing', async () => {
    await injectFaults('monitoring', 50);
    const data = buildMetricData(report([result('a'), rejected('b')]));
    const { logger, lines } = captureLogger();
    const emf: string[] = [];

    const sent = await putMetrics(data, {
      client: cloudWatch,
      namespace: NAMESPACE,
      logger,
      writeEmf: (line) => emf.push(line),
    });

    expect(sent).toMatchObject({ calls: 0, sent: 0, fallbackValues: data.length });
    const records = emf.map((l) => JSON.parse(l));
    const values = records.flatMap((r) =>
      r._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => [
        r.Target ?? '-',
        m.Name,
        r[m.Name],
      ]),
    );
    const expected = data.map((d) => [d.dimensions.Target ?? '-', d.name, d.value]);
    expect(values.sort()).toEqual(expected.sort());
    expect(records.every((r) => r._aws.CloudWatchMetrics[0].Namespace === NAMESPACE)).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({ event: 'metrics_publish_failed', level: 'error', fallback: 'emf' }),
    ]);
  });
});

describe('publishAlerts against SNS', () => {
  it('publishes one message per failed target with subject and attributes', async () => {
    const since = new Date().toISOString();
    const longName = `payments-${'x'.repeat(55)}`;
    const results = [
      result('fine'),
      rejected('orders-primary', { tags: { severity: 'ticket' } }),
      rejected(longName, { outcome: 'ASSUME_ROLE_DENIED' }),
      result('guard', { expect: 'reject', passed: false }),
    ];
    const { logger } = captureLogger();

    const sent = await publishAlerts(results, { client: sns, topicArn: TOPIC, logger });

    expect(sent).toEqual({ sent: 3, failed: 0 });
    const calls = await callsSince(since, 'sns');
    const byTarget = new Map(
      calls.map((c) => [c.params['MessageAttributes.entry.1.Value.StringValue'], c.params]),
    );
    expect([...byTarget.keys()].sort()).toEqual(['guard', longName, 'orders-primary'].sort());
    for (const params of byTarget.values()) {
      expect(params.TopicArn).toBe(TOPIC);
      expect(String(params.Subject).length).toBeLessThan(100);
      expect(String(params.Subject)).toMatch(/^RDS IAM [\x20-\x7e]+$/);
    }
    expect(byTarget.get('orders-primary')).toMatchObject({
      Subject: 'RDS IAM REJECTED orders-primary eu-west-1',
      'MessageAttributes.entry.2.Value.StringValue': 'AUTH_REJECTED',
      'MessageAttributes.entry.3.Value.StringValue': 'ticket',
    });
    expect(byTarget.get('guard')?.Subject).toBe('RDS IAM NOT REJECTED guard eu-west-1');
    expect(byTarget.get(longName)?.['MessageAttributes.entry.3.Value.StringValue']).toBe('page');
  });

  it('sends no secret that an error message carried', async () => {
    const since = new Date().toISOString();
    const secret = readSandboxEnv().AWS_SECRET_ACCESS_KEY;
    const signature = 'c0ffee'.repeat(10).slice(0, 64);
    const { logger } = captureLogger();

    await publishAlerts(
      [
        rejected('leaky', {
          error: {
            code: 'CANARY_ERROR',
            message: `h:5432/?Action=connect&X-Amz-Security-Token=${'Zm9v'.repeat(60)}&X-Amz-Signature=${signature} key ${secret}`,
          },
        }),
      ],
      { client: sns, topicArn: TOPIC, logger },
    );

    const [call] = await callsSince(since, 'sns');
    const body = JSON.stringify(call?.params);
    expect(body).toContain('leaky');
    expect(body).not.toContain(signature);
    expect(body).not.toContain(secret);
    expect(body).not.toContain('Zm9vZm9vZm9v');
  });

  it('logs a publish that keeps failing and carries on with the others', async () => {
    await injectFaults('sns', 3);
    const { logger, lines } = captureLogger();

    const sent = await publishAlerts([rejected('a'), rejected('b')], {
      client: sns,
      topicArn: TOPIC,
      logger,
      concurrency: 1,
    });

    expect(sent).toEqual({ sent: 1, failed: 1 });
    expect(lines).toEqual([
      expect.objectContaining({
        event: 'alert_publish_failed',
        target: 'a',
        outcome: 'AUTH_REJECTED',
        error_code: 'InternalFailure',
      }),
    ]);
  });
});
