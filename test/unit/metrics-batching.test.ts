import { describe, expect, it } from 'vitest';
import { formatEmfLines } from '#shared/publish/emf.ts';
import { batchMetricData, MAX_ITEMS_PER_CALL } from '#shared/publish/put-metrics.ts';
import { buildMetricData, METRICS_PER_TARGET } from '#shared/publish/report-metrics.ts';
import type { CheckResult, RoundReport } from '#shared/report/types.ts';

function result(target: string, overrides: Partial<CheckResult> = {}): CheckResult {
  return {
    target,
    engine: 'postgres',
    endpoint: `${target}.example.com:5432`,
    region: 'eu-west-1',
    principal: null,
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

function report(results: CheckResult[]): RoundReport {
  const failed = results.filter((r) => !r.passed).length;
  return {
    startedAt: '2026-12-04T12:00:00.000Z',
    durationMs: 100,
    summary: { total: results.length, passed: results.length - failed, failed },
    results,
  };
}

describe('buildMetricData', () => {
  it('publishes eight figures per target and three per round with the documented units', () => {
    const data = buildMetricData(report([result('a')]));

    expect(data.map((d) => [d.name, d.unit, d.value, d.dimensions])).toEqual([
      ['CheckSuccess', 'Count', 1, { Target: 'a' }],
      ['AuthRejected', 'Count', 0, { Target: 'a' }],
      ['AssumeRoleLatency', 'Milliseconds', 1, { Target: 'a' }],
      ['TokenLatency', 'Milliseconds', 2, { Target: 'a' }],
      ['ConnectLatency', 'Milliseconds', 3, { Target: 'a' }],
      ['QueryLatency', 'Milliseconds', 4, { Target: 'a' }],
      ['TotalLatency', 'Milliseconds', 10, { Target: 'a' }],
      ['Attempts', 'Count', 1, { Target: 'a' }],
      ['Heartbeat', 'Count', 1, {}],
      ['TargetsChecked', 'Count', 1, {}],
      ['TargetsFailed', 'Count', 0, {}],
    ]);
    expect(data.every((d) => d.timestamp.toISOString() === '2026-12-04T12:00:00.000Z')).toBe(true);
  });

  it('counts an unexpected rejection, not a guard doing its job', () => {
    const data = buildMetricData(
      report([
        result('app', { outcome: 'AUTH_REJECTED', passed: false }),
        result('guard', { outcome: 'AUTH_REJECTED', expect: 'reject', passed: true }),
      ]),
    );
    const value = (name: string, target: string) =>
      data.find((d) => d.name === name && d.dimensions.Target === target)?.value;

    expect(value('AuthRejected', 'app')).toBe(1);
    expect(value('CheckSuccess', 'app')).toBe(0);
    expect(value('AuthRejected', 'guard')).toBe(0);
    expect(value('CheckSuccess', 'guard')).toBe(1);
    expect(data.find((d) => d.name === 'TargetsFailed')?.value).toBe(1);
  });
});

describe('batchMetricData', () => {
  it('splits a 200-target round into calls of at most 1000 items, in order', () => {
    const data = buildMetricData(report(Array.from({ length: 200 }, (_, i) => result(`t${i}`))));

    const batches = batchMetricData(data, { maxItems: MAX_ITEMS_PER_CALL, maxBytes: 900_000 });

    expect(data).toHaveLength(200 * METRICS_PER_TARGET + 3);
    expect(batches.map((b) => b.length)).toEqual([1000, 603]);
    expect(batches.flat()).toEqual(data);
  });

  it('splits by size before the item limit when items are large', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(1000) }));

    const batches = batchMetricData(items, { maxItems: 1000, maxBytes: 10_000 });

    expect(batches.length).toBeGreaterThan(5);
    for (const batch of batches) {
      expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThanOrEqual(10_000);
    }
    expect(batches.flat()).toEqual(items);
  });

  it('returns no batch for no data and one batch for one item', () => {
    expect(batchMetricData([], { maxItems: 10, maxBytes: 1000 })).toEqual([]);
    expect(batchMetricData([1], { maxItems: 10, maxBytes: 1000 })).toEqual([[1]]);
  });
});

describe('formatEmfLines', () => {
  it('writes one line per target and one for the round, carrying every value', () => {
    const data = buildMetricData(
      report([result('a'), result('b', { outcome: 'DNS_ERROR', passed: false })]),
    );

    const lines = formatEmfLines('RdsIamCanary', data).map((l) => JSON.parse(l));

    expect(lines).toHaveLength(3);
    const b = lines.find((l) => l.Target === 'b');
    expect(b._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'RdsIamCanary',
      Dimensions: [['Target']],
    });
    expect(b._aws.CloudWatchMetrics[0].Metrics).toHaveLength(METRICS_PER_TARGET);
    expect(b.CheckSuccess).toBe(0);
    const round = lines.find((l) => l.Target === undefined);
    expect(round._aws.CloudWatchMetrics[0].Dimensions).toEqual([[]]);
    expect(round).toMatchObject({ Heartbeat: 1, TargetsChecked: 2, TargetsFailed: 1 });
    const values = lines.reduce((n, l) => n + l._aws.CloudWatchMetrics[0].Metrics.length, 0);
    expect(values).toBe(data.length);
  });
});
