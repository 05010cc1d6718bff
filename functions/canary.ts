/**
 * The scheduled canary Lambda: one round over every configured target, metrics and alerts
 * published, one JSON log line per target, the report returned. Settings come from
 * CANARY_CONFIG, CANARY_ALERT_TOPIC_ARN and CANARY_METRIC_NAMESPACE (README.md, "Configuration").
 */
import middy from '@middy/core';
import { readCanaryEnv } from '#shared/config/canary-env.ts';
import { ConfigError } from '#shared/config/config-error.ts';
import { type CanaryConfig, loadConfig } from '#shared/config/load-config.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import { createLogger } from '#shared/log/logger.ts';
import { createCloudWatchClient, createSnsClient } from '#shared/publish/aws-clients.ts';
import type { RoundReport } from '#shared/report/types.ts';
import { type PublishSettings, runCanary } from '#shared/run-canary.ts';

/** Kept back from the Lambda deadline for publishing metrics and alerts after the round. */
const PUBLISH_MARGIN_MS = 5_000;

/** The part of the Lambda context the handler uses. */
interface Context {
  getRemainingTimeInMillis(): number;
}

// Built once per container and reused by every warm invocation.
const logger = createLogger({ base: { service: 'rds-iam-canary', function: 'canary' } });
const env = readCanaryEnv(process.env);
const sessionCache = new RoleSessionCache();
const publish: PublishSettings = {
  namespace: env.metricNamespace,
  cloudWatch: createCloudWatchClient(),
  ...(env.alertTopicArn
    ? { alerts: { topicArn: env.alertTopicArn, sns: createSnsClient(env.alertTopicArn) } }
    : {}),
};
if (!env.alertTopicArn) {
  logger.warn('alerts_disabled', { reason: 'CANARY_ALERT_TOPIC_ARN is not set' });
}

/** Loaded on the first invocation of a container; a failed load is retried next time. */
let config: CanaryConfig | undefined;

async function checkTargets(_event: unknown, context: Context): Promise<RoundReport> {
  try {
    config ??= loadConfig(env.configPath, process.env);
  } catch (error) {
    logger.error('config_invalid', {
      config_path: error instanceof ConfigError ? error.file : env.configPath,
      error_code: (error as { code?: string }).code,
      error: (error as Error).message,
    });
    throw error;
  }

  const now = Date.now();
  const { report } = await runCanary(config, {
    deadlineMs: now + Math.max(1_000, context.getRemainingTimeInMillis() - 2 * PUBLISH_MARGIN_MS),
    publishDeadlineMs: now + context.getRemainingTimeInMillis() - PUBLISH_MARGIN_MS / 2,
    logger,
    publish,
    sessionCache,
  });
  return report;
}

export const handler = middy().handler(checkTargets);
