/**
 * A cheaper version of the load benchmark (bench/load.bench.ts): many targets behind many role
 * chains in one round against the sandbox. Every target is reported once, STS is called once
 * per distinct hop of the chains, and no instance sees more new logins per second than the
 * canary's per-endpoint limit.
 */
import { describe, expect, it } from 'vitest';
import { measureLoadRound } from '../../bench/load-round.ts';

const LIMIT = 20;

describe('a round of 60 targets behind 6 role chains', () => {
  it('reports every target once, assumes each hop once and keeps to the rate limit', async () => {
    const m = await measureLoadRound({
      targets: 60,
      chains: 6,
      concurrency: 16,
      perEndpointPerSecond: LIMIT,
    });

    const names = m.report.results.map((r) => r.target);
    expect(names).toEqual(m.targets.map((t) => t.name));
    expect(new Set(names).size).toBe(60);
    expect(m.report.summary).toEqual({ total: 60, passed: 60, failed: 0 });
    // 3 one-hop chains and 3 two-hop chains: 9 distinct hops, each assumed exactly once.
    expect(m.distinctHops).toBe(9);
    expect([...m.assumeRoleCalls.values()]).toEqual(Array(9).fill(1));
    for (const [instanceName, max] of Object.entries(m.maxLoginsPerSecond)) {
      expect(max, instanceName).toBeGreaterThan(0);
      expect(max, instanceName).toBeLessThanOrEqual(LIMIT);
    }
  }, 60_000);
});
