import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { reportUserError } from './report-user-error.ts';

const USAGE = `usage: rds-iam-canary demo [--json]

Brings the local sandbox up (as root), runs one round of sandbox/canary.sandbox.yaml with
metrics and alerts published to the sandbox's AWS endpoints, then prints what was published.
  --json    print the round's report as JSON only (nothing about what was published)
Exit status: 0 the round ran (the sandbox's broken targets fail on purpose), 2 a usage or
sandbox error.
`;

/**
 * `rds-iam-canary demo`: the README's main command. Brings the sandbox up, runs one round
 * of the sandbox's canary config with publishing on, then prints what reached CloudWatch and
 * SNS, read back from the sandbox's record of AWS calls.
 */
export async function runDemo(argv: string[]): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    return reportUserError(error);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const root = findPackageRoot();

  const { runSandbox } = await import('../../sandbox/cli.ts');
  const upStatus = await runSandbox(['up', '--quiet']);
  if (upStatus !== 0) return upStatus;

  const env = JSON.parse(readFileSync(SANDBOX_ENV_FILE, 'utf8')) as SandboxEnv;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: env.AWS_REGION,
    CANARY_ALERT_TOPIC_ARN:
      process.env.CANARY_ALERT_TOPIC_ARN ??
      'arn:aws:sns:eu-west-1:111111111111:rds-iam-canary-alerts',
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;

  const since = new Date().toISOString();
  const config = join(root, 'sandbox', 'canary.sandbox.yaml');
  const { runCheck } = await import('./check-command.ts');
  const checkStatus = await runCheck(['--config', config, ...(values.json ? ['--json'] : [])]);
  if (checkStatus === 2) return 2;
  if (values.json) return 0;

  const calls = await fetchCalls(env.adminUrl, since);
  process.stdout.write(`\n${renderPublished(calls)}\n`);
  process.stdout.write(
    "\nThe failing targets above are the sandbox's deliberately broken paths.\n" +
      `Recorded AWS calls: ${env.stateDir}/log/aws-calls.jsonl; ` +
      `login decisions: ${env.stateDir}/log/decisions.jsonl\n`,
  );
  return 0;
}

const SANDBOX_ENV_FILE = '/var/lib/rds-iam-canary-sandbox/env.json';

interface SandboxEnv {
  AWS_ENDPOINT_URL: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_REGION: string;
  adminUrl: string;
  stateDir: string;
}

interface RecordedCall {
  service: string;
  action: string;
  params?: Record<string, unknown>;
  outcome?: unknown;
}

async function fetchCalls(adminUrl: string, since: string): Promise<RecordedCall[]> {
  const response = await fetch(`${adminUrl}/calls?since=${encodeURIComponent(since)}`);
  if (!response.ok) throw new Error(`sandbox admin API answered ${response.status}`);
  return (await response.json()) as RecordedCall[];
}

function renderPublished(calls: RecordedCall[]): string {
  const metricCalls = calls.filter((c) => c.action === 'PutMetricData');
  const data = metricCalls.flatMap(
    (c) => (c.params?.MetricData as { MetricName: string }[] | undefined) ?? [],
  );
  const names = [...new Set(data.map((d) => d.MetricName))].sort();
  const alerts = calls.filter((c) => c.action === 'Publish');
  const assumed = calls.filter((c) => c.action === 'AssumeRole');

  const lines = [
    'Published (from the sandbox record):',
    `  STS AssumeRole calls: ${assumed.length}`,
    `  CloudWatch PutMetricData: ${metricCalls.length} call(s), ${data.length} values`,
    `    metrics: ${names.join(', ') || '(none)'}`,
    `  SNS alerts: ${alerts.length}`,
  ];
  for (const alert of alerts) {
    const outcome = queryAttribute(alert.params ?? {}, 'outcome') ?? '?';
    lines.push(`    [${outcome}] ${String(alert.params?.Subject ?? '')}`);
  }
  return lines.join('\n');
}

/** SNS's query protocol flattens attributes: MessageAttributes.entry.N.Name / .Value.StringValue. */
function queryAttribute(params: Record<string, unknown>, name: string): string | undefined {
  for (const [key, value] of Object.entries(params)) {
    const match = /^MessageAttributes\.entry\.(\d+)\.Name$/.exec(key);
    if (match && value === name) {
      return params[`MessageAttributes.entry.${match[1]}.Value.StringValue`] as string | undefined;
    }
  }
  return undefined;
}

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('rds-iam-canary: cannot find the package root');
    dir = parent;
  }
  return dir;
}
