import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from '#shared/log/logger.ts';
import type { CheckResult } from '#shared/report/types.ts';
import { formatAlert } from './format-alert.ts';
import { errorCode } from './put-metrics.ts';

export interface PublishAlertsOptions {
  client: SNSClient;
  topicArn: string;
  logger: Logger;
  /** Publishes in flight at once (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface PublishAlertsResult {
  sent: number;
  failed: number;
}

/**
 * One SNS message per failed target (see formatAlert). A publish that fails (after the
 * SDK's retries) is logged with the target and outcome, so the failure is still on record;
 * the other alerts and the report are unaffected.
 */
export async function publishAlerts(
  results: CheckResult[],
  options: PublishAlertsOptions,
): Promise<PublishAlertsResult> {
  const failed = results.filter((r) => !r.passed);
  const outcome: PublishAlertsResult = { sent: 0, failed: 0 };
  const queue = [...failed];

  const worker = async () => {
    for (let result = queue.shift(); result; result = queue.shift()) {
      const alert = formatAlert(result);
      try {
        options.signal?.throwIfAborted();
        await options.client.send(
          new PublishCommand({
            TopicArn: options.topicArn,
            Subject: alert.subject,
            Message: alert.message,
            MessageAttributes: {
              target: { DataType: 'String', StringValue: alert.attributes.target },
              outcome: { DataType: 'String', StringValue: alert.attributes.outcome },
              severity: { DataType: 'String', StringValue: alert.attributes.severity },
            },
          }),
          { abortSignal: options.signal },
        );
        outcome.sent += 1;
      } catch (error) {
        outcome.failed += 1;
        options.logger.error('alert_publish_failed', {
          target: result.target,
          outcome: result.outcome,
          subject: alert.subject,
          error_code: errorCode(error),
          error_message: (error as Error).message,
        });
      }
    }
  };

  const workers = Math.min(options.concurrency ?? 8, failed.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return outcome;
}
