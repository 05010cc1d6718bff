import { readCanaryEnv } from '#shared/config/canary-env.ts';
import { type CanaryConfig, loadConfig } from '#shared/config/load-config.ts';
import { selectTargets } from '#shared/config/select-targets.ts';
import { createLogger, type Logger } from '#shared/log/logger.ts';
import { createCloudWatchClient, createSnsClient } from '#shared/publish/aws-clients.ts';
import type { PublishSettings } from '#shared/run-canary.ts';

/**
 * What `check` and `watch` share: the flags both take, the config loaded once, the logger
 * (JSON lines on stderr, so stdout stays for the table or report) and the publishing clients.
 */

export const RUN_OPTIONS = {
  config: { type: 'string', short: 'c' },
  target: { type: 'string', short: 't', multiple: true },
  json: { type: 'boolean' },
  'no-publish': { type: 'boolean' },
  'alert-topic-arn': { type: 'string' },
  'metric-namespace': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface RunFlags {
  config?: string;
  target?: string[];
  json?: boolean;
  'no-publish'?: boolean;
  'alert-topic-arn'?: string;
  'metric-namespace'?: string;
}

export interface CliRun {
  config: CanaryConfig;
  logger: Logger;
  publish: PublishSettings | false;
}

/**
 * Loads the config and prepares publishing from flags over the environment
 * (CANARY_CONFIG, CANARY_ALERT_TOPIC_ARN, CANARY_METRIC_NAMESPACE). Throws UserInputError.
 */
export function prepareRun(flags: RunFlags, env = process.env): CliRun {
  const settings = readCanaryEnv(env);
  const config = loadConfig(flags.config ?? settings.configPath, env);
  // A misspelt --target is a usage error: say so before any warning about publishing.
  selectTargets(config.targets, flags.target, '--target');
  // Per-target lines duplicate the table: show only problems (publish failures).
  const logger = createLogger({
    level: 'error',
    sink: (line) => process.stderr.write(`${line}\n`),
    base: { service: 'rds-iam-canary' },
  });
  if (flags['no-publish']) return { config, logger, publish: false };

  const topicArn = flags['alert-topic-arn'] ?? settings.alertTopicArn;
  if (!topicArn) {
    process.stderr.write(
      'rds-iam-canary: CANARY_ALERT_TOPIC_ARN is not set: alerts are skipped (metrics are published)\n',
    );
  }
  const publish: PublishSettings = {
    namespace: flags['metric-namespace'] ?? settings.metricNamespace,
    cloudWatch: createCloudWatchClient(),
    ...(topicArn ? { alerts: { topicArn, sns: createSnsClient(topicArn) } } : {}),
    writeEmf: (line) => process.stderr.write(`${line}\n`),
  };
  return { config, logger, publish };
}
