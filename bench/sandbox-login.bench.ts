/**
 * How much the sandbox's token verifier adds to a login: N IAM logins (PAM module -> Unix
 * socket -> SigV4 and policy checks) against N password logins over the same TLS, on the
 * same instance, in the same run. Tokens are signed before the clock starts.
 */
import { performance } from 'node:perf_hooks';
import { login, signToken } from '../test/support/iam-login.ts';
import { instance } from '../test/support/sandbox.ts';
import { type BenchSection, median, percentile } from './bench-section.ts';

const LOGINS = 50;
const WARMUP = 5;
// The target: the verifier adds at most this to a median login.
const BUDGET_MS = 25;

async function timeLogin(run: () => Promise<{ ok: boolean }>): Promise<number> {
  const started = performance.now();
  const result = await run();
  const elapsed = performance.now() - started;
  if (!result.ok) throw new Error('a benchmark login was refused: is the sandbox up?');
  return elapsed;
}

/** Alternates the two kinds of login so that load from elsewhere hits both alike. */
async function timeSideBySide(count: number, a: () => Promise<{ ok: boolean }>, b: typeof a) {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < count; i++) {
    times[0].push(await timeLogin(a));
    times[1].push(await timeLogin(b));
  }
  return times;
}

export default async function benchSandboxLogin(): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];

  for (const name of ['orders', 'ledger']) {
    const target = instance(name);
    const password = () => login(target, 'app_password', 'sandbox-app-password');
    const tokens = await Promise.all(
      Array.from({ length: LOGINS + WARMUP }, () => signToken(target, { user: 'canary_iam' })),
    );
    const iam = () => login(target, 'canary_iam', tokens.pop()!);

    await timeSideBySide(WARMUP, password, iam);
    const [floor, verified] = await timeSideBySide(LOGINS, password, iam);

    const added = median(verified) - median(floor);
    const engine = target.engine === 'postgres' ? 'PostgreSQL' : 'MariaDB';
    rows.push(
      [engine, 'password over TLS (floor)', LOGINS, ms(median(floor)), ms(percentile(floor, 95))],
      [
        engine,
        'IAM token via verifier',
        LOGINS,
        ms(median(verified)),
        ms(percentile(verified, 95)),
      ],
    );
    notes.push(
      `${engine}: the verifier adds ${ms(added)} ms to the median login: ` +
        `${added <= BUDGET_MS ? 'within' : 'OVER'} the ${BUDGET_MS} ms budget.`,
    );
  }

  return {
    title: 'Sandbox login: verified IAM login vs TLS password login',
    description:
      `${LOGINS} logins per row, the two kinds alternating (after ${WARMUP} warm-up pairs), each a new TLS ` +
      'connection plus `SELECT 1`, closed before the next, with the real `pg` and `mysql2` ' +
      'drivers against the sandbox instances. Tokens come from `@aws-sdk/rds-signer`, signed ' +
      'before timing starts.',
    columns: ['engine', 'login', 'n', 'median ms', 'p95 ms'],
    rows,
    notes: [
      ...notes,
      'The PostgreSQL floor includes SCRAM-SHA-256 (4096 PBKDF2 rounds, client and server); ' +
        'an IAM login replaces it with the clear-text token and the verifier, so its added ' +
        'cost can come out near zero or negative there.',
    ],
  };
}

function ms(value: number): string {
  return value.toFixed(1);
}
