/**
 * Load: 500 targets behind 50 role chains in one round against the sandbox. Checks the same
 * guarantees as test/integration/load.test.ts at full size (every target reported once, STS
 * called once per distinct hop, logins per second per instance within the limit) and records
 * wall time and peak memory.
 */
import type { BenchSection } from './bench-section.ts';
import { measureLoadRound } from './load-round.ts';

const TARGETS = 500;
const CHAINS = 50;
const CONCURRENCY = 32;
const LIMIT = 20;

export default async function loadBench(): Promise<BenchSection> {
  const m = await measureLoadRound({
    targets: TARGETS,
    chains: CHAINS,
    concurrency: CONCURRENCY,
    perEndpointPerSecond: LIMIT,
  });

  const names = m.report.results.map((r) => r.target);
  const reportedOnce = names.length === TARGETS && new Set(names).size === TARGETS;
  const calls = [...m.assumeRoleCalls.values()];
  const stsCalls = calls.reduce((a, b) => a + b, 0);
  const oncePerHop = calls.length === m.distinctHops && calls.every((n) => n === 1);
  const maxRate = Math.max(...Object.values(m.maxLoginsPerSecond));
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const outcomes = new Map<string, number>();
  for (const r of m.report.results) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);

  return {
    title: `Load: ${TARGETS} targets behind ${CHAINS} role chains`,
    description:
      `One round (concurrency ${CONCURRENCY}, per-endpoint limit ${LIMIT}/s) against the ` +
      'sandbox: 25 one-hop chains to `orders` (PostgreSQL, eu-west-1) and 25 two-hop ' +
      'cross-account chains with ExternalId and session tags to `payments` (PostgreSQL, ' +
      'us-east-1), 10 targets per chain. STS calls and logins per second are counted from ' +
      "the sandbox's call and decision logs.",
    columns: ['measure', 'value'],
    rows: [
      ['targets reported', `${names.length} (each once: ${reportedOnce ? 'yes' : 'NO'})`],
      ['outcomes', [...outcomes].map(([o, n]) => `${o} ${n}`).join(', ')],
      ['distinct chain hops', m.distinctHops],
      ['AssumeRole calls', `${stsCalls} (once per hop: ${oncePerHop ? 'yes' : 'NO'})`],
      [
        'most logins in one second (orders / payments)',
        `${m.maxLoginsPerSecond.orders} / ${m.maxLoginsPerSecond.payments} (limit ${LIMIT})`,
      ],
      ['wall time', `${(m.wallMs / 1000).toFixed(1)} s`],
      ['peak RSS (before the round)', `${mib(m.peakRssBytes)} MiB (${mib(m.rssBeforeBytes)} MiB)`],
    ],
    notes: [
      `Wall time is bounded by the rate limit: ${TARGETS / 2} logins per instance at ${LIMIT}/s ` +
        `is at least ${TARGETS / 2 / LIMIT} s.`,
      maxRate <= LIMIT
        ? 'Logins per second stayed within the limit at the server.'
        : `Logins per second exceeded the limit at the server (${maxRate} > ${LIMIT}): the ` +
          'limiter spaces check starts, and slow first logins arrive bunched with later ones.',
    ],
  };
}
