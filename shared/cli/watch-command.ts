import { parseArgs } from 'node:util';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import { UserInputError } from '#shared/errors.ts';
import { renderTable } from '#shared/report/render-table.ts';
import { runCanary } from '#shared/run-canary.ts';
import { prepareRun, RUN_OPTIONS } from './cli-setup.ts';
import { parseDuration } from './parse-duration.ts';
import { reportUserError } from './report-user-error.ts';

const USAGE = `usage: rds-iam-canary watch [--interval 60s] [--rounds N] [check options]

Runs a round every interval in one long-lived process (a container, a sidecar), reusing
role sessions across rounds as a warm Lambda container does. Ctrl-C ends the current
round at once: its table is printed, nothing of it is published. With --json, one report per
line.
  --interval DURATION  time from one round's start to the next (default 60s, at least 1s)
  --rounds N           stop after N rounds (a positive integer; default: until Ctrl-C)
Exit status: that of the last round (0 all passed, 1 a target failed), 2 a usage error.
`;

/** The shortest interval: IAM authentication throttles new connections per instance. */
const MIN_INTERVAL_MS = 1_000;

/** `rds-iam-canary watch`: rounds on a fixed rate until `--rounds` or Ctrl-C. */
export async function runWatch(argv: string[]): Promise<number> {
  const stop = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('rds-iam-canary: stopping (Ctrl-C again to quit at once)\n');
    stop.abort();
  };

  try {
    const { values } = parseArgs({
      args: attachNegativeNumbers(argv, ['--rounds', '--interval']),
      options: { ...RUN_OPTIONS, interval: { type: 'string' }, rounds: { type: 'string' } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const intervalMs = parseDuration(values.interval ?? '60s', '--interval');
    if (intervalMs < MIN_INTERVAL_MS) {
      throw new UserInputError('--interval', 'at least 1s between rounds');
    }
    const rounds = parseRounds(values.rounds);
    const { config, logger, publish } = prepareRun(values);
    const sessionCache = new RoleSessionCache();
    process.on('SIGINT', onSigint);

    let status = 0;
    for (let round = 1; round <= rounds && !stop.signal.aborted; round++) {
      const startedAt = Date.now();
      const { report } = await runCanary(config, {
        deadlineMs: startedAt + config.settings.roundTimeoutMs,
        logger,
        publish,
        sessionCache,
        signal: stop.signal,
        ...(values.target ? { targetNames: values.target } : {}),
      });
      status = report.summary.failed > 0 ? 1 : 0;
      process.stdout.write(
        values.json ? `${JSON.stringify(report)}\n` : `round ${round}\n${renderTable(report)}\n`,
      );

      if (round < rounds) await sleepUntil(startedAt + intervalMs, stop.signal);
    }
    return status;
  } catch (error) {
    return reportUserError(error);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * `--rounds -1` as `--rounds=-1`: parseArgs takes `-1` for an option, and the message it
 * gives then is about dashes, not about the number of rounds.
 */
function attachNegativeNumbers(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (flags.includes(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else out.push(arg);
  }
  return out;
}

/** `--rounds N`: a positive whole number; left out, rounds run until Ctrl-C. */
function parseRounds(flag: string | undefined): number {
  if (flag === undefined) return Number.POSITIVE_INFINITY;
  if (!/^\d+$/.test(flag.trim()) || Number(flag) < 1) {
    throw new UserInputError(
      '--rounds',
      `rounds must be a positive integer, got ${JSON.stringify(flag).replace(/[^\x20-\x7e]/g, '?')}: ` +
        'give 1 or more, or leave it out to run until Ctrl-C',
    );
  }
  return Number(flag);
}

/** Resolves at `epochMs` or when `signal` aborts, whichever comes first. */
function sleepUntil(epochMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, epochMs - Date.now()));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
