import { parseArgs } from 'node:util';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { UserInputError } from '#shared/errors.ts';
import { renderTable } from '#shared/report/render-table.ts';
import type { SmokeReport } from '#shared/smoke/run-smoke.ts';
import { parseSmokeFailure } from '#shared/smoke/smoke-failed-error.ts';
import { reportUserError } from './report-user-error.ts';

const USAGE = `usage: rds-iam-canary smoke --stage STAGE [--region REGION] [--target NAME]... [--json]
                            [--function NAME]

Invokes the deployed smoke function (rds-iam-canary-<stage>-smoke) and waits for its report:
every target (or those named) checked now, failures re-checked through IAM propagation.
  --stage STAGE     the stage deployed with \`serverless deploy --stage\`
  --region REGION   its region (default: AWS_REGION, else the AWS config)
  --target NAME     check only this target (repeatable)
  --json            print the report as JSON instead of a table
  --function NAME   another function name or ARN (default rds-iam-canary-<stage>-smoke)
Exit status: 0 all passed, 1 a target failed or the function failed, 2 a usage or AWS error.
`;

const OPTIONS = {
  stage: { type: 'string', short: 's' },
  region: { type: 'string', short: 'r' },
  target: { type: 'string', short: 't', multiple: true },
  json: { type: 'boolean' },
  function: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Stage names as the Serverless Framework accepts them (they end up in function names). */
const STAGE = /^[A-Za-z0-9-]{1,32}$/;

/**
 * `rds-iam-canary smoke`: the post-deploy gate for a pipeline. Invokes the smoke Lambda
 * synchronously (RequestResponse) and prints its report; exits 1 when any target failed or
 * the function failed (FunctionError), so a pipeline step stops there.
 */
export async function runSmoke(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(argv);
  } catch (error) {
    return reportUserError(error);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const functionName = values.function ?? `rds-iam-canary-${values.stage}-smoke`;
  const payload = values.target ? { targets: values.target } : {};
  const client = new LambdaClient(values.region ? { region: values.region } : {});
  if (!(await hasRegion(client))) {
    client.destroy();
    process.stderr.write(
      'rds-iam-canary: --region: no region: give --region REGION or set AWS_REGION ' +
        '(the region the stage is deployed in)\n',
    );
    return 2;
  }
  process.stderr.write(`rds-iam-canary: invoking ${functionName}...\n`);

  let response: InvokeCommandOutput;
  try {
    response = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  } catch (error) {
    const { name = 'Error', message } = error as Error;
    const hint = /region is missing/i.test(message) ? ': give --region or set AWS_REGION' : '';
    process.stderr.write(
      `rds-iam-canary: cannot invoke ${functionName}: ${name}: ${message}${hint}\n`,
    );
    return 2;
  } finally {
    client.destroy();
  }

  const body = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  if (response.FunctionError) return printFunctionError(functionName, body, values.json);

  const report = parseJson(body) as SmokeReport | undefined;
  if (!report || !Array.isArray(report.results)) {
    process.stderr.write(`rds-iam-canary: ${functionName} returned no report\n`);
    return 1;
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  return report.summary.failed > 0 ? 1 : 0;
}

function parseFlags(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) return values;
  if (!values.stage && !values.function) {
    throw new UserInputError('--stage', 'missing: give the stage you deployed (see --help)');
  }
  if (values.stage && !STAGE.test(values.stage)) {
    throw new UserInputError('--stage', 'a stage is 1-32 letters, digits or "-"');
  }
  return values;
}

/**
 * A failed invocation: the smoke run's own failure carries its report (printed as the
 * table); anything else (a config error, a timeout) is printed as Lambda reports it.
 */
function printFunctionError(functionName: string, body: string, json?: boolean): number {
  const error = parseJson(body) as { errorType?: string; errorMessage?: string } | undefined;
  const type = error?.errorType ?? 'Error';
  const message = error?.errorMessage ?? body;

  const { summary, report } =
    type === 'SmokeFailedError' ? parseSmokeFailure(message) : { summary: message, report: null };
  if (report) {
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  }
  process.stderr.write(`rds-iam-canary: ${functionName} failed: ${type}: ${summary}\n`);
  return 1;
}

/** Whether the SDK can tell a region (flag, AWS_REGION, the AWS config file) without a call. */
async function hasRegion(client: LambdaClient): Promise<boolean> {
  try {
    return Boolean(await client.config.region());
  } catch {
    return false;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
