import { parseArgs } from 'node:util';
import { runRound } from '#shared/check/run-round.ts';
import { readCanaryEnv } from '#shared/config/canary-env.ts';
import { loadConfig } from '#shared/config/load-config.ts';
import { selectTargets } from '#shared/config/select-targets.ts';
import { createDiagnoser } from '#shared/diagnose/diagnose-failure.ts';
import { type LintWarning, lintTargets } from '#shared/diagnose/lint-config.ts';
import { UserInputError } from '#shared/errors.ts';
import type { CheckResult } from '#shared/report/types.ts';
import { reportUserError } from './report-user-error.ts';

const USAGE = `usage: rds-iam-canary diagnose --target NAME [--config FILE] [--json]

Checks one target with every diagnosis source on (the token, the database's answer, RDS
Describe*, the IAM policy simulator, the iam-db-auth-error log) and prints the findings in
full: cause, confidence, evidence and fix. Publishes nothing.
  --target NAME    the target to diagnose (required)
  --config FILE    config file (default: $CANARY_CONFIG, else canary.yaml)
  --json           print the check result (diagnosis included) as JSON
Exit status: 0 the target passed, 1 it failed, 2 a usage or config error.
`;

/** `rds-iam-canary diagnose --target NAME`: one check, its findings in full, exit 0/1/2. */
export async function runDiagnose(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string', short: 't' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (!values.target) throw new UserInputError('--target', 'name the target to diagnose');

    const config = loadConfig(values.config ?? readCanaryEnv(process.env).configPath);
    const [target] = selectTargets(config.targets, [values.target], '--target');
    const warnings = lintTargets([target!]).map((w) => ({
      ...w,
      path: w.path.replace(/^targets\[0\]/, target!.name),
    }));

    const report = await runRound([target!], {
      concurrency: 1,
      deadlineMs: Date.now() + config.settings.roundTimeoutMs,
      diagnose: createDiagnoser(),
    });
    const result = report.results[0]!;

    process.stdout.write(
      values.json
        ? `${JSON.stringify({ ...result, warnings }, null, 2)}\n`
        : renderDiagnosis(result, warnings),
    );
    return result.passed ? 0 : 1;
  } catch (error) {
    return reportUserError(error);
  }
}

/** The findings in full, for a terminal. */
export function renderDiagnosis(result: CheckResult, warnings: LintWarning[] = []): string {
  const lines = [
    `${result.target}: ${result.outcome}${result.passed ? ' (passed)' : ' (FAILED)'} ` +
      `after ${result.attempts} attempt(s), ${Math.round(result.timings.totalMs)} ms`,
    `  endpoint  ${result.endpoint} (${result.region})`,
    `  signed by ${result.principal ?? 'unknown principal'}`,
  ];
  if (result.error) lines.push(`  error     ${result.error.code}: ${result.error.message}`);

  if (result.passed) {
    lines.push('', 'Nothing to diagnose: the check passed.');
  } else if (result.diagnosis.length === 0) {
    lines.push('', 'No findings: the diagnosis ran out of time or found nothing.');
  } else {
    lines.push('', 'Findings, most certain first:');
    result.diagnosis.forEach((f, i) => {
      lines.push(
        `  ${i + 1}. ${f.cause} (${f.confidence})`,
        `     evidence: ${f.evidence}`,
        `     fix:      ${f.fix}`,
      );
    });
  }

  if (warnings.length > 0) {
    lines.push('', 'Config warnings:');
    for (const w of warnings) lines.push(`  ${w.path}: ${w.message}`, `     fix: ${w.fix}`);
  }
  return `${lines.join('\n')}\n`;
}
