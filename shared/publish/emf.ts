import type { MetricDatum } from './report-metrics.ts';

/**
 * CloudWatch embedded metric format: log lines that CloudWatch Logs turns into metrics.
 * The canary writes its figures this way only when PutMetricData keeps failing, so that a
 * round's numbers are never lost (in Lambda, stdout goes to CloudWatch Logs).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

/** EMF allows at most 100 metrics in one line. */
const MAX_METRICS_PER_LINE = 100;

/**
 * One JSON line per (timestamp, dimension values) group, each with at most 100 metrics and
 * each metric name once per line.
 */
export function formatEmfLines(namespace: string, data: MetricDatum[]): string[] {
  const groups = new Map<string, MetricDatum[][]>();
  for (const datum of data) {
    const key = JSON.stringify([datum.timestamp.getTime(), Object.entries(datum.dimensions)]);
    const lines = groups.get(key) ?? [];
    let line = lines.find(
      (l) => l.length < MAX_METRICS_PER_LINE && !l.some((d) => d.name === datum.name),
    );
    if (!line) {
      line = [];
      lines.push(line);
    }
    line.push(datum);
    groups.set(key, lines);
  }

  return [...groups.values()].flat().map((line) => formatLine(namespace, line));
}

function formatLine(namespace: string, line: MetricDatum[]): string {
  const first = line[0]!;
  const dimensionNames = Object.keys(first.dimensions);
  const record: Record<string, unknown> = {
    _aws: {
      Timestamp: first.timestamp.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [dimensionNames],
          Metrics: line.map((d) => ({ Name: d.name, Unit: d.unit })),
        },
      ],
    },
    ...first.dimensions,
  };
  for (const d of line) record[d.name] = d.value;
  return JSON.stringify(record);
}
