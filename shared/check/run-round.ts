/**
 * A round: every target checked once, concurrently within a bound and a per-endpoint
 * connection rate, ending before the deadline (the Lambda's, less what publishing needs).
 */
import { setMaxListeners } from 'node:events';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import {
  type CredentialsProvider,
  RoleSessionCache,
} from '#shared/credentials/assume-role-chain.ts';
import type { CheckResult, Finding, ResolvedTarget, RoundReport } from '#shared/report/types.ts';
import { CheckTimeoutError } from './check-timeout-error.ts';
import { EndpointRateLimiter } from './rate-limiter.ts';
import { redactTokens } from './redact-token.ts';
import { type FailedCheckContext, type RunCheckOptions, runCheck } from './run-check.ts';

/** Checks in flight at once. Each holds at most one database connection. */
export const DEFAULT_CONCURRENCY = 8;

/**
 * New connections per second per endpoint. RDS throttles IAM authentication per instance
 * (documented as "200 new connections per second"); the canary stays far below and never
 * causes throttling itself.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html
 */
export const DEFAULT_CONNECTIONS_PER_SECOND = 10;

/**
 * The limiter grants a login its turn when the token is handed over; the server counts the
 * login a few milliseconds later, after the driver, the server and its IAM check. Spacing the
 * turns for a window this much longer than a second (5% of the rate) keeps the server's count
 * within the limit when that delay varies from one login to the next (a few milliseconds on
 * loopback, more on a busy host or network).
 */
const LOGIN_JITTER_MS = 50;

/** No check starts with less than this left before the deadline: it could not finish. */
export const DEFAULT_MIN_CHECK_MS = 1000;

/** A check that ignores its budget by this much is reported as TIMEOUT without it. */
const STRAGGLER_GRACE_MS = 1000;

export interface RoundOptions {
  /**
   * Epoch ms by which the round must have ended (a Lambda's deadline less a reserve for
   * publishing). Near it no check starts; unstarted targets are reported as TIMEOUT; running
   * ones are cut at it. Left out: no deadline beyond each target's own timeoutMs.
   */
  deadlineMs?: number;
  /** Left out: DEFAULT_CONCURRENCY (8). */
  concurrency?: number;
  /** Left out: DEFAULT_CONNECTIONS_PER_SECOND (10). */
  perEndpointConnectionsPerSecond?: number;
  /**
   * Role sessions, shared by every target and kept across rounds. Left out: one cache for the
   * whole process, so a warm Lambda container or `watch` reuses sessions anyway.
   */
  sessionCache?: RoleSessionCache;
  /** Called as each result is known (progress output); a throw there is ignored. */
  onResult?: (result: CheckResult, index: number) => void;
  /** Base credentials. Left out: the default AWS chain (one memoized provider per process). */
  credentials?: CredentialsProvider;
  /** Clock, epoch ms. Left out: Date.now. */
  now?: () => number;
  /** Aborting ends the round early: running checks are cut, unstarted ones reported TIMEOUT. */
  signal?: AbortSignal;
  /** Left out: DEFAULT_MIN_CHECK_MS (1000). */
  minCheckMs?: number;
  /** Passed to each check; see RunCheckOptions. */
  maxAttempts?: number;
  diagnose?: (context: FailedCheckContext) => Promise<Finding[]>;
  /** Test seam: the check itself. Left out: runCheck. */
  check?: (target: ResolvedTarget, options: RunCheckOptions) => Promise<CheckResult>;
}

let processSessionCache: RoleSessionCache | undefined;
let processCredentials: CredentialsProvider | undefined;

/** The cache used when a round is given none: one per process (a warm Lambda container). */
export function defaultSessionCache(): RoleSessionCache {
  processSessionCache ??= new RoleSessionCache();
  return processSessionCache;
}

function defaultCredentials(): CredentialsProvider {
  processCredentials ??= fromNodeProviderChain();
  return processCredentials;
}

/**
 * Checks every target once and returns the report, results in config order. Never throws for
 * a target's failure; every target appears exactly once.
 *
 * @example
 * const report = await runRound(targets, { deadlineMs: context.getRemainingTimeInMillis()
 *   + Date.now() - 5000 });
 */
export async function runRound(
  targets: readonly ResolvedTarget[],
  options: RoundOptions = {},
): Promise<RoundReport> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const startedPerf = performance.now();
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
  const minCheckMs = options.minCheckMs ?? DEFAULT_MIN_CHECK_MS;
  const limiter = new EndpointRateLimiter(
    options.perEndpointConnectionsPerSecond ?? DEFAULT_CONNECTIONS_PER_SECOND,
    { jitterMs: LOGIN_JITTER_MS },
  );
  const checkOptions: Omit<RunCheckOptions, 'signal' | 'budgetMs'> = {
    sessionCache: options.sessionCache ?? defaultSessionCache(),
    credentials: options.credentials ?? defaultCredentials(),
    rateLimiter: limiter,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(options.diagnose === undefined ? {} : { diagnose: options.diagnose }),
  };
  const check = options.check ?? runCheck;

  const controller = new AbortController();
  // One listener per running check and per limiter waiter.
  setMaxListeners(0, controller.signal);
  const onOuterAbort = () =>
    controller.abort(new CheckTimeoutError('ROUND_DEADLINE', 'the round was stopped'));
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  // Also keeps the process alive while checks wait on unref'd limiter timers.
  const deadlineTimer =
    options.deadlineMs === undefined
      ? setInterval(() => {}, 2 ** 30)
      : setTimeout(
          () =>
            controller.abort(
              new CheckTimeoutError('ROUND_DEADLINE', 'the round reached its deadline'),
            ),
          Math.max(0, options.deadlineMs - now()),
        );

  const results: (CheckResult | undefined)[] = new Array(targets.length);
  const report = (index: number, result: CheckResult) => {
    results[index] = result;
    try {
      options.onResult?.(result, index);
    } catch {
      // Progress output must not change the round.
    }
  };

  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= targets.length) return;
      const target = targets[index]!;

      const left = options.deadlineMs === undefined ? Infinity : options.deadlineMs - now();
      if (controller.signal.aborted || left < minCheckMs) {
        report(index, notStarted(target));
        continue;
      }

      const budgetMs = Math.min(target.timeoutMs, left);
      report(
        index,
        await checkBounded(check, target, { ...checkOptions, signal: controller.signal, budgetMs }),
      );
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  } finally {
    clearTimeout(deadlineTimer);
    clearInterval(deadlineTimer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }

  const finished = results.map((r, i) => r ?? notStarted(targets[i]!));
  const passed = finished.filter((r) => r.passed).length;
  return {
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Math.round(performance.now() - startedPerf),
    summary: { total: finished.length, passed, failed: finished.length - passed },
    results: finished,
  };
}

/** Runs one check; a throw or a check that outlives its budget still yields one result. */
async function checkBounded(
  check: NonNullable<RoundOptions['check']>,
  target: ResolvedTarget,
  options: RunCheckOptions,
): Promise<CheckResult> {
  const budgetMs = options.budgetMs ?? target.timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const straggler = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () =>
        resolve(
          failedResult(target, 'TIMEOUT', 'CHECK_TIMEOUT', `no result within ${budgetMs} ms`, 1),
        ),
      budgetMs + STRAGGLER_GRACE_MS,
    );
  });
  try {
    return await Promise.race([check(target, options), straggler]);
  } catch (error) {
    return failedResult(target, 'CANARY_ERROR', 'CHECK_CRASHED', crashMessage(error), 1);
  } finally {
    clearTimeout(timer);
  }
}

/** What a crashed check threw, as text; a value whose reading throws too says only that. */
function crashMessage(error: unknown): string {
  try {
    const message = error instanceof Error ? error.message : String(error);
    return redactTokens(typeof message === 'string' ? message : String(message), []);
  } catch {
    return 'the check crashed with a value that cannot be read';
  }
}

function notStarted(target: ResolvedTarget): CheckResult {
  return failedResult(
    target,
    'TIMEOUT',
    'ROUND_DEADLINE',
    'not started: too little time was left before the round deadline',
    0,
  );
}

function failedResult(
  target: ResolvedTarget,
  outcome: 'TIMEOUT' | 'CANARY_ERROR',
  code: string,
  message: string,
  attempts: number,
): CheckResult {
  return {
    target: target.name,
    engine: target.engine,
    endpoint: `${target.host}:${target.port}`,
    region: target.region,
    principal: null,
    expect: target.expect,
    outcome,
    passed: false,
    attempts,
    timings: { assumeRoleMs: 0, tokenMs: 0, connectMs: 0, queryMs: 0, totalMs: 0 },
    tokenAgeSeconds: null,
    error: { code, message },
    diagnosis: [],
    tags: target.tags,
  };
}
