import type { CheckResult, RoundReport } from '#shared/report/types.ts';

/**
 * The figures a round publishes, independent of how they are sent (PutMetricData, or
 * embedded-metric-format log lines when that fails). Names and units are a contract: alarms
 * and dashboards (serverless.yml) and the README refer to them.
 */
export interface MetricDatum {
  name: MetricName;
  unit: 'Count' | 'Milliseconds';
  value: number;
  /** `{ Target: name }` for per-target figures; empty for per-round ones. */
  dimensions: Record<string, string>;
  timestamp: Date;
}

export type MetricName =
  | 'CheckSuccess'
  | 'AuthRejected'
  | 'AssumeRoleLatency'
  | 'TokenLatency'
  | 'ConnectLatency'
  | 'QueryLatency'
  | 'TotalLatency'
  | 'Attempts'
  | 'Heartbeat'
  | 'TargetsChecked'
  | 'TargetsFailed';

/** The namespace when CANARY_METRIC_NAMESPACE is not set. */
export const DEFAULT_METRIC_NAMESPACE = 'RdsIamCanary';

/** Metrics per target (8) and per round (3): a round of n targets publishes 8n + 3 values. */
export const METRICS_PER_TARGET = 8;

/**
 * Every figure of a round, stamped with the round's start time.
 * Per target (dimension `Target`): CheckSuccess, AuthRejected, five latencies, Attempts.
 * Per round (no dimension): Heartbeat, TargetsChecked, TargetsFailed.
 */
export function buildMetricData(report: RoundReport): MetricDatum[] {
  const timestamp = new Date(report.startedAt);
  const data = report.results.flatMap((result) => buildTargetData(result, timestamp));

  const round = (name: MetricName, value: number): MetricDatum => ({
    name,
    unit: 'Count',
    value,
    dimensions: {},
    timestamp,
  });
  data.push(
    round('Heartbeat', 1),
    round('TargetsChecked', report.summary.total),
    round('TargetsFailed', report.summary.failed),
  );
  return data;
}

function buildTargetData(result: CheckResult, timestamp: Date): MetricDatum[] {
  const dimensions = { Target: result.target };
  const count = (name: MetricName, value: number): MetricDatum => ({
    name,
    unit: 'Count',
    value,
    dimensions,
    timestamp,
  });
  const ms = (name: MetricName, value: number): MetricDatum => ({
    name,
    unit: 'Milliseconds',
    // One NaN would make CloudWatch refuse the whole batch.
    value: Number.isFinite(value) ? Math.max(0, value) : 0,
    dimensions,
    timestamp,
  });

  // AuthRejected counts rejections that hurt: a `reject` guard being refused is its success.
  const unexpectedRejection = result.outcome === 'AUTH_REJECTED' && result.expect === 'connect';
  const t = result.timings;
  return [
    count('CheckSuccess', result.passed ? 1 : 0),
    count('AuthRejected', unexpectedRejection ? 1 : 0),
    ms('AssumeRoleLatency', t.assumeRoleMs),
    ms('TokenLatency', t.tokenMs),
    ms('ConnectLatency', t.connectMs),
    ms('QueryLatency', t.queryMs),
    ms('TotalLatency', t.totalMs),
    count('Attempts', result.attempts),
  ];
}
