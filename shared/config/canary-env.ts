import { DEFAULT_METRIC_NAMESPACE } from '#shared/publish/report-metrics.ts';

/** Deployment settings from the environment, the same for the Lambda and the CLI. */
export interface CanaryEnv {
  /** CANARY_CONFIG (default `canary.yaml` in the working directory). */
  configPath: string;
  /** CANARY_ALERT_TOPIC_ARN; when unset, alerts are skipped (with one warning). */
  alertTopicArn?: string;
  /** CANARY_METRIC_NAMESPACE (default `RdsIamCanary`). */
  metricNamespace: string;
}

/** Reads CANARY_CONFIG, CANARY_ALERT_TOPIC_ARN and CANARY_METRIC_NAMESPACE; blank means unset. */
export function readCanaryEnv(env: Record<string, string | undefined>): CanaryEnv {
  const alertTopicArn = env.CANARY_ALERT_TOPIC_ARN?.trim();
  return {
    configPath: env.CANARY_CONFIG?.trim() || 'canary.yaml',
    ...(alertTopicArn ? { alertTopicArn } : {}),
    metricNamespace: env.CANARY_METRIC_NAMESPACE?.trim() || DEFAULT_METRIC_NAMESPACE,
  };
}
