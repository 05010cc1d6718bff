import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { SNSClient } from '@aws-sdk/client-sns';
import { type RoundOptions, runRound } from '#shared/check/run-round.ts';
import type { CanaryConfig } from '#shared/config/load-config.ts';
import { selectTargets } from '#shared/config/select-targets.ts';
import { createDiagnoser } from '#shared/diagnose/diagnose-failure.ts';
import type { Logger } from '#shared/log/logger.ts';
import { redactValue } from '#shared/log/redact.ts';
import { type PublishAlertsResult, publishAlerts } from '#shared/publish/publish-alerts.ts';
import { type PutMetricsResult, putMetrics } from '#shared/publish/put-metrics.ts';
import { buildMetricData } from '#shared/publish/report-metrics.ts';
import { describeCause } from '#shared/report/render-table.ts';
import type { CheckResult, RoundReport } from '#shared/report/types.ts';

/**
 * The one run both entry points share (CLI `check`/`watch` and the Lambda): a round over the
 * configured targets, one log line per target, then metrics and alerts. The caller loads
 * the config (once) and builds the AWS clients (once); this function never throws for a
 * failed target or a failed publish, only for bad input (an unknown target name).
 */

export interface PublishSettings {
  namespace: string;
  cloudWatch: CloudWatchClient;
  /** Both or neither: no topic means no alerts. */
  alerts?: { topicArn: string; sns: SNSClient };
  /** Where EMF fallback lines go (default stdout, which Lambda sends to CloudWatch Logs). */
  writeEmf?: (line: string) => void;
}

export interface RunCanaryOptions {
  /** Epoch ms by which the round must end (no new checks start near it). */
  deadlineMs: number;
  logger: Logger;
  /** false: check only (`--no-publish`, tests). */
  publish: PublishSettings | false;
  /** Only these targets (CLI `--target`, a smoke event); all when left out or empty. */
  targetNames?: readonly string[];
  /** Role sessions reused across rounds (watch mode, a warm Lambda container). */
  sessionCache?: RoundOptions['sessionCache'];
  /** Called as each target finishes (CLI progress). */
  onResult?: (result: CheckResult) => void;
  /** Epoch ms by which publishing must end (default: deadlineMs + 5 s). */
  publishDeadlineMs?: number;
  /**
   * Aborting stops the round at once (Ctrl-C in `watch`): running checks are cut, and nothing
   * is published, since the cut targets did not really fail.
   */
  signal?: AbortSignal;
  /**
   * Diagnoses each failed check (issue 5). Left out: the default diagnoser, which uses the
   * default credential chain for its optional AWS look-ups. `false`: no diagnosis.
   */
  diagnose?: RoundOptions['diagnose'] | false;
}

export interface CanaryRun {
  report: RoundReport;
  /** Absent when publishing was off. */
  metrics?: PutMetricsResult;
  alerts?: PublishAlertsResult;
}

/** Time publishing may take after the round when the caller gives no bound. */
const DEFAULT_PUBLISH_BUDGET_MS = 5_000;

export async function runCanary(
  config: CanaryConfig,
  options: RunCanaryOptions,
): Promise<CanaryRun> {
  const targets = selectTargets(config.targets, options.targetNames, '--target');
  const { logger } = options;

  const round = await runRound(targets, {
    deadlineMs: options.deadlineMs,
    concurrency: config.settings.concurrency,
    perEndpointConnectionsPerSecond: config.settings.perEndpointConnectionsPerSecond,
    ...(options.sessionCache ? { sessionCache: options.sessionCache } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.diagnose === false ? {} : { diagnose: options.diagnose ?? createDiagnoser() }),
    onResult: (result: CheckResult) => {
      logResult(logger, result);
      options.onResult?.(result);
    },
  });

  // The report leaves the process (stdout, the Lambda's return, alerts): redact it once here.
  const report = redactValue(round) as RoundReport;
  const run: CanaryRun = { report };
  if (options.signal?.aborted) {
    logger.warn('round_interrupted', { total: report.summary.total, published: false });
    return run;
  }
  if (options.publish) {
    const publishDeadline =
      options.publishDeadlineMs ?? options.deadlineMs + DEFAULT_PUBLISH_BUDGET_MS;
    const signal = AbortSignal.timeout(Math.max(1_000, publishDeadline - Date.now()));
    Object.assign(run, await publishRound(report, options.publish, logger, signal));
  }

  logger.info('round_complete', {
    total: report.summary.total,
    passed: report.summary.passed,
    failed: report.summary.failed,
    duration_ms: report.durationMs,
    metrics_sent: run.metrics?.sent,
    metrics_fallback: run.metrics?.fallbackValues,
    alerts_sent: run.alerts?.sent,
    alerts_failed: run.alerts?.failed,
  });
  return run;
}

async function publishRound(
  report: RoundReport,
  settings: PublishSettings,
  logger: Logger,
  signal: AbortSignal,
): Promise<Omit<CanaryRun, 'report'>> {
  const [metrics, alerts] = await Promise.all([
    putMetrics(buildMetricData(report), {
      client: settings.cloudWatch,
      namespace: settings.namespace,
      logger,
      signal,
      ...(settings.writeEmf ? { writeEmf: settings.writeEmf } : {}),
    }),
    settings.alerts
      ? publishAlerts(report.results, {
          client: settings.alerts.sns,
          topicArn: settings.alerts.topicArn,
          logger,
          signal,
        })
      : undefined,
  ]);
  return alerts ? { metrics, alerts } : { metrics };
}

/** One line per target: what on-call needs to act, flat snake_case keys. */
/** One `check_result` line per target (info when passed, warn when not): the same for every entry point. */
export function logResult(logger: Logger, r: CheckResult): void {
  const fields = {
    target: r.target,
    engine: r.engine,
    endpoint: r.endpoint,
    region: r.region,
    principal: r.principal,
    expect: r.expect,
    outcome: r.outcome,
    passed: r.passed,
    attempts: r.attempts,
    cause: describeCause(r) || undefined,
    error_code: r.error?.code,
    error_message: r.error?.message,
    assume_role_ms: r.timings.assumeRoleMs,
    token_ms: r.timings.tokenMs,
    connect_ms: r.timings.connectMs,
    query_ms: r.timings.queryMs,
    total_ms: r.timings.totalMs,
    token_age_seconds: r.tokenAgeSeconds,
    tags: r.tags,
  };
  if (r.passed) logger.info('check_result', fields);
  else logger.warn('check_result', fields);
}
