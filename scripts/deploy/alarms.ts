/**
 * CloudWatch alarms computed from the targets in the config: one `CheckSuccess` alarm per
 * target, one alarm for any unexpected rejection, one heartbeat alarm for a canary that has
 * stopped running, one for a failed smoke run. Every alarm notifies the on-call topic when
 * it fires and again when it recovers (OK action), so on-call also hears of recovery.
 */
import { createHash } from 'node:crypto';
import type { ResolvedTarget } from '#shared/report/types.ts';
import type { CfnValue } from './least-privilege.ts';

export interface AlarmOptions {
  /** Prefix of every alarm name, e.g. `rds-iam-canary-prod`. */
  namePrefix: string;
  metricNamespace: string;
  /** Length of one evaluation period in seconds (at least the schedule's interval). */
  periodSeconds: number;
  /** N of "N of M": failing periods that fire an alarm. */
  datapointsToAlarm: number;
  /** M of "N of M": periods looked at. */
  evaluationPeriods: number;
  /** Topic that alarms notify, firing and recovering (e.g. `{ Ref: 'OnCallTopic' }`). */
  onCallTopic: CfnValue;
  /** Name of the smoke function, whose errors are a failed smoke run. */
  smokeFunctionName: string;
}

type Resource = { Type: string; Properties: Record<string, unknown> };

/** Alarm resources keyed by CloudFormation logical id. */
export function buildAlarms(
  targets: ResolvedTarget[],
  options: AlarmOptions,
): Record<string, Resource> {
  const resources: Record<string, Resource> = {};
  const actions = {
    AlarmActions: [options.onCallTopic],
    OKActions: [options.onCallTopic],
  };
  const nOfM = {
    Period: options.periodSeconds,
    EvaluationPeriods: options.evaluationPeriods,
    DatapointsToAlarm: options.datapointsToAlarm,
  };

  for (const target of targets) {
    resources[`CheckSuccessAlarm${logicalIdPart(target.name)}`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${options.namePrefix}-check-success-${target.name}`,
        AlarmDescription:
          `RDS IAM canary: target ${target.name} (${target.engine}, ${target.region}, ` +
          `expect ${target.expect}) failed its check in ${options.datapointsToAlarm} of ` +
          `the last ${options.evaluationPeriods} periods. The alert topic has each failure ` +
          'with its diagnosis.',
        Namespace: options.metricNamespace,
        MetricName: 'CheckSuccess',
        Dimensions: [{ Name: 'Target', Value: target.name }],
        // Minimum: one failed check in a period makes the period fail.
        Statistic: 'Minimum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        ...nOfM,
        // A canary that stopped is the heartbeat alarm's business, not every target's.
        TreatMissingData: 'missing',
        ...actions,
      },
    };
  }

  resources.AnyRejectionAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${options.namePrefix}-any-rejection`,
      AlarmDescription:
        'RDS IAM canary: a database refused an IAM login that should have worked. The ' +
        'alert topic has the rejected target and its diagnosis.',
      Metrics: [
        {
          Id: 'rejections',
          // Metrics Insights: one series however many targets there are (metric math is
          // capped at 10 metrics per alarm). `expect: reject` guards are left out: for
          // them a rejection is the success.
          Expression: rejectionQuery(targets, options.metricNamespace),
          Period: options.periodSeconds,
          ReturnData: true,
        },
      ],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
      ...actions,
    },
  };

  resources.HeartbeatAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${options.namePrefix}-heartbeat`,
      AlarmDescription:
        'RDS IAM canary: no round has completed (no Heartbeat metric). The canary is not ' +
        'running, failing before it publishes, or cannot reach CloudWatch: check the ' +
        'canary function logs and errors.',
      Namespace: options.metricNamespace,
      MetricName: 'Heartbeat',
      Statistic: 'Sum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      ...nOfM,
      // The point of a heartbeat: silence is the failure.
      TreatMissingData: 'breaching',
      ...actions,
    },
  };

  resources.SmokeFailedAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${options.namePrefix}-smoke-failed`,
      AlarmDescription:
        'RDS IAM canary: a smoke run failed (after a stack update, or from a pipeline). The ' +
        'smoke function log has the report.',
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: options.smokeFunctionName }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
      ...actions,
    },
  };

  return resources;
}

/** Metrics Insights query summing AuthRejected over every target expected to connect. */
export function rejectionQuery(targets: ResolvedTarget[], namespace: string): string {
  const guards = targets.filter((t) => t.expect === 'reject').map((t) => t.name);
  const where = guards.map((name) => `Target != '${name}'`).join(' AND ');
  const query = `SELECT SUM(AuthRejected) FROM SCHEMA("${namespace}", Target)`;
  return where ? `${query} WHERE ${where}` : query;
}

/**
 * A CloudFormation logical id part for a target name: alphanumerics of the name plus a
 * short hash of the whole name, so `a-b` and `a.b` never collide.
 */
export function logicalIdPart(name: string): string {
  const letters = name.replace(/[^A-Za-z0-9]/g, '');
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${letters.slice(0, 64)}${hash}`;
}
