/**
 * One round of many targets behind many role chains against the sandbox, measured: what
 * `bench/load.bench.ts` (500 targets, 50 chains) and `test/integration/load.test.ts` (a
 * cheaper size) both run and assert on.
 *
 * Chains: the fixture has few roles, so chains are made distinct by their session names.
 * Even-numbered chains are one hop (`untagged`, allowed to connect to `orders`); odd ones
 * are two hops (`canary-hub` then `rds-connect` with its ExternalId and session tags,
 * allowed to connect to `payments` in another account and region). Targets are dealt to
 * chains in turn, so every chain serves targets/chains of them.
 */
import { runRound } from '#shared/check/run-round.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import type { ResolvedTarget, RoleHop, RoundReport } from '#shared/report/types.ts';
import { decisionsSince, instance, readSandboxEnv, sandboxFetch } from '../test/support/sandbox.ts';

const UNTAGGED = 'arn:aws:iam::111111111111:role/untagged';
const HUB = 'arn:aws:iam::111111111111:role/canary-hub';
const RDS_CONNECT = 'arn:aws:iam::222222222222:role/rds-connect';

export interface LoadOptions {
  targets: number;
  chains: number;
  concurrency: number;
  /** The canary's per-endpoint limit for the round (new connections per second). */
  perEndpointPerSecond: number;
}

export interface LoadMeasurement {
  report: RoundReport;
  targets: ResolvedTarget[];
  wallMs: number;
  /** Peak resident set size sampled during the round, and before it, in bytes. */
  peakRssBytes: number;
  rssBeforeBytes: number;
  /** AssumeRole calls the sandbox received for this run's sessions, per "RoleArn session". */
  assumeRoleCalls: Map<string, number>;
  /** Distinct hops (role + session) the chains contain: the calls there should be. */
  distinctHops: number;
  /** Most logins the sandbox saw for this run in any one-second window, per instance. */
  maxLoginsPerSecond: Record<string, number>;
}

/** The targets of a load round; `runId` keeps this run's session names apart. */
export function buildLoadTargets(options: LoadOptions, runId: string): ResolvedTarget[] {
  const env = readSandboxEnv();
  const chains: { roles: RoleHop[]; instance: 'orders' | 'payments' }[] = [];
  for (let c = 0; c < options.chains; c++) {
    const session = `load-${runId}-${c}`;
    chains.push(
      c % 2 === 0
        ? { roles: [{ arn: UNTAGGED, sessionName: session }], instance: 'orders' }
        : {
            roles: [
              { arn: HUB, sessionName: session },
              {
                arn: RDS_CONNECT,
                externalId: 'canary-7f3a',
                sessionName: session,
                sessionTags: { team: 'payments' },
              },
            ],
            instance: 'payments',
          },
    );
  }

  return Array.from({ length: options.targets }, (_, i) => {
    const chain = chains[i % chains.length]!;
    const db = instance(chain.instance);
    return {
      name: `load-${i}`,
      engine: db.engine,
      host: db.host,
      port: db.port,
      database: chain.instance,
      user: 'canary_iam',
      region: db.region,
      signingHost: db.host,
      signingPort: db.port,
      roles: chain.roles,
      expect: 'connect',
      query: 'SELECT 1',
      timeoutMs: 60_000,
      tls: { ca: env.caPath },
      tags: {},
    };
  });
}

/** Runs the round and gathers what the sandbox saw of it. */
export async function measureLoadRound(options: LoadOptions): Promise<LoadMeasurement> {
  const env = readSandboxEnv();
  for (const key of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
    process.env[key] = (env as unknown as Record<string, string>)[key];
  }
  process.env.AWS_REGION = env.AWS_REGION;
  const runId = `${process.pid}-${Date.now().toString(36)}`;
  const targets = buildLoadTargets(options, runId);
  const since = new Date().toISOString();

  const rssBeforeBytes = process.memoryUsage().rss;
  let peakRssBytes = rssBeforeBytes;
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  let report: RoundReport;
  try {
    report = await runRound(targets, {
      concurrency: options.concurrency,
      perEndpointConnectionsPerSecond: options.perEndpointPerSecond,
      sessionCache: new RoleSessionCache(),
      credentials: async () => ({
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      }),
    });
  } finally {
    clearInterval(sampler);
  }
  const wallMs = performance.now() - started;
  peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);

  const prefix = `load-${runId}-`;
  const calls = await sandboxFetch<{ params: Record<string, string> }[]>(
    `/calls?${new URLSearchParams({ service: 'sts', action: 'AssumeRole', since })}`,
  );
  const assumeRoleCalls = new Map<string, number>();
  for (const call of calls) {
    if (!call.params.RoleSessionName?.startsWith(prefix)) continue;
    const key = `${call.params.RoleArn} ${call.params.RoleSessionName}`;
    assumeRoleCalls.set(key, (assumeRoleCalls.get(key) ?? 0) + 1);
  }
  const hops = new Set(targets.flatMap((t) => t.roles.map((r) => `${r.arn} ${r.sessionName}`)));

  const maxLoginsPerSecond: Record<string, number> = {};
  for (const name of ['orders', 'payments']) {
    const times = (await decisionsSince(name, since))
      .filter((d) => d.principal?.includes(prefix))
      .map((d) => Date.parse(d.time))
      .sort((a, b) => a - b);
    maxLoginsPerSecond[name] = maxInWindow(times, 1000);
  }

  return {
    report,
    targets,
    wallMs,
    peakRssBytes,
    rssBeforeBytes,
    assumeRoleCalls,
    distinctHops: hops.size,
    maxLoginsPerSecond,
  };
}

/** The most timestamps (sorted, ms) inside any window of `windowMs` (end exclusive). */
export function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
