/**
 * A smoke run: the canary's checks, now, for a post-deploy gate. IAM changes take seconds
 * to propagate, so a target that fails right after a deploy is checked again, after a
 * pause, a bounded number of times, and always within the deadline. Only failed targets
 * are re-checked; each keeps its latest result.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { CheckResult, ResolvedTarget, RoundReport } from '#shared/report/types.ts';

/** Rounds in all (the first plus retries): enough to ride out IAM propagation. */
export const DEFAULT_MAX_ROUNDS = 3;

/**
 * Pauses before the second and third rounds. IAM propagation is usually under 10 s and
 * rarely over a minute: 15 s then 30 s puts the last round ~45 s after the first.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
 */
export const DEFAULT_RETRY_DELAYS_MS = [15_000, 30_000];

/** A retry round is only worth starting with at least this long left before the deadline. */
const MIN_ROUND_BUDGET_MS = 15_000;

export interface SmokeReport extends RoundReport {
  /** Rounds run (1 when everything passed at once). */
  rounds: number;
}

export type RunRound = (
  targets: ResolvedTarget[],
  options: { deadlineMs: number },
) => Promise<RoundReport>;

export interface SmokeOptions {
  /** Epoch ms by which the run must end (the Lambda deadline minus a margin). */
  deadlineMs: number;
  /** Runs one round (shared/check/run-round.ts, with the round settings bound). */
  runRound: RunRound;
  /** Default DEFAULT_MAX_ROUNDS. */
  maxRounds?: number;
  /** Default DEFAULT_RETRY_DELAYS_MS; the last value repeats. */
  retryDelaysMs?: number[];
  /** Smallest time left that is worth a retry round (default 15 s). */
  minRoundBudgetMs?: number;
  /** Called before each retry round (logging). */
  onRetry?: (round: number, failed: CheckResult[]) => void;
  /** Clock (tests). */
  now?: () => number;
  /** Waits between rounds (tests). */
  sleep?: (ms: number) => Promise<void>;
}

/** Runs `targets` until all pass, the rounds run out, or the deadline is near. */
export async function runSmoke(
  targets: ResolvedTarget[],
  options: SmokeOptions,
): Promise<SmokeReport> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms, undefined, { ref: false }));
  const maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const minBudget = options.minRoundBudgetMs ?? MIN_ROUND_BUDGET_MS;
  const started = now();

  const first = await options.runRound(targets, { deadlineMs: options.deadlineMs });
  const latest = new Map(first.results.map((r) => [r.target, r]));
  let rounds = 1;

  while (rounds < maxRounds) {
    const failed = [...latest.values()].filter((r) => !r.passed);
    const delay = delays[Math.min(rounds - 1, delays.length - 1)] ?? 0;
    if (failed.length === 0 || now() + delay + minBudget > options.deadlineMs) break;

    options.onRetry?.(rounds + 1, failed);
    await sleep(delay);
    const names = new Set(failed.map((r) => r.target));
    const again = await options.runRound(
      targets.filter((t) => names.has(t.name)),
      { deadlineMs: options.deadlineMs },
    );
    for (const result of again.results) latest.set(result.target, result);
    rounds++;
  }

  const results = targets.flatMap((t) => latest.get(t.name) ?? []);
  const passed = results.filter((r) => r.passed).length;
  return {
    startedAt: first.startedAt,
    durationMs: now() - started,
    summary: { total: results.length, passed, failed: results.length - passed },
    results,
    rounds,
  };
}

/**
 * One line for a failed run: `2 of 5 targets failed after 3 rounds: orders AUTH_REJECTED
 * (28000), ...`, at most `limit` targets named.
 */
export function summarizeFailures(report: SmokeReport, limit = 10): string {
  const failed = report.results.filter((r) => !r.passed);
  const named = failed
    .slice(0, limit)
    .map((r) => `${r.target} ${r.outcome}${r.error ? ` (${r.error.code})` : ''}`);
  const more = failed.length > limit ? `, and ${failed.length - limit} more` : '';
  const rounds = report.rounds === 1 ? '1 round' : `${report.rounds} rounds`;
  return `${failed.length} of ${report.summary.total} targets failed after ${rounds}: ${named.join(', ')}${more}`;
}
