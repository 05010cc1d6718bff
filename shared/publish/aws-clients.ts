import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * The publishing clients, built once per process (Lambda container, CLI run) and reused.
 * Credentials and endpoint come from the SDK's default chain (AWS_ENDPOINT_URL included).
 */

/** Each call is tried up to 3 times by the SDK (standard mode: jittered backoff, 5xx, throttling). */
const MAX_ATTEMPTS = 3;

/** A hung endpoint must not eat the round's deadline. */
const REQUEST_HANDLER = { connectionTimeout: 3_000, requestTimeout: 5_000 };

/** CloudWatch in `region`, else the SDK's own region chain (AWS_REGION, profile). */
export function createCloudWatchClient(region?: string): CloudWatchClient {
  return new CloudWatchClient({
    ...(region ? { region } : {}),
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER,
  });
}

/** SNS in the topic's own region (taken from its ARN), so alerts reach it from anywhere. */
export function createSnsClient(topicArn: string): SNSClient {
  const region = /^arn:aws[\w-]*:sns:([a-z0-9-]+):/.exec(topicArn)?.[1];
  return new SNSClient({
    ...(region ? { region } : {}),
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: REQUEST_HANDLER,
  });
}
