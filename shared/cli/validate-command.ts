import { parseArgs } from 'node:util';
import { readCanaryEnv } from '#shared/config/canary-env.ts';
import { loadConfig } from '#shared/config/load-config.ts';
import { lintTargets } from '#shared/diagnose/lint-config.ts';
import { reportUserError } from './report-user-error.ts';

const USAGE = `usage: rds-iam-canary validate [--config FILE] [--json]

Checks a config file without connecting: syntax, unknown keys, types, duplicate names, that
every target's region can be told and every CA file exists.
  --json    print the resolved targets (defaults applied) as JSON
Exit status: 0 valid, 2 invalid (one line naming the field and the fix).
`;

/** `rds-iam-canary validate`: load and resolve the config, print a summary, exit 0 or 2. */
export async function runValidate(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
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

    const config = loadConfig(values.config ?? readCanaryEnv(process.env).configPath);

    if (values.json) {
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return 0;
    }
    const lines = config.targets.map(
      (t) =>
        `  ${t.name}: ${t.engine} ${t.user}@${t.host}:${t.port} in ${t.region}` +
        `${t.roles.length > 0 ? ` via ${t.roles.length} role(s)` : ''}` +
        `${t.expect === 'reject' ? ' (must be rejected)' : ''}`,
    );
    process.stdout.write(
      `${config.path}: valid, ${config.targets.length} ${config.targets.length === 1 ? 'target' : 'targets'}\n${lines.join('\n')}\n`,
    );

    // Lint: things that are valid but likely wrong (a CNAME without signingHost, ...).
    // Warnings keep the exit status 0.
    for (const w of lintTargets(config.targets)) {
      process.stdout.write(`warning ${w.path}: ${w.message} (fix: ${w.fix})\n`);
    }
    return 0;
  } catch (error) {
    return reportUserError(error);
  }
}
