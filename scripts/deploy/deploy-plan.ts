/**
 * Everything serverless.yml takes from the canary config, computed in one place at package
 * time: the two functions' roles (least privilege), the alarms per target, the dashboard,
 * the smoke function's CloudFormation trigger, the VPC settings and the files to package.
 * scripts/iam-from-config.cjs hands the pieces to the Serverless Framework.
 */
import { isAbsolute, relative } from 'node:path';
import { ConfigError } from '#shared/config/config-error.ts';
import { UserInputError } from '#shared/errors.ts';
import { buildAlarms } from './alarms.ts';
import { buildDashboard } from './dashboard.ts';
import { diagnosisStatements } from './diagnosis-permissions.ts';
import { buildRoleStatements, type PolicyStatement } from './least-privilege.ts';
import { type DeployConfig, readDeployConfig } from './read-deploy-config.ts';

/** The `custom.canary` block of serverless.yml, params already resolved. */
export interface DeployParams {
  service: string;
  stage: string;
  region: string;
  /** Directory of serverless.yml: packaged paths are relative to it. */
  serviceDir: string;
  configFile: string;
  metricNamespace: string;
  schedule: string;
  /** Comma-separated; empty: the functions run outside a VPC. */
  subnetIds: string;
  securityGroupIds: string;
  alarmDatapoints: number | string;
  alarmEvaluationPeriods: number | string;
  /** Empty or 'auto': the schedule's interval (rate expressions), at least 60. */
  alarmPeriodSeconds: number | string;
  /**
   * Grant both roles the optional diagnosis look-ups (rds Describe*, iam
   * SimulatePrincipalPolicy, logs FilterLogEvents), scoped to the targets. `true`/'true'
   * or left out: granted; `false`/'false': not (findings say which permission would help).
   */
  diagnosisPermissions?: boolean | string;
}

export interface DeployPlan {
  resources: { Resources: Record<string, unknown>; Outputs: Record<string, unknown> };
  smokeEvents: unknown[];
  vpc: { subnetIds: string[]; securityGroupIds: string[] } | null;
  packagePatterns: string[];
  /** For tests and docs: the target names the alarms cover. */
  targetNames: string[];
}

/** Builds the plan from the config file the params name; throws UserInputError on misuse. */
export function buildDeployPlan(params: DeployParams): DeployPlan {
  const config = readDeployConfig(params.configFile, { AWS_REGION: params.region });
  try {
    return planFromConfig(config, params);
  } catch (error) {
    // A target-level refusal names the config file, like the loader's own errors.
    if (error instanceof UserInputError && error.path.startsWith('targets[')) {
      const message = error.message.slice(error.path.length + 2);
      throw new ConfigError(config.path, error.path, message, { cause: error });
    }
    throw error;
  }
}

export function planFromConfig(config: DeployConfig, params: DeployParams): DeployPlan {
  const namespace = checkNamespace(params.metricNamespace);
  const prefix = `${params.service}-${params.stage}`;
  const canaryName = `${prefix}-canary`;
  const smokeName = `${prefix}-smoke`;
  const vpc = parseVpc(params.subnetIds, params.securityGroupIds);
  const periodSeconds = alarmPeriod(params.alarmPeriodSeconds, params.schedule);
  const { datapoints, evaluationPeriods } = nOfM(
    params.alarmDatapoints,
    params.alarmEvaluationPeriods,
  );
  if (periodSeconds * evaluationPeriods > 86_400) {
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    throw new UserInputError(
      'alarmEvaluationPeriods',
      `an alarm looks at most one day back: ${evaluationPeriods} periods of ${periodSeconds} s ` +
        'is more; lower alarmEvaluationPeriods or alarmPeriodSeconds',
    );
  }

  const diagnose = parseSwitch('diagnosisPermissions', params.diagnosisPermissions ?? true);
  const canaryRoleName = `${prefix}-${params.region}-canary`;
  const smokeRoleName = `${prefix}-${params.region}-smoke`;

  const canaryStatements = [
    ...buildRoleStatements(config.targets, {
      functionName: canaryName,
      metricNamespace: namespace,
      alertTopic: { Ref: 'AlertTopic' },
      inVpc: vpc !== null,
    }),
    ...(diagnose ? diagnosisStatements(config.targets, canaryRoleName) : []),
  ];
  // The smoke run is a gate: it neither publishes metrics (its retries through IAM
  // propagation must not page) nor alerts (the failed invocation is the signal). It
  // diagnoses its failures like the canary, as itself.
  const smokeStatements = [
    ...buildRoleStatements(config.targets, {
      functionName: smokeName,
      inVpc: vpc !== null,
    }),
    ...(diagnose ? diagnosisStatements(config.targets, smokeRoleName) : []),
  ];

  const Resources: Record<string, unknown> = {
    CanaryRole: lambdaRole(canaryRoleName, canaryStatements),
    SmokeRole: lambdaRole(smokeRoleName, smokeStatements),
    ...buildAlarms(config.targets, {
      namePrefix: prefix,
      metricNamespace: namespace,
      periodSeconds,
      datapointsToAlarm: datapoints,
      evaluationPeriods,
      onCallTopic: { Ref: 'OnCallTopic' },
      smokeFunctionName: smokeName,
    }),
    Dashboard: buildDashboard(config.targets, {
      dashboardName: prefix,
      metricNamespace: namespace,
      periodSeconds,
    }),
  };

  const Outputs = {
    CanaryRoleArn: {
      Description: 'Trust this role (and SmokeRoleArn) in target accounts',
      Value: { 'Fn::GetAtt': ['CanaryRole', 'Arn'] },
    },
    SmokeRoleArn: { Value: { 'Fn::GetAtt': ['SmokeRole', 'Arn'] } },
    DashboardName: { Value: prefix },
  };

  return {
    resources: { Resources, Outputs },
    smokeEvents: smokeEvents(config.deploy.smokeOnStacks),
    vpc,
    packagePatterns: packagePatterns(config, params.serviceDir),
    targetNames: config.targets.map((t) => t.name),
  };
}

/**
 * EventBridge: a CloudFormation stack named in `deploy.smokeOnStacks` finished creating or
 * updating. None named: no rule.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/eventbridge-integration.html
 */
function smokeEvents(stacks: string[]): unknown[] {
  if (stacks.length === 0) return [];
  return [
    {
      eventBridge: {
        pattern: {
          source: ['aws.cloudformation'],
          'detail-type': ['CloudFormation Stack Status Change'],
          resources: stacks.map((name) => ({
            wildcard: `arn:aws:cloudformation:*:*:stack/${name}/*`,
          })),
          detail: { 'status-details': { status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] } },
        },
      },
    },
  ];
}

const IAM_ROLE_INLINE_POLICY_CHARS = 10_240;

function lambdaRole(roleName: string, statements: PolicyStatement[]) {
  if (roleName.length > 64) {
    throw new UserInputError(
      'service',
      `the role name ${roleName} is longer than IAM's 64 characters: use a shorter stage name`,
    );
  }
  // IAM caps a role's inline policies at 10,240 characters (whitespace aside); the
  // CloudFormation text is a little longer than what IAM stores (${AWS::AccountId} becomes
  // 12 digits), so this errs on the safe side.
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  const size = JSON.stringify({ Version: '2012-10-17', Statement: statements }).length;
  if (size > IAM_ROLE_INLINE_POLICY_CHARS) {
    throw new UserInputError(
      'configFile',
      `the role ${roleName} would need a ${size}-character policy, more than IAM's ` +
        `${IAM_ROLE_INLINE_POLICY_CHARS}: deploy with --param="diagnosisPermissions=false", ` +
        'or split the targets between two stages',
    );
  }
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: roleName,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'lambda.amazonaws.com' },
            Action: 'sts:AssumeRole',
          },
        ],
      },
      Policies: [
        {
          PolicyName: 'least-privilege',
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      ],
    },
  };
}

/** The config file and every CA file it names, relative to serverless.yml. */
function packagePatterns(config: DeployConfig, serviceDir: string): string[] {
  const files = [config.path, ...config.targets.map((t) => t.tls.ca).filter((ca) => ca !== 'rds')];
  const patterns = new Set<string>();
  for (const file of files) {
    const rel = relative(serviceDir, file);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new UserInputError(
        'configFile',
        `${file} is outside the service folder ${serviceDir}, so it cannot be packaged: ` +
          'move it (and its CA files) under the folder that holds serverless.yml',
      );
    }
    patterns.add(rel.split('\\').join('/'));
  }
  return [...patterns];
}

function parseVpc(subnets: string, groups: string): DeployPlan['vpc'] {
  const subnetIds = splitList(subnets);
  const securityGroupIds = splitList(groups);
  if (subnetIds.length === 0 && securityGroupIds.length === 0) return null;
  if (subnetIds.length === 0 || securityGroupIds.length === 0) {
    throw new UserInputError(
      subnetIds.length === 0 ? 'subnetIds' : 'securityGroupIds',
      'a VPC needs both subnetIds and securityGroupIds (comma-separated): give both or neither',
    );
  }
  return { subnetIds, securityGroupIds };
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A boolean param: YAML gives a boolean, `--param="name=false"` the string. */
function parseSwitch(name: string, value: boolean | string): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new UserInputError(name, `expected true or false, got "${value}"`);
}

function checkNamespace(namespace: string): string {
  // CloudWatch namespaces: printable ASCII without ':' leading or "AWS/"; we also refuse
  // quotes because the namespace goes into a Metrics Insights query.
  if (!/^[A-Za-z0-9._/#-]{1,255}$/.test(namespace) || namespace.startsWith('AWS/')) {
    throw new UserInputError(
      'metricNamespace',
      `"${namespace}" is not a custom CloudWatch namespace: use letters, digits and . _ / # -`,
    );
  }
  return namespace;
}

const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86400 };

/** The alarm period: given, or the schedule's interval when it is `rate(N unit)`. */
export function alarmPeriod(given: number | string, schedule: string): number {
  if (given !== '' && given !== 'auto') {
    const seconds = Number(given);
    if (!Number.isInteger(seconds) || seconds < 60 || seconds % 60 !== 0) {
      throw new UserInputError('alarmPeriodSeconds', 'expected a multiple of 60 seconds');
    }
    return seconds;
  }

  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(schedule.trim());
  if (!match) {
    throw new UserInputError(
      'alarmPeriodSeconds',
      `cannot tell the interval of "${schedule}": set alarmPeriodSeconds (a multiple of 60)`,
    );
  }
  return Math.max(60, Number(match[1]) * UNIT_SECONDS[match[2]!]!);
}

function nOfM(n: number | string, m: number | string) {
  const datapoints = Number(n);
  const evaluationPeriods = Number(m);
  if (
    !Number.isInteger(datapoints) ||
    !Number.isInteger(evaluationPeriods) ||
    datapoints < 1 ||
    datapoints > evaluationPeriods
  ) {
    throw new UserInputError(
      'alarmDatapoints',
      `expected 1 <= alarmDatapoints (${n}) <= alarmEvaluationPeriods (${m}), whole numbers`,
    );
  }
  return { datapoints, evaluationPeriods };
}
