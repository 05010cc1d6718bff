/** Lambda events as AWS delivers them, for handler tests. */

const ACCOUNT = '111111111111';

/** EventBridge "CloudFormation Stack Status Change". */
export function stackStatusChange(status: string, stackName = 'orders-database') {
  const stackId = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/${stackName}/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d`;
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'CloudFormation Stack Status Change',
    source: 'aws.cloudformation',
    account: ACCOUNT,
    time: '2026-12-04T16:00:00Z',
    region: 'eu-west-1',
    resources: [stackId],
    detail: {
      'stack-id': stackId,
      'status-details': { status, 'status-reason': '' },
      'client-request-token': '',
    },
  };
}

/** EventBridge scheduled event (the canary's `schedule` trigger). */
export function scheduledEvent() {
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: '2026-12-04T16:00:00Z',
    region: 'eu-west-1',
    resources: [
      `arn:aws:events:eu-west-1:${ACCOUNT}:rule/rds-iam-canary-dev-CanaryEventsRuleSchedule1`,
    ],
    detail: {},
  };
}

/** The part of the Lambda context the handlers read, with `remainingMs` left. */
export function lambdaContext(remainingMs: number, functionName = 'rds-iam-canary-dev-smoke') {
  const deadline = Date.now() + remainingMs;
  return {
    functionName,
    functionVersion: '$LATEST',
    awsRequestId: '8f5b5c9e-0000-4000-8000-000000000000',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/12/04/[$LATEST]0000',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
