/**
 * The check's cost, side by side in one run against the sandbox:
 * - one canary check against a bare driver login with a ready-made token over the same TLS;
 * - the way many teams script it today: `aws rds generate-db-auth-token` then `psql` /
 *   `mariadb`;
 * - a 200-target round: wall time and peak memory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { runCheck } from '#shared/check/run-check.ts';
import { runRound } from '#shared/check/run-round.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { signToken } from '#shared/token/sign-token.ts';
import { readSandboxEnv, sandboxTarget } from '../test/support/sandbox.ts';
import { type BenchSection, median, percentile } from './bench-section.ts';

/** Logins per variant; interleaved so that drift hits every variant alike. */
const ROUNDS = 60;
const PEER_ROUNDS = 8;
const ROUND_TARGETS = 200;

const env = readSandboxEnv();
for (const key of [
  'AWS_ENDPOINT_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
]) {
  process.env[key] = (env as unknown as Record<string, string>)[key];
}
const credentials = async () => ({
  accessKeyId: env.AWS_ACCESS_KEY_ID,
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
});
const caPem = readFileSync(env.caPath, 'utf8');

function targetFor(name: string, overrides: Partial<ResolvedTarget> = {}): ResolvedTarget {
  return sandboxTarget(name, name, { timeoutMs: 10_000, ...overrides });
}

async function tokenFor(target: ResolvedTarget): Promise<string> {
  const signed = await signToken({
    hostname: target.host,
    port: target.port,
    region: target.region,
    username: target.user,
    credentials: await credentials(),
  });
  return signed.token;
}

/** A bare pg login: ready-made token, same TLS trust, connect, SELECT 1, end. */
async function barePostgres(target: ResolvedTarget, token: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    password: token,
    ssl: { ca: caPem, rejectUnauthorized: true },
  });
  await client.connect();
  await client.query('SELECT 1');
  await client.end();
}

const mysqlSsl = { ca: caPem, rejectUnauthorized: true, verifyIdentity: true };

/** A bare mysql2 login: ready-made token, same TLS trust, connect, SELECT 1, end. */
async function bareMysql(target: ResolvedTarget, token: string): Promise<void> {
  const { default: mysql } = await import('mysql2/promise');
  const connection = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    password: token,
    ssl: mysqlSsl,
    enableCleartextPlugin: true,
  });
  await connection.query('SELECT 1');
  await connection.end();
}

async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function perCheck(rows: (string | number)[][], notes: string[]): Promise<void> {
  const sessionCache = new RoleSessionCache();
  for (const name of ['orders', 'ledger'] as const) {
    const target = targetFor(name);
    const bare = target.engine === 'postgres' ? barePostgres : bareMysql;
    const canary: number[] = [];
    const driver: number[] = [];

    // Warm-up: module loading, DNS, TLS contexts, the verifier's caches.
    for (let i = 0; i < 3; i++) {
      await runCheck(target, { sessionCache, credentials });
      await bare(target, await tokenFor(target));
    }

    for (let i = 0; i < ROUNDS; i++) {
      const token = await tokenFor(target);
      const runCanary = async () => {
        let outcome = '';
        canary.push(
          await timeMs(async () => {
            outcome = (await runCheck(target, { sessionCache, credentials })).outcome;
          }),
        );
        if (outcome !== 'CONNECTED') throw new Error(`${name}: ${outcome}`);
      };
      const runBare = async () => {
        driver.push(await timeMs(() => bare(target, token)));
      };
      // Alternate which goes first, so that neither always follows the other's login.
      if (i % 2 === 0) {
        await runCanary();
        await runBare();
      } else {
        await runBare();
        await runCanary();
      }
    }

    const ratio = median(canary) / median(driver);
    rows.push(
      [
        `${target.engine} (${name})`,
        'canary check (sign + TLS login + query + close)',
        fmt(median(canary)),
        fmt(percentile(canary, 95)),
        `${ratio.toFixed(2)}x`,
      ],
      [
        `${target.engine} (${name})`,
        'bare driver, ready-made token, same TLS',
        fmt(median(driver)),
        fmt(percentile(driver, 95)),
        '1.00x',
      ],
    );
    notes.push(
      `${target.engine}: canary/bare median ${ratio.toFixed(2)}x, target <= 1.10x: ${ratio <= 1.1 ? 'met' : 'NOT met'}.`,
    );
  }
}

/** The canary's own cost per check, outside the login: credentials, signing, bookkeeping. */
async function ownOverhead(rows: (string | number)[][]): Promise<void> {
  const target = targetFor('orders');
  const sessionCache = new RoleSessionCache();
  const noLogin = async (request: { password: () => string }) => {
    request.password();
    return { connectMs: 0, queryMs: 0 };
  };
  const options = { sessionCache, credentials, connect: { postgres: noLogin } };
  const times: number[] = [];
  for (let i = 0; i < 550; i++) {
    const ms = await timeMs(() => runCheck(target, options));
    if (i >= 50) times.push(ms);
  }
  rows.push([
    'none (login stubbed out)',
    'canary overhead per check: credentials from cache, token signed, bookkeeping',
    fmt(median(times)),
    fmt(percentile(times, 95)),
    '',
  ]);
}

/** `aws rds generate-db-auth-token` then the engine's CLI client, as many teams script it. */
function peer(rows: (string | number)[][], notes: string[]): void {
  // Debian's awscli (scripts/install-bench-tools.sh) rather than whatever `aws` is on PATH.
  const awsCommand = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
  const aws = spawnSync(awsCommand, ['--version'], { encoding: 'utf8' });
  if (aws.status !== 0) {
    notes.push('Peer not measured: no `aws` command on this machine.');
    return;
  }
  const awsVersion = `${aws.stdout}${aws.stderr}`.trim().split(/\s+/)[0];
  const debian = spawnSync('dpkg-query', ['-W', 'awscli'], { encoding: 'utf8' }).status === 0;

  for (const name of ['orders', 'ledger'] as const) {
    const target = targetFor(name);
    const times: number[] = [];
    for (let i = 0; i < PEER_ROUNDS; i++) {
      const started = performance.now();
      const token = spawnSync(
        awsCommand,
        [
          'rds',
          'generate-db-auth-token',
          '--hostname',
          target.host,
          '--port',
          String(target.port),
          '--username',
          target.user,
          '--region',
          target.region,
        ],
        { encoding: 'utf8', env: process.env },
      );
      if (token.status !== 0) throw new Error('aws rds generate-db-auth-token failed');
      const password = token.stdout.trim();
      const login =
        target.engine === 'postgres'
          ? spawnSync(
              'psql',
              [
                `host=${target.host} port=${target.port} user=${target.user} dbname=${target.database} sslmode=verify-full sslrootcert=${env.caPath}`,
                '-Atc',
                'SELECT 1',
              ],
              { encoding: 'utf8', env: { ...process.env, PGPASSWORD: password } },
            )
          : spawnSync(
              'mariadb',
              [
                `--host=${target.host}`,
                `--port=${target.port}`,
                `--user=${target.user}`,
                `--ssl-ca=${env.caPath}`,
                '--ssl-verify-server-cert',
                `--database=${target.database}`,
                '-Nse',
                'SELECT 1',
              ],
              { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: password } },
            );
      if (login.status !== 0)
        throw new Error(`${name}: the CLI login failed (exit ${login.status})`);
      times.push(performance.now() - started);
    }
    rows.push([
      `${target.engine} (${name})`,
      `peer: aws rds generate-db-auth-token + ${target.engine === 'postgres' ? 'psql' : 'mariadb'}`,
      fmt(median(times)),
      fmt(percentile(times, 95)),
      '',
    ]);
  }
  notes.push(
    'The canary keeps one parsed TLS context per CA (pg given a ready secureContext); the bare pg login parses the CA PEM on every connection, which is why the canary can come out faster.',
    `Peer measured with \`${awsVersion}\`${debian ? ' (Debian awscli)' : ', not the Debian awscli package (not installed here); the figures are those of the aws command on PATH'}, ${PEER_ROUNDS} logins per engine.`,
  );
}

async function bigRound(rows: (string | number)[][], notes: string[]): Promise<void> {
  const chain = [
    { arn: 'arn:aws:iam::111111111111:role/canary-hub' },
    {
      arn: 'arn:aws:iam::222222222222:role/rds-connect',
      externalId: 'canary-7f3a',
      sessionTags: { team: 'payments' },
    },
  ];
  const kinds = [
    () => targetFor('orders'),
    () => targetFor('ledger'),
    () => targetFor('payments', { roles: chain }),
    () => targetFor('orders', { user: 'readonly_guard', expect: 'reject' }),
  ];
  const targets = Array.from({ length: ROUND_TARGETS }, (_, i) => ({
    ...kinds[i % kinds.length]!(),
    name: `t${i}`,
  }));

  const perEndpoint = new Map<string, number>();
  for (const t of targets) {
    const key = `${t.host}:${t.port}`;
    perEndpoint.set(key, (perEndpoint.get(key) ?? 0) + 1);
  }
  const busiest = Math.max(...perEndpoint.values());

  globalThis.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 10);

  const sessionCache = new RoleSessionCache();
  const started = performance.now();
  const report = await runRound(targets, { sessionCache, credentials });
  const wall = performance.now() - started;
  clearInterval(sampler);

  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  rows.push([
    `${ROUND_TARGETS} targets (orders, ledger, payments via 2-role chain, a reject guard)`,
    `round: concurrency 8, 10 new connections/s per endpoint`,
    fmt(wall),
    '',
    `${report.summary.passed}/${report.summary.total} passed`,
  ]);
  notes.push(
    `${ROUND_TARGETS}-target round: wall ${(wall / 1000).toFixed(2)} s; peak RSS ${mib(peakRss)} MiB (the process, after the per-check and overhead runs), peak heap ${mib(peakHeap)} MiB; AssumeRole calls ${sessionCache.assumeRoleCalls}.`,
    `The round's wall time is bounded below by the per-endpoint rate limit: the busiest endpoint carries ${busiest} targets, at 10 new connections/s about ${(busiest / 10).toFixed(0)} s on its own.`,
  );
}

function fmt(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}

export default async function bench(): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];

  await perCheck(rows, notes);
  await ownOverhead(rows);
  peer(rows, notes);
  await bigRound(rows, notes);

  return {
    title: 'The check: canary against a bare driver login, the CLI peer, a 200-target round',
    description: `Per-check time of one canary check (token signed, TLS verified, login, SELECT 1, close) against a bare driver login with a token signed beforehand over the same TLS, ${ROUNDS} interleaved logins each after a warm-up, against the sandbox's PostgreSQL and MariaDB (whose PAM verifier is part of every login). Then the scripted peer, and one round of ${ROUND_TARGETS} targets.`,
    columns: ['endpoint', 'variant', 'median', 'p95', 'vs bare'],
    rows,
    notes,
  };
}
