/**
 * The IAM policies of the two Lambda functions, computed from the targets in the config so
 * that the permissions can never drift from what the canary checks (no second, hand-kept
 * list). Each function gets its own role; each statement names exact resources:
 *
 * - `sts:AssumeRole` on the first hop of every role chain (later hops are assumed with the
 *   previous hop's credentials, so they are the business of that role, not of the canary);
 *   `sts:TagSession` on the first hops that pass session tags.
 * - `rds-db:connect` on the exact `dbuser` ARN of every target reached with the function's
 *   own credentials (no roles). `expect: reject` targets are never granted: a guard must
 *   be refused, and granting it would defeat the guard.
 * - `cloudwatch:PutMetricData` (which takes no resource) under a `cloudwatch:namespace`
 *   condition; `sns:Publish` on the alert topic only (canary function only).
 * - Logs: create streams and put events in the function's own log group only.
 * The optional diagnosis look-ups are granted separately (diagnosis-permissions.ts).
 */
import { UserInputError } from '#shared/errors.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';

/** A CloudFormation value: a literal or an intrinsic function such as `{ 'Fn::Sub': ... }`. */
export type CfnValue = string | Record<string, unknown>;

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: CfnValue | CfnValue[];
  Condition?: Record<string, Record<string, string>>;
}

export interface RoleOptions {
  /** Full Lambda function name; its log group is `/aws/lambda/<name>`. */
  functionName: string;
  /** Grant PutMetricData in this namespace; left out: no CloudWatch permission. */
  metricNamespace?: string;
  /** Grant sns:Publish on this topic (a literal ARN or `{ Ref: ... }`); left out: none. */
  alertTopic?: CfnValue;
  /** The function runs in a VPC: grant the network-interface actions Lambda needs. */
  inVpc?: boolean;
}

/** `${AWS::<name>}`: a CloudFormation pseudo parameter inside `Fn::Sub`. */
export function pseudo(name: 'Partition' | 'Region' | 'AccountId'): string {
  return `\${AWS::${name}}`;
}

/**
 * The statements of one function's role. Throws UserInputError naming the target when a
 * target reached without roles has no `resourceId` (its grant cannot be scoped).
 */
export function buildRoleStatements(
  targets: ResolvedTarget[],
  options: RoleOptions,
): PolicyStatement[] {
  const statements: PolicyStatement[] = [logStatement(options.functionName)];

  const firstHops = uniqueSorted(targets.flatMap((t) => (t.roles[0] ? [t.roles[0].arn] : [])));
  if (firstHops.length > 0) {
    statements.push({
      Sid: 'AssumeFirstHopRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: firstHops,
    });
  }

  const tagged = uniqueSorted(
    targets.flatMap((t) => {
      const hop = t.roles[0];
      return hop?.sessionTags && Object.keys(hop.sessionTags).length > 0 ? [hop.arn] : [];
    }),
  );
  if (tagged.length > 0) {
    statements.push({
      Sid: 'TagFirstHopSessions',
      Effect: 'Allow',
      Action: ['sts:TagSession'],
      Resource: tagged,
    });
  }

  const dbUsers = dbUserArns(targets);
  if (dbUsers.length > 0) {
    statements.push({
      Sid: 'ConnectAsDatabaseUsers',
      Effect: 'Allow',
      Action: ['rds-db:connect'],
      Resource: dbUsers,
    });
  }

  if (options.metricNamespace !== undefined) {
    statements.push({
      Sid: 'PutCanaryMetrics',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricData'],
      // PutMetricData has no resource type: '*' is the only valid resource, and the
      // namespace condition is what scopes it.
      // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': options.metricNamespace } },
    });
  }

  if (options.alertTopic !== undefined) {
    statements.push({
      Sid: 'PublishAlerts',
      Effect: 'Allow',
      Action: ['sns:Publish'],
      Resource: options.alertTopic,
    });
  }

  if (options.inVpc) {
    statements.push({
      Sid: 'ManageVpcNetworkInterfaces',
      Effect: 'Allow',
      // The actions of AWSLambdaVPCAccessExecutionRole without its logs:* on '*'. EC2 does
      // not support resource-level permissions for Describe*, hence '*'.
      Action: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      Resource: '*',
    });
  }

  return statements;
}

/**
 * The `rds-db:connect` ARNs for targets the function signs tokens for with its own
 * credentials: `arn:aws:rds-db:<region>:<account>:dbuser:<resourceId>/<user>`, the account
 * being the target's `accountId` or, left out, the deploying account.
 */
export function dbUserArns(targets: ResolvedTarget[]): CfnValue[] {
  const arns = new Map<string, CfnValue>();
  for (const [index, target] of targets.entries()) {
    if (target.roles.length > 0 || target.expect === 'reject') continue;

    if (!target.resourceId) {
      throw new UserInputError(
        `targets[${index}].resourceId`,
        `target "${target.name}" connects with the canary's own role, so its rds-db:connect ` +
          'grant needs the resource id: set resourceId (aws rds describe-db-instances ' +
          '--query "DBInstances[].DbiResourceId", or DbClusterResourceId for a cluster)',
      );
    }

    const account = target.accountId ?? pseudo('AccountId');
    const sub = `arn:${pseudo('Partition')}:rds-db:${target.region}:${account}:dbuser:${target.resourceId}/${target.user}`;
    arns.set(sub, { 'Fn::Sub': sub });
  }
  return [...arns.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, arn]) => arn);
}

function logStatement(functionName: string): PolicyStatement {
  return {
    Sid: 'WriteOwnLogs',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: {
      'Fn::Sub': `arn:${pseudo('Partition')}:logs:${pseudo('Region')}:${pseudo('AccountId')}:log-group:/aws/lambda/${functionName}:*`,
    },
  };
}

function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort();
}
