import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunCheckOptions } from '#shared/check/run-check.ts';
import { runRound } from '#shared/check/run-round.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import type { CheckResult, ResolvedTarget } from '#shared/report/types.ts';

function makeTarget(i: number): ResolvedTarget {
  return {
    name: `t${i}`,
    engine: i % 2 ? 'mysql' : 'postgres',
    host: `db${i}.example`,
    port: 5432,
    user: 'canary_iam',
    region: 'eu-west-1',
    signingHost: `db${i}.example`,
    signingPort: 5432,
    roles: [],
    expect: 'connect',
    query: 'SELECT 1',
    timeoutMs: 10_000,
    tls: { ca: 'rds' },
    tags: {},
  };
}

function connected(target: ResolvedTarget): CheckResult {
  return {
    target: target.name,
    engine: target.engine,
    endpoint: `${target.host}:${target.port}`,
    region: target.region,
    principal: null,
    expect: target.expect,
    outcome: 'CONNECTED',
    passed: true,
    attempts: 1,
    timings: { assumeRoleMs: 0, tokenMs: 0, connectMs: 0, queryMs: 0, totalMs: 0 },
    tokenAgeSeconds: 0,
    error: null,
    diagnosis: [],
    tags: {},
  };
}

/** A check that takes `ms` (fake time) and honours its signal. */
function slowCheck(ms: number, log: { started: string[]; inFlight: number; maxInFlight: number }) {
  return (target: ResolvedTarget, options: RunCheckOptions) =>
    new Promise<CheckResult>((resolve) => {
      log.started.push(target.name);
      log.inFlight++;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      const done = (result: CheckResult) => {
        log.inFlight--;
        resolve(result);
      };
      const timer = setTimeout(() => done(connected(target)), Math.min(ms, options.budgetMs ?? ms));
      options.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        done({ ...connected(target), outcome: 'TIMEOUT', passed: false });
      });
    });
}

const base = {
  sessionCache: new RoleSessionCache(),
  credentials: async () => ({ accessKeyId: 'AKIA', secretAccessKey: 'x' }),
  now: () => Date.now(),
};

describe('runRound', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts no check near the deadline and reports unstarted targets as TIMEOUT', async () => {
    const targets = Array.from({ length: 10 }, (_, i) => makeTarget(i));
    const log = { started: [] as string[], inFlight: 0, maxInFlight: 0 };

    const pending = runRound(targets, {
      ...base,
      concurrency: 2,
      deadlineMs: Date.now() + 3500,
      minCheckMs: 1000,
      check: slowCheck(1000, log),
    });
    await vi.advanceTimersByTimeAsync(5000);
    const report = await pending;

    expect(log.started).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    expect(report.results.map((r) => r.target)).toEqual(targets.map((t) => t.name));
    expect(report.results.slice(6).map((r) => [r.outcome, r.attempts, r.error?.code])).toEqual(
      Array(4).fill(['TIMEOUT', 0, 'ROUND_DEADLINE']),
    );
    expect(report.summary).toEqual({ total: 10, passed: 6, failed: 4 });
  });

  it('gives a check no more budget than is left before the deadline', async () => {
    const budgets: number[] = [];
    const check = async (target: ResolvedTarget, options: RunCheckOptions) => {
      budgets.push(options.budgetMs ?? -1);
      return connected(target);
    };

    await runRound([makeTarget(0)], { ...base, deadlineMs: Date.now() + 4000, check });

    expect(budgets).toEqual([4000]);
  });

  it('cuts running checks at the deadline', async () => {
    const log = { started: [] as string[], inFlight: 0, maxInFlight: 0 };
    const pending = runRound([makeTarget(0)], {
      ...base,
      deadlineMs: Date.now() + 2000,
      check: (target, options) => slowCheck(60_000, log)(target, { ...options, budgetMs: 60_000 }),
    });

    await vi.advanceTimersByTimeAsync(2000);
    const report = await pending;

    expect(report.results[0]!.outcome).toBe('TIMEOUT');
  });

  it('keeps the concurrency bound and reports every target exactly once', async () => {
    const targets = Array.from({ length: 25 }, (_, i) => makeTarget(i));
    const log = { started: [] as string[], inFlight: 0, maxInFlight: 0 };
    const seen: number[] = [];

    const pending = runRound(targets, {
      ...base,
      concurrency: 4,
      check: slowCheck(100, log),
      onResult: (_result, index) => seen.push(index),
    });
    await vi.advanceTimersByTimeAsync(10_000);
    const report = await pending;

    expect(log.maxInFlight).toBe(4);
    expect(report.results).toHaveLength(25);
    expect([...seen].sort((a, b) => a - b)).toEqual(targets.map((_, i) => i));
  });

  it('reports a check that throws as CANARY_ERROR and goes on', async () => {
    const check = async (target: ResolvedTarget) => {
      if (target.name === 't1') throw new Error('boom');
      return connected(target);
    };

    const report = await runRound([makeTarget(0), makeTarget(1), makeTarget(2)], {
      ...base,
      check,
    });

    expect(report.results.map((r) => r.outcome)).toEqual([
      'CONNECTED',
      'CANARY_ERROR',
      'CONNECTED',
    ]);
  });

  it('reports a check that ignores its budget as TIMEOUT', async () => {
    const check = () => new Promise<CheckResult>(() => {});

    const pending = runRound([{ ...makeTarget(0), timeoutMs: 500 }], { ...base, check });
    await vi.advanceTimersByTimeAsync(1500);
    const report = await pending;

    expect(report.results[0]).toMatchObject({ outcome: 'TIMEOUT', passed: false });
  });

  it('survives an onResult that throws', async () => {
    const report = await runRound([makeTarget(0)], {
      ...base,
      check: async (t) => connected(t),
      onResult: () => {
        throw new Error('terminal gone');
      },
    });

    expect(report.summary.passed).toBe(1);
  });

  it('stops starting checks when its signal aborts', async () => {
    const controller = new AbortController();
    const log = { started: [] as string[], inFlight: 0, maxInFlight: 0 };
    const targets = Array.from({ length: 4 }, (_, i) => makeTarget(i));

    const pending = runRound(targets, {
      ...base,
      concurrency: 1,
      signal: controller.signal,
      check: slowCheck(1000, log),
    });
    await vi.advanceTimersByTimeAsync(500);
    controller.abort();
    const report = await pending;

    expect(log.started).toEqual(['t0']);
    expect(report.results.map((r) => r.outcome)).toEqual(Array(4).fill('TIMEOUT'));
  });

  it('leaves no timer behind', async () => {
    await runRound([makeTarget(0)], {
      ...base,
      deadlineMs: Date.now() + 5000,
      check: async (t) => connected(t),
    });

    expect(vi.getTimerCount()).toBe(0);
  });
});
