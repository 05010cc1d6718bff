/**
 * `serverless package` (osls) with no AWS credentials and no network, then assertions on
 * the CloudFormation it writes: what the deployment would create, checked offline.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { diagnosisStatements } from '../../scripts/deploy/diagnosis-permissions.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const CONFIG = 'test/fixtures/deploy.canary.yaml';
const PACKAGE_TIMEOUT_MS = 90_000;

// The template is untyped JSON: tests reach into it by known paths.
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties
type Json = any;

interface Template {
  Resources: Record<string, { Type: string; Properties: Json; Condition?: string }>;
  Outputs: Record<string, unknown>;
  Conditions: Record<string, unknown>;
}

interface Statement {
  Sid: string;
  Action: string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string>>;
}

const scratch: string[] = [];

function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Runs `serverless package` in the repository with AWS_* unset and HOME in a temp dir. */
async function packageService(params: Record<string, string>) {
  const out = scratchDir('rds-iam-canary-package-');
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('AWS_') && value !== undefined) env[key] = value;
  }
  env.HOME = scratchDir('rds-iam-canary-home-');

  const args = [
    join(ROOT, 'node_modules/osls/bin/serverless.js'),
    'package',
    '--stage',
    'test',
    '--region',
    'eu-west-1',
    '--package',
    out,
    ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, env });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

  const template = (): Template =>
    JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  return { code, output, out, template };
}

function resourcesOfType(template: Template, type: string) {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function roleStatements(template: Template, logicalId: string): Statement[] {
  const role = template.Resources[logicalId]!;
  return role.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
}

/** The statements granting any action of `service` (e.g. 'sts'). */
function statementsFor(statements: Statement[], service: string): Statement[] {
  return statements.filter((s) => s.Action.some((a) => a.startsWith(`${service}:`)));
}

/** A literal ARN, or the string inside Fn::Sub. */
function arnText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const sub = (resource as Record<string, unknown>)['Fn::Sub'];
  if (typeof sub === 'string') return sub;
  return JSON.stringify(resource);
}

function resourceList(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** Runs a command to its end; rejects with its output if it exits non-zero. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ stdout: string }> {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${command} exited ${code}:\n${stderr}${stdout}`);
  return { stdout };
}

/** The file names in a zip, as `unzip -Z1` lists them. */
async function zipListing(zip: string): Promise<string[]> {
  const { stdout } = await run('unzip', ['-Z1', zip]);
  return stdout.split('\n').filter(Boolean);
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One target per engine, on a closed port: each check loads its driver, then is refused. */
function closedConfig(port: number): string {
  return [
    'defaults: { region: eu-west-1, user: canary_iam, tls: { ca: rds }, timeoutMs: 3000 }',
    'targets:',
    `  - { name: pg-closed, engine: postgres, host: 127.0.0.1, port: ${port} }`,
    `  - { name: mysql-closed, engine: mysql, host: 127.0.0.1, port: ${port} }`,
    '',
  ].join('\n');
}

interface InvokeOutcome {
  error?: { name: string; code: string };
  results?: { target: string; outcome: string }[];
}

/**
 * Run in the unzipped package by a fresh `node` (no node_modules anywhere above it): imports
 * the handler as Lambda does, invokes it once and prints the outcome as the last line.
 */
const INVOKE = `
const fn = process.argv[1];
const { handler } = await import(new URL('functions/' + fn + '.mjs', 'file://' + process.cwd() + '/').href);
// The smoke run gets too little time for a retry round; the canary enough for its margins.
const remaining = fn === 'smoke' ? 10000 : 30000;
const context = { getRemainingTimeInMillis: () => remaining, functionName: fn, awsRequestId: 'test' };
const event = fn === 'smoke' ? {} : { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
let error;
let report;
try {
  report = await handler(event, context);
} catch (caught) {
  error = { name: caught.name, code: caught.code };
  report = caught.report;
}
const results = report?.results.map((r) => ({ target: r.target, outcome: r.outcome }));
process.stdout.write('\\n' + JSON.stringify({ error, results }) + '\\n');
`;

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('serverless package with the test config', () => {
  let template: Template;
  let packaged: Awaited<ReturnType<typeof packageService>>;

  beforeAll(async () => {
    packaged = await packageService({
      configFile: CONFIG,
      onCallEmail: 'oncall@example.com',
      schedule: 'rate(10 minutes)',
      subnetIds: 'subnet-0aaa,subnet-0bbb',
      securityGroupIds: 'sg-0ccc',
    });
    if (packaged.code !== 0) throw new Error(`serverless package failed:\n${packaged.output}`);
    template = packaged.template();
  }, PACKAGE_TIMEOUT_MS);

  it('defines both functions on nodejs22.x arm64, each with its own role', () => {
    const canary = template.Resources.CanaryLambdaFunction!.Properties;
    const smoke = template.Resources.SmokeLambdaFunction!.Properties;

    expect(canary.FunctionName).toBe('rds-iam-canary-test-canary');
    expect(smoke.FunctionName).toBe('rds-iam-canary-test-smoke');
    for (const fn of [canary, smoke]) {
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      expect(fn.Environment.Variables.CANARY_CONFIG).toBe(CONFIG);
    }
    expect(canary.Role).toEqual({ 'Fn::GetAtt': ['CanaryRole', 'Arn'] });
    expect(smoke.Role).toEqual({ 'Fn::GetAtt': ['SmokeRole', 'Arn'] });
    expect(canary.Environment.Variables.CANARY_ALERT_TOPIC_ARN).toEqual({ Ref: 'AlertTopic' });
    expect(
      resourcesOfType(template, 'AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['CanaryRole', 'SmokeRole']);
  });

  it('schedules the canary with the schedule param', () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule').map(([, r]) => r.Properties);
    const scheduled = rules.filter((r) => r.ScheduleExpression);

    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.ScheduleExpression).toBe('rate(10 minutes)');
    expect(scheduled[0]!.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['CanaryLambdaFunction', 'Arn'] });
  });

  it('runs the smoke function when a named stack finishes creating or updating', () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule').map(([, r]) => r.Properties);
    const rule = rules.find((r) => r.EventPattern)!;

    expect(rule.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['SmokeLambdaFunction', 'Arn'] });
    expect(rule.EventPattern).toEqual({
      source: ['aws.cloudformation'],
      'detail-type': ['CloudFormation Stack Status Change'],
      resources: [
        { wildcard: 'arn:aws:cloudformation:*:*:stack/orders-database/*' },
        { wildcard: 'arn:aws:cloudformation:*:*:stack/payments-access/*' },
      ],
      detail: { 'status-details': { status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] } },
    });
  });

  it('creates the alert and on-call topics and only the subscriptions given', () => {
    const subscriptions = Object.fromEntries(
      resourcesOfType(template, 'AWS::SNS::Subscription').map(([id, r]) => [id, r]),
    );

    expect(template.Resources.AlertTopic!.Type).toBe('AWS::SNS::Topic');
    expect(template.Resources.OnCallTopic!.Type).toBe('AWS::SNS::Topic');
    expect(subscriptions.OnCallEmailSubscription!.Properties).toMatchObject({
      TopicArn: { Ref: 'OnCallTopic' },
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    expect(subscriptions.OnCallEmailSubscription!.Condition).toBe('HasOnCallEmail');
    expect(subscriptions.AlertEmailSubscription!.Condition).toBe('HasAlertEmail');
    expect(template.Conditions.HasAlertEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': ['', ''] }],
    });
  });

  it('creates a CheckSuccess alarm per target, N of M, paging on-call and on recovery', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm')
      .map(([, r]) => r.Properties)
      .filter((p) => p.MetricName === 'CheckSuccess');
    const byTarget = Object.fromEntries(alarms.map((a) => [a.Dimensions[0].Value, a]));

    expect(Object.keys(byTarget).sort()).toEqual([
      'ledger.cluster',
      'orders-primary',
      'orders-readonly-guard',
      'payments-primary',
      'reports-replica',
    ]);
    expect(byTarget['orders-primary']).toMatchObject({
      Namespace: 'RdsIamCanary',
      Statistic: 'Minimum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      Period: 600,
      DatapointsToAlarm: 2,
      EvaluationPeriods: 3,
      AlarmActions: [{ Ref: 'OnCallTopic' }],
      OKActions: [{ Ref: 'OnCallTopic' }],
    });
  });

  it('alarms on any rejection of a target expected to connect', () => {
    const alarm = template.Resources.AnyRejectionAlarm!.Properties;

    expect(alarm.Metrics[0].Expression).toBe(
      `SELECT SUM(AuthRejected) FROM SCHEMA("RdsIamCanary", Target) WHERE Target != 'orders-readonly-guard'`,
    );
    expect(alarm).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(alarm.OKActions).toEqual([{ Ref: 'OnCallTopic' }]);
  });

  it('alarms on a missing heartbeat, treating missing data as breaching', () => {
    const alarm = template.Resources.HeartbeatAlarm!.Properties;

    expect(alarm).toMatchObject({
      Namespace: 'RdsIamCanary',
      MetricName: 'Heartbeat',
      TreatMissingData: 'breaching',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      AlarmActions: [{ Ref: 'OnCallTopic' }],
      OKActions: [{ Ref: 'OnCallTopic' }],
    });
    expect(alarm.Dimensions).toBeUndefined();
  });

  it('builds a dashboard with success by target and latency by phase', () => {
    const dashboard = template.Resources.Dashboard!.Properties;
    const body = JSON.parse(dashboard.DashboardBody['Fn::Sub']);
    const titles: string[] = body.widgets.map((w: Json) => w.properties.title);
    const success = body.widgets.find((w: Json) => w.properties.title.startsWith('Check success'));

    expect(dashboard.DashboardName).toBe('rds-iam-canary-test');
    expect(success.properties.metrics.map((m: string[]) => m[3])).toHaveLength(5);
    for (const phase of ['Assume role', 'Token', 'Connect', 'Query', 'Total']) {
      expect(titles.some((t) => t.startsWith(`Latency: ${phase}`))).toBe(true);
    }
  });

  it('keeps log groups with the retention param', () => {
    const groups = resourcesOfType(template, 'AWS::Logs::LogGroup').map(([, r]) => r.Properties);

    expect(groups.map((g) => g.LogGroupName).sort()).toEqual([
      '/aws/lambda/rds-iam-canary-test-canary',
      '/aws/lambda/rds-iam-canary-test-smoke',
    ]);
    expect(groups.every((g) => g.RetentionInDays === 30)).toBe(true);
  });

  it('scopes sts to the first hops, with TagSession only where tags are passed', () => {
    for (const role of ['CanaryRole', 'SmokeRole']) {
      const sts = statementsFor(roleStatements(template, role), 'sts');
      const assume = sts.find((s) => s.Action.includes('sts:AssumeRole'))!;
      const tag = sts.find((s) => s.Action.includes('sts:TagSession'))!;

      expect(sts).toHaveLength(2);
      expect(assume.Action).toEqual(['sts:AssumeRole']);
      expect(assume.Resource).toEqual([
        'arn:aws:iam::111111111111:role/canary-hub',
        'arn:aws:iam::333333333333:role/rds-reports',
      ]);
      expect(tag.Action).toEqual(['sts:TagSession']);
      expect(tag.Resource).toEqual(['arn:aws:iam::111111111111:role/canary-hub']);
    }
  });

  it('scopes rds-db:connect to the exact dbuser ARNs of targets without roles', () => {
    for (const role of ['CanaryRole', 'SmokeRole']) {
      const rds = statementsFor(roleStatements(template, role), 'rds-db');

      expect(rds).toHaveLength(1);
      expect(rds[0]!.Action).toEqual(['rds-db:connect']);
      expect(resourceList(rds[0]!).map(arnText)).toEqual([
        `arn:\${AWS::Partition}:rds-db:eu-west-1:\${AWS::AccountId}:dbuser:db-ORDERS0PRIMARY000000000001/canary_iam`,
        `arn:\${AWS::Partition}:rds-db:us-west-2:111111111111:dbuser:cluster-LEDGER0000000000000000001/canary_iam`,
      ]);
    }
  });

  it('grants PutMetricData on * only under the namespace condition, and sns on the alert topic', () => {
    const canary = roleStatements(template, 'CanaryRole');
    const metrics = statementsFor(canary, 'cloudwatch');
    const sns = statementsFor(canary, 'sns');

    expect(metrics).toEqual([
      {
        Sid: 'PutCanaryMetrics',
        Effect: 'Allow',
        Action: ['cloudwatch:PutMetricData'],
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'RdsIamCanary' } },
      },
    ]);
    expect(sns).toHaveLength(1);
    expect(sns[0]!.Action).toEqual(['sns:Publish']);
    expect(sns[0]!.Resource).toEqual({ Ref: 'AlertTopic' });
  });

  it('lets each function write only to its own log group', () => {
    for (const [role, fn] of [
      ['CanaryRole', 'canary'],
      ['SmokeRole', 'smoke'],
    ] as const) {
      const logs = statementsFor(roleStatements(template, role), 'logs');
      const writes = logs.filter((s) => s.Sid === 'WriteOwnLogs');

      // The other logs statement only reads the databases' auth-error logs (diagnosis).
      expect(logs.map((s) => s.Sid).sort()).toEqual(['DiagnoseReadAuthErrorLogs', 'WriteOwnLogs']);
      expect(writes[0]!.Action).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(arnText(writes[0]!.Resource)).toBe(
        `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/rds-iam-canary-test-${fn}:*`,
      );
    }
  });

  it('gives the smoke role no metrics and no sns', () => {
    const smoke = roleStatements(template, 'SmokeRole');

    expect(statementsFor(smoke, 'cloudwatch')).toEqual([]);
    expect(statementsFor(smoke, 'sns')).toEqual([]);
  });

  it('grants diagnosis look-ups on the targets by default, to both roles', () => {
    const own = (fn: string) =>
      `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/rds-iam-canary-test-eu-west-1-${fn}`;
    const rds = `arn:\${AWS::Partition}:rds`;
    const account = `\${AWS::AccountId}`;
    const group = (region: string, accountId: string, path: string) =>
      `arn:\${AWS::Partition}:logs:${region}:${accountId}:log-group:/aws/rds/${path}/iam-db-auth-error`;

    for (const [role, fn] of [
      ['CanaryRole', 'canary'],
      ['SmokeRole', 'smoke'],
    ] as const) {
      const statements = roleStatements(template, role);
      const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));

      expect(bySid.DiagnoseDescribeInstances!.Action).toEqual(['rds:DescribeDBInstances']);
      expect(resourceList(bySid.DiagnoseDescribeInstances!).map(arnText)).toEqual([
        `${rds}:eu-west-1:\${AWS::AccountId}:db:orders-primary`,
        `${rds}:eu-west-1:\${AWS::AccountId}:db:reports-replica`,
        `${rds}:us-east-1:\${AWS::AccountId}:db:payments-primary`,
      ]);
      expect(bySid.DiagnoseDescribeClusters!.Action).toEqual(['rds:DescribeDBClusters']);
      expect(resourceList(bySid.DiagnoseDescribeClusters!).map(arnText)).toEqual([
        `${rds}:us-west-2:111111111111:cluster:ledger`,
      ]);
      // No proxy among the targets: no DescribeDBProxies grant.
      expect(bySid.DiagnoseDescribeProxies).toBeUndefined();
      // The principals that sign: this role (targets without roles) and each chain's last
      // role; never the first hop of a longer chain (canary-hub), which signs nothing.
      expect(bySid.DiagnoseSimulateSigningPrincipals!.Action).toEqual([
        'iam:SimulatePrincipalPolicy',
      ]);
      expect(resourceList(bySid.DiagnoseSimulateSigningPrincipals!).map(arnText)).toEqual([
        own(fn),
        'arn:aws:iam::222222222222:role/rds-connect',
        'arn:aws:iam::333333333333:role/rds-reports',
      ]);
      expect(bySid.DiagnoseReadAuthErrorLogs!.Action).toEqual(['logs:FilterLogEvents']);
      expect(resourceList(bySid.DiagnoseReadAuthErrorLogs!).map(arnText)).toEqual(
        [
          group('eu-west-1', account, 'instance/orders-primary'),
          group('eu-west-1', account, 'instance/reports-replica'),
          group('us-east-1', account, 'instance/payments-primary'),
          group('us-west-2', '111111111111', 'cluster/ledger'),
        ].flatMap((arn) => [arn, `${arn}:*`]),
      );
    }
  });

  it('has no * resource for sts, rds-db or sns in any role', () => {
    const all = ['CanaryRole', 'SmokeRole'].flatMap((r) => roleStatements(template, r));

    for (const service of ['sts', 'rds-db', 'sns', 'rds', 'iam']) {
      for (const statement of statementsFor(all, service)) {
        for (const resource of resourceList(statement)) {
          expect(arnText(resource)).not.toMatch(/(^|:|\/)\*$|^\*/);
        }
        expect(statement.Action.every((a) => !a.includes('*'))).toBe(true);
      }
    }
    // Log group ARNs end in `:*` (the group's streams), never a wildcard group name.
    for (const statement of statementsFor(all, 'logs')) {
      for (const resource of resourceList(statement)) {
        expect(arnText(resource).replace(/:\*$/, '')).not.toContain('*');
      }
    }
    const star = all.filter((s) => resourceList(s).includes('*'));
    // PutMetricData and the EC2 network-interface actions take no resource-level scope.
    expect([...new Set(star.map((s) => s.Sid))].sort()).toEqual([
      'ManageVpcNetworkInterfaces',
      'PutCanaryMetrics',
    ]);
  });

  it('places both functions in the VPC given and grants the network-interface actions', () => {
    for (const fn of ['CanaryLambdaFunction', 'SmokeLambdaFunction']) {
      expect(template.Resources[fn]!.Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0aaa', 'subnet-0bbb'],
        SecurityGroupIds: ['sg-0ccc'],
      });
    }
    for (const role of ['CanaryRole', 'SmokeRole']) {
      const ec2 = statementsFor(roleStatements(template, role), 'ec2');
      expect(ec2.map((s) => s.Sid)).toEqual(['ManageVpcNetworkInterfaces']);
    }
  });

  it('packages each function with its own bundle and chunks, the config and its CA file', async () => {
    for (const fn of ['canary', 'smoke'] as const) {
      const names = await zipListing(join(packaged.out, `${fn}.zip`));
      const other = fn === 'canary' ? 'smoke' : 'canary';
      const code = names.filter((n) => n.endsWith('.mjs'));

      expect(names).toContain(CONFIG);
      expect(names).toContain('test/fixtures/deploy-ca.pem');
      expect(code).toContain(`functions/${fn}.mjs`);
      expect(code.length).toBeGreaterThan(1);
      for (const file of code) {
        expect(file === `functions/${fn}.mjs` || file.startsWith(`functions/${fn}.chunks/`)).toBe(
          true,
        );
      }
      expect(names.some((n) => n.startsWith(`functions/${other}`))).toBe(false);
      expect(names.some((n) => n.includes('node_modules/'))).toBe(false);
    }
    expect(statSync(join(packaged.out, 'canary.zip')).size).toBeLessThan(1_000_000);
  });

  it(
    'runs each handler from its unzipped package, loading drivers and diagnosis from chunks',
    async () => {
      const port = await closedPort();
      for (const fn of ['smoke', 'canary'] as const) {
        const dir = scratchDir(`rds-iam-canary-unzipped-${fn}-`);
        await run('unzip', ['-q', join(packaged.out, `${fn}.zip`), '-d', dir]);
        writeFileSync(join(dir, 'closed.canary.yaml'), closedConfig(port));

        const ran = await run(process.execPath, ['--input-type=module', '-e', INVOKE, fn], {
          cwd: dir,
          env: {
            PATH: process.env.PATH ?? '',
            AWS_REGION: 'eu-west-1',
            AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
            AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
            // Metrics, alerts and diagnosis calls go to a closed loopback port.
            AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
            CANARY_CONFIG: 'closed.canary.yaml',
            CANARY_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:rds-iam-canary-alerts',
          },
        });
        const outcome = JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as InvokeOutcome;

        expect(outcome.results).toEqual([
          { target: 'pg-closed', outcome: 'CONNECTION_REFUSED' },
          { target: 'mysql-closed', outcome: 'CONNECTION_REFUSED' },
        ]);
        if (fn === 'smoke') {
          // Lambda reports error.name as errorType; `rds-iam-canary smoke` reads it.
          expect(outcome.error).toEqual({ name: 'SmokeFailedError', code: 'SMOKE_FAILED' });
        } else {
          expect(outcome.error).toBeUndefined();
        }
      }
    },
    PACKAGE_TIMEOUT_MS,
  );
});

describe('serverless package with diagnosisPermissions=false', () => {
  it(
    'leaves the diagnosis look-ups out of both roles',
    async () => {
      const packaged = await packageService({
        configFile: CONFIG,
        diagnosisPermissions: 'false',
      });
      if (packaged.code !== 0) throw new Error(`serverless package failed:\n${packaged.output}`);
      const template = packaged.template();

      for (const role of ['CanaryRole', 'SmokeRole']) {
        const statements = roleStatements(template, role);

        expect(statements.filter((s) => s.Sid.startsWith('Diagnose'))).toEqual([]);
        expect(statementsFor(statements, 'rds')).toEqual([]);
        expect(statementsFor(statements, 'iam')).toEqual([]);
        expect(statementsFor(statements, 'logs').map((s) => s.Sid)).toEqual(['WriteOwnLogs']);
        expect(statementsFor(statements, 'rds-db')).toHaveLength(1);
      }
    },
    PACKAGE_TIMEOUT_MS,
  );
});

describe('diagnosis statements for target shapes the test config lacks', () => {
  const base = {
    engine: 'postgres',
    port: 5432,
    region: 'eu-west-1',
    user: 'canary_iam',
    roles: [],
  };
  const target = (fields: Record<string, unknown>) =>
    ({ ...base, ...fields }) as unknown as ResolvedTarget;

  it('scopes DescribeDBProxies to the prx- resource id, or to the proxies of the region and account', () => {
    const statements = diagnosisStatements(
      [
        target({
          name: 'known',
          host: 'orders.proxy-c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com',
          signingHost: 'orders.proxy-c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com',
          resourceId: 'prx-0123456789abcdef0',
        }),
        target({
          name: 'unknown',
          host: 'ledger.proxy-c1a2b3d4e5f6.us-east-1.rds.amazonaws.com',
          signingHost: 'ledger.proxy-c1a2b3d4e5f6.us-east-1.rds.amazonaws.com',
          accountId: '444444444444',
          roles: [{ arn: 'arn:aws:iam::444444444444:role/rds-ledger' }],
        }),
      ],
      'canary-role',
    );
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));

    expect(Object.keys(bySid).sort()).toEqual([
      'DiagnoseDescribeProxies',
      'DiagnoseSimulateSigningPrincipals',
    ]);
    expect(resourceList(bySid.DiagnoseDescribeProxies as Statement).map(arnText)).toEqual([
      `arn:\${AWS::Partition}:rds:eu-west-1:\${AWS::AccountId}:db-proxy:prx-0123456789abcdef0`,
      `arn:\${AWS::Partition}:rds:us-east-1:444444444444:db-proxy:*`,
    ]);
  });

  it('grants no rds or logs look-up for a host that is not an RDS endpoint name', () => {
    const statements = diagnosisStatements(
      [target({ name: 'tunnel', host: '127.0.0.1', signingHost: 'db.internal.example' })],
      'canary-role',
    );

    expect(statements.map((s) => s.Sid)).toEqual(['DiagnoseSimulateSigningPrincipals']);
    expect(resourceList(statements[0] as Statement).map(arnText)).toEqual([
      `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/canary-role`,
    ]);
  });
});

describe('serverless package refusals', () => {
  it(
    'refuses a target without roles and without resourceId, naming it',
    async () => {
      const result = await packageService({
        configFile: 'test/fixtures/deploy-missing-resource-id.canary.yaml',
      });

      expect(result.code).not.toBe(0);
      expect(result.output).toContain('targets[1].resourceId');
      expect(result.output).toContain('no-resource-id');
    },
    PACKAGE_TIMEOUT_MS,
  );
});
