import { describe, expect, it } from 'vitest';
import type { CheckResult, ResolvedTarget, RoundReport } from '#shared/report/types.ts';
import { type RunRound, runSmoke, summarizeFailures } from '#shared/smoke/run-smoke.ts';
import { parseSmokeFailure, SmokeFailedError } from '#shared/smoke/smoke-failed-error.ts';

function target(name: string): ResolvedTarget {
  return {
    name,
    engine: 'postgres',
    host: `${name}.example.com`,
    port: 5432,
    user: 'canary_iam',
    region: 'eu-west-1',
    signingHost: `${name}.example.com`,
    signingPort: 5432,
    roles: [],
    expect: 'connect',
    query: 'SELECT 1',
    timeoutMs: 1000,
    tls: { ca: 'rds' },
    tags: {},
  };
}

function result(name: string, passed: boolean): CheckResult {
  return {
    target: name,
    engine: 'postgres',
    endpoint: `${name}.example.com:5432`,
    region: 'eu-west-1',
    principal: null,
    expect: 'connect',
    outcome: passed ? 'CONNECTED' : 'AUTH_REJECTED',
    passed,
    attempts: 1,
    timings: { assumeRoleMs: 0, tokenMs: 0, connectMs: 0, queryMs: 0, totalMs: 0 },
    tokenAgeSeconds: 0,
    error: passed ? null : { code: '28000', message: 'PAM authentication failed' },
    diagnosis: [],
    tags: {},
  };
}

/** A round runner whose targets pass from the given round on (1-based); records calls. */
function roundsUntilPass(passFrom: Record<string, number>) {
  const calls: string[][] = [];
  const run: RunRound = async (targets) => {
    calls.push(targets.map((t) => t.name));
    const round = calls.length;
    const results = targets.map((t) => result(t.name, round >= (passFrom[t.name] ?? 1)));
    const passed = results.filter((r) => r.passed).length;
    const report: RoundReport = {
      startedAt: new Date(0).toISOString(),
      durationMs: 1,
      summary: { total: results.length, passed, failed: results.length - passed },
      results,
    };
    return report;
  };
  return { run, calls };
}

/** A clock that moves only when the smoke run sleeps. */
function fakeTime() {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    slept,
    start: now,
  };
}

const targets = ['orders', 'ledger', 'payments'].map(target);

describe('runSmoke', () => {
  it('runs one round when every target passes', async () => {
    const { run, calls } = roundsUntilPass({});
    const time = fakeTime();

    const report = await runSmoke(targets, {
      deadlineMs: time.start + 120_000,
      runRound: run,
      now: time.now,
      sleep: time.sleep,
    });

    expect(report.rounds).toBe(1);
    expect(report.summary).toEqual({ total: 3, passed: 3, failed: 0 });
    expect(calls).toEqual([['orders', 'ledger', 'payments']]);
    expect(time.slept).toEqual([]);
  });

  it('re-checks only failed targets after a pause until they pass', async () => {
    const { run, calls } = roundsUntilPass({ ledger: 2, payments: 3 });
    const time = fakeTime();

    const report = await runSmoke(targets, {
      deadlineMs: time.start + 120_000,
      runRound: run,
      now: time.now,
      sleep: time.sleep,
    });

    expect(calls).toEqual([['orders', 'ledger', 'payments'], ['ledger', 'payments'], ['payments']]);
    expect(time.slept).toEqual([15_000, 30_000]);
    expect(report.rounds).toBe(3);
    expect(report.summary).toEqual({ total: 3, passed: 3, failed: 0 });
    expect(report.results.map((r) => r.target)).toEqual(['orders', 'ledger', 'payments']);
  });

  it('stops after the last round and reports what still fails', async () => {
    const { run, calls } = roundsUntilPass({ ledger: 99 });
    const time = fakeTime();

    const report = await runSmoke(targets, {
      deadlineMs: time.start + 120_000,
      runRound: run,
      now: time.now,
      sleep: time.sleep,
    });

    expect(calls).toHaveLength(3);
    expect(report.summary).toEqual({ total: 3, passed: 2, failed: 1 });
    expect(summarizeFailures(report)).toBe(
      '1 of 3 targets failed after 3 rounds: ledger AUTH_REJECTED (28000)',
    );
  });

  it('starts no retry round that could not finish before the deadline', async () => {
    const { run, calls } = roundsUntilPass({ ledger: 2 });
    const time = fakeTime();

    const report = await runSmoke(targets, {
      deadlineMs: time.start + 25_000,
      runRound: run,
      now: time.now,
      sleep: time.sleep,
    });

    expect(calls).toHaveLength(1);
    expect(time.slept).toEqual([]);
    expect(report.rounds).toBe(1);
    expect(report.summary.failed).toBe(1);
  });

  it('carries the report in the failure message for the CLI', async () => {
    const { run } = roundsUntilPass({ payments: 99 });
    const time = fakeTime();
    const report = await runSmoke(targets, {
      deadlineMs: time.start + 1_000,
      runRound: run,
      now: time.now,
      sleep: time.sleep,
    });

    const error = new SmokeFailedError(report);
    const parsed = parseSmokeFailure(error.message);

    expect(error.code).toBe('SMOKE_FAILED');
    expect(parsed.summary).toBe(
      '1 of 3 targets failed after 1 round: payments AUTH_REJECTED (28000)',
    );
    expect(parsed.report).toEqual(report);
    expect(parseSmokeFailure('Task timed out after 180.00 seconds')).toEqual({
      summary: 'Task timed out after 180.00 seconds',
      report: null,
    });
  });
});
