import {
  type CloudWatchClient,
  type MetricDatum as CloudWatchDatum,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import type { Logger } from '#shared/log/logger.ts';
import { formatEmfLines } from './emf.ts';
import type { MetricDatum } from './report-metrics.ts';

/**
 * PutMetricData limits: 1000 MetricData items and 1 MB of request per call.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 * The byte budget keeps a margin under 1 MB for the envelope and encoding.
 */
export const MAX_ITEMS_PER_CALL = 1000;
export const MAX_BYTES_PER_CALL = 900_000;

export interface PutMetricsOptions {
  /** A client built with retries (shared/publish/aws-clients.ts). */
  client: CloudWatchClient;
  namespace: string;
  logger: Logger;
  /** Where embedded-metric-format lines go when a call fails (default: stdout). */
  writeEmf?: (line: string) => void;
  /** Stops sending (the rest falls back to EMF) when aborted, e.g. near the Lambda deadline. */
  signal?: AbortSignal;
  maxItemsPerCall?: number;
  maxBytesPerCall?: number;
}

export interface PutMetricsResult {
  /** PutMetricData calls that succeeded, and the values they carried. */
  calls: number;
  sent: number;
  /** Values written as EMF lines instead, and how many lines. */
  fallbackValues: number;
  fallbackLines: number;
}

/**
 * Sends the figures with PutMetricData in batches within the API limits; the SDK retries
 * each call (throttling, 5xx). A batch that still fails is written as EMF lines and logged,
 * so no figure is lost and none is sent twice.
 */
export async function putMetrics(
  data: MetricDatum[],
  options: PutMetricsOptions,
): Promise<PutMetricsResult> {
  const writeEmf = options.writeEmf ?? ((line: string) => process.stdout.write(`${line}\n`));
  const batches = batchMetricData(data.map(toCloudWatchDatum), {
    maxItems: options.maxItemsPerCall ?? MAX_ITEMS_PER_CALL,
    maxBytes: options.maxBytesPerCall ?? MAX_BYTES_PER_CALL,
  });
  const result: PutMetricsResult = { calls: 0, sent: 0, fallbackValues: 0, fallbackLines: 0 };

  let offset = 0;
  for (const batch of batches) {
    const slice = data.slice(offset, offset + batch.length);
    offset += batch.length;
    try {
      options.signal?.throwIfAborted();
      await options.client.send(
        new PutMetricDataCommand({ Namespace: options.namespace, MetricData: batch }),
        { abortSignal: options.signal },
      );
      result.calls += 1;
      result.sent += batch.length;
    } catch (error) {
      const lines = formatEmfLines(options.namespace, slice);
      for (const line of lines) writeEmf(line);
      result.fallbackValues += slice.length;
      result.fallbackLines += lines.length;
      options.logger.error('metrics_publish_failed', {
        namespace: options.namespace,
        values: slice.length,
        error_code: errorCode(error),
        error_message: (error as Error).message,
        fallback: 'emf',
        emf_lines: lines.length,
      });
    }
  }
  return result;
}

/**
 * Splits data into consecutive batches of at most `maxItems` items and about `maxBytes`
 * of request body each (estimated from the JSON 1.0 encoding CloudWatch uses).
 */
export function batchMetricData<T>(
  data: T[],
  limits: { maxItems: number; maxBytes: number },
): T[][] {
  const envelope = 200;
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = envelope;
  for (const item of data) {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (
      current.length > 0 &&
      (current.length >= limits.maxItems || bytes + size > limits.maxBytes)
    ) {
      batches.push(current);
      current = [];
      bytes = envelope;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function toCloudWatchDatum(datum: MetricDatum): CloudWatchDatum {
  return {
    MetricName: datum.name,
    Unit: datum.unit,
    Value: datum.value,
    Timestamp: datum.timestamp,
    Dimensions: Object.entries(datum.dimensions).map(([Name, Value]) => ({ Name, Value })),
  };
}

/** The AWS error name (ThrottlingException, InternalServiceError...), else a Node code. */
export function errorCode(error: unknown): string {
  const e = error as { name?: string; code?: string } | undefined;
  return e?.code ?? e?.name ?? 'Error';
}
