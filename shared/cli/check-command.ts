import { parseArgs } from 'node:util';
import { renderProgress, renderTable } from '#shared/report/render-table.ts';
import { runCanary } from '#shared/run-canary.ts';
import { prepareRun, RUN_OPTIONS } from './cli-setup.ts';
import { reportUserError } from './report-user-error.ts';

const USAGE = `usage: rds-iam-canary check [--config FILE] [--target NAME]... [--json] [--no-publish]
                            [--alert-topic-arn ARN] [--metric-namespace NS]

Runs one round: every target (or those named) is checked, metrics and alerts are published.
  --config FILE    config file (default: $CANARY_CONFIG, else canary.yaml)
  --target NAME    check only this target (repeatable)
  --json           print the report as JSON instead of a table
  --no-publish     publish no metrics and no alerts
Exit status: 0 all passed, 1 a target failed, 2 a usage or config error.
`;

/** `rds-iam-canary check`: one round, a table (or `--json` report), exit 0/1/2. */
export async function runCheck(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({ args: argv, options: RUN_OPTIONS, strict: true });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const { config, logger, publish } = prepareRun(values);

    const progress = !values.json && process.stderr.isTTY;
    const total = new Set(values.target).size || config.targets.length;
    let done = 0;
    const { report } = await runCanary(config, {
      deadlineMs: Date.now() + config.settings.roundTimeoutMs,
      logger,
      publish,
      ...(values.target ? { targetNames: values.target } : {}),
      onResult: (result) => {
        done += 1;
        if (progress) process.stderr.write(`${renderProgress(result, done, total)}\n`);
      },
    });

    process.stdout.write(
      values.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report),
    );
    return report.summary.failed > 0 ? 1 : 0;
  } catch (error) {
    return reportUserError(error);
  }
}
