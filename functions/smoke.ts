/**
 * The smoke Lambda: a post-deploy gate. Checks every target (or those the event names) now,
 * re-checks failures through IAM propagation delay within a bound, returns the report, and
 * fails the invocation if any target still fails. Invoked by `rds-iam-canary smoke`, a
 * pipeline, or EventBridge when a stack named in `deploy.smokeOnStacks` finishes deploying.
 * Event shapes: shared/smoke/parse-smoke-event.ts.
 */
import middy from '@middy/core';
import { runRound } from '#shared/check/run-round.ts';
import { type CanaryConfig, loadConfig } from '#shared/config/load-config.ts';
import { selectTargets } from '#shared/config/select-targets.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import { createDiagnoser } from '#shared/diagnose/diagnose-failure.ts';
import { UserInputError } from '#shared/errors.ts';
import { createLogger } from '#shared/log/logger.ts';
import { logResult } from '#shared/run-canary.ts';
import { parseSmokeEvent } from '#shared/smoke/parse-smoke-event.ts';
import { runSmoke, type SmokeReport } from '#shared/smoke/run-smoke.ts';
import { SmokeFailedError } from '#shared/smoke/smoke-failed-error.ts';

/** Time kept back from the Lambda deadline to shape and return the report. */
const DEADLINE_MARGIN_MS = 5_000;

/** The part of the Lambda context the handler uses. */
interface Context {
  getRemainingTimeInMillis(): number;
}

const logger = createLogger({ base: { service: 'rds-iam-canary', function: 'smoke' } });

/** Loaded once per cold start; a failed load is not kept, so a fixed file is picked up. */
let config: CanaryConfig | undefined;

async function smoke(event: unknown, context: Context): Promise<SmokeReport> {
  let request: ReturnType<typeof parseSmokeEvent>;
  let targets: CanaryConfig['targets'];
  try {
    request = parseSmokeEvent(event);
    config ??= loadConfig(process.env.CANARY_CONFIG ?? 'canary.yaml', process.env);
    targets = selectTargets(config.targets, request.targets, 'event.targets');
  } catch (error) {
    if (error instanceof UserInputError) logger.error('smoke_refused', { error: error.message });
    throw error;
  }

  const settings = config.settings;
  // Fresh role sessions for every smoke run: a gate must prove that the trust policies work
  // now, not that a session assumed before the deploy still does.
  const sessionCache = new RoleSessionCache();
  const diagnose = createDiagnoser();
  logger.info('smoke_started', {
    trigger: request.trigger,
    stack: request.stack,
    targets: targets.length,
  });
  const report = await runSmoke(targets, {
    deadlineMs: Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS,
    runRound: (selected, { deadlineMs }) =>
      runRound(selected, {
        deadlineMs,
        concurrency: settings.concurrency,
        perEndpointConnectionsPerSecond: settings.perEndpointConnectionsPerSecond,
        sessionCache,
        diagnose,
      }),
    onRetry: (round, failed) =>
      logger.warn('smoke_retry', { round, targets: failed.map((r) => `${r.target} ${r.outcome}`) }),
  });

  for (const result of report.results) logResult(logger, result);
  logger.info('smoke_finished', { ...report.summary, rounds: report.rounds });

  if (report.summary.failed > 0) throw new SmokeFailedError(report);
  return report;
}

export const handler = middy().handler(smoke);
