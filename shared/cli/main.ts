/**
 * The `rds-iam-canary` command: routes to one subcommand module, loaded on demand so that
 * `validate` never pays for the database drivers.
 *
 * Exit codes: 0 all passed, 1 a check failed, 2 a usage or configuration error.
 */
export type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  check: {
    summary: 'run one round of checks and print the results',
    load: async () => (await import('./check-command.ts')).runCheck,
  },
  validate: {
    summary: 'validate a config file without connecting',
    load: async () => (await import('./validate-command.ts')).runValidate,
  },
  watch: {
    summary: 'run rounds in one long-lived process',
    load: async () => (await import('./watch-command.ts')).runWatch,
  },
  diagnose: {
    summary: 'check one target with every diagnosis source and print the findings in full',
    load: async () => (await import('./diagnose-command.ts')).runDiagnose,
  },
  smoke: {
    summary: 'invoke the deployed smoke function (post-deploy gate) and print its report',
    load: async () => (await import('./smoke-command.ts')).runSmoke,
  },
  sandbox: {
    summary: 'the local RDS IAM sandbox: up | down | status | env',
    load: async () => (await import('../../sandbox/cli.ts')).runSandbox,
  },
  demo: {
    summary: 'bring the sandbox up, run a round against it, show what was published',
    load: async () => (await import('./demo-command.ts')).runDemo,
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }

  if (name === '--version' || name === '-V' || name === 'version') {
    const pkg = await import('../../package.json', { with: { type: 'json' } });
    process.stdout.write(`rds-iam-canary ${pkg.default.version}\n`);
    return 0;
  }

  const command = commands[name];
  if (!command) {
    process.stderr.write(`rds-iam-canary: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }

  return (await command.load())(rest);
}

function usage(): string {
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return (
    `usage: rds-iam-canary <command> [options]\n\n${lines.join('\n')}\n\n` +
    "  --version  print the version\n  <command> --help  that command's options\n"
  );
}
