/**
 * One target, end to end: credentials and role chain, a fresh token, a TLS login, the query.
 * Each phase is timed; the whole check is bounded by the target's budget and a signal; transient
 * failures are retried with jittered backoff and a fresh token; the result says how it went.
 */
import { setMaxListeners } from 'node:events';
import {
  type CredentialsProvider,
  type RoleSessionCache,
  raceSignal,
} from '#shared/credentials/assume-role-chain.ts';
import { connectMysql } from '#shared/db/connect-mysql.ts';
import { connectPostgres } from '#shared/db/connect-postgres.ts';
import type { DbCheckRequest, DbCheckTimings } from '#shared/db/db-check-request.ts';
import { DbError } from '#shared/db/db-error.ts';
import { type DecodedToken, decodeToken } from '#shared/diagnose/decode-token.ts';
import type { CheckResult, Finding, PhaseTimings, ResolvedTarget } from '#shared/report/types.ts';
import { type SignedToken, type SignTokenRequest, signToken } from '#shared/token/sign-token.ts';
import { CheckTimeoutError } from './check-timeout-error.ts';
import { type ClassifiedFailure, classifyFailure } from './classify-failure.ts';
import type { EndpointRateLimiter } from './rate-limiter.ts';
import { redactTokens } from './redact-token.ts';

/** Attempts per check, first included: enough to ride out a blip, few enough to stay in budget. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Backoff before retry n: base * 2^(n-1), capped, half of it random ("equal jitter"). */
export const BACKOFF_BASE_MS = 100;
export const BACKOFF_CAP_MS = 1000;

/**
 * One attempt's connect phase may use at most this share of the check's budget, so that a
 * network that drops packets still leaves time for a second attempt.
 */
const CONNECT_SHARE = 0.5;

/** A retry is not started with less time than this left: it could not finish. */
const MIN_ATTEMPT_MS = 200;

/**
 * Timers inside an attempt end this much before the budget, so their error wins the race. (When
 * the budget's abort still lands first, in the connect or query phase, the connector names it
 * by that phase's timeout.)
 */
const FINISH_GUARD_MS = 20;

/** Diagnosis of a failed check may add at most this much (issue: diagnosis). */
const DIAGNOSIS_MAX_MS = 2000;

/** A token older than this at connect was reused: a canary defect (field case F3). */
const TOKEN_LIFETIME_S = 900;

/** What the diagnosis hook learns about a failed check. Holds no secret. */
export interface FailedCheckContext {
  target: ResolvedTarget;
  result: CheckResult;
  /** The error of the deciding attempt, as raised (driver or AWS error as `cause`). */
  error: unknown;
  /** What the token said, when one was signed: never the token itself. */
  token: {
    signedAt: number;
    accessKeyId: string;
    hadSessionToken: boolean;
    credentialsExpiration: Date | undefined;
    /** What the token was signed for, read back from it (never its signature). */
    decoded?: DecodedToken;
  } | null;
  /** Epoch ms the deciding attempt started (narrows the auth-error log search). */
  attemptStartedAt?: number;
  signal: AbortSignal;
}

export interface RunCheckOptions {
  sessionCache: RoleSessionCache;
  /** The base credentials (the default AWS chain, or an override). */
  credentials: CredentialsProvider;
  /** Left out: no per-endpoint limit. */
  rateLimiter?: EndpointRateLimiter;
  /** Aborting ends the check at once with outcome TIMEOUT (use a CheckTimeoutError reason). */
  signal?: AbortSignal;
  /** The check's budget in ms. Left out: target.timeoutMs; never more than it. */
  budgetMs?: number;
  /** Left out: DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
  /** Random source in [0, 1) for the backoff jitter. Left out: Math.random. */
  random?: () => number;
  /**
   * Fills `diagnosis` for a failed check (issue: diagnosis). Bounded by the rest of the
   * budget. Left out: `diagnosis` stays empty.
   */
  diagnose?: (context: FailedCheckContext) => Promise<Finding[]>;
  /** Test seams: the token signer and the database logins. Left out: the real ones. */
  signToken?: (request: SignTokenRequest) => Promise<SignedToken>;
  connect?: Partial<
    Record<ResolvedTarget['engine'], (r: DbCheckRequest) => Promise<DbCheckTimings>>
  >;
}

interface AttemptResult {
  timings: Omit<PhaseTimings, 'totalMs'>;
  principal: string | null;
  tokenAgeSeconds: number | null;
  failure: (ClassifiedFailure & { error: unknown }) | null;
  token: FailedCheckContext['token'];
  startedAt: number;
}

const CONNECTORS = { postgres: connectPostgres, mysql: connectMysql };

/**
 * Runs one check and returns its result; never throws. `passed` is true when the outcome is
 * CONNECTED and the target expects `connect`, or AUTH_REJECTED and it expects `reject`.
 *
 * Retries: THROTTLED, CONNECT_TIMEOUT, TIMEOUT and AWS 5xx get up to `maxAttempts` attempts
 * with backoff, each with a fresh token; AUTH_REJECTED on a `connect` target is retried once
 * with fresh credentials (the chain's cached sessions dropped), since IAM changes take seconds
 * to propagate. Reported timings are the deciding attempt's; totalMs covers the whole check.
 *
 * The per-endpoint rate limit paces starts (before signing) and, what the server counts, the
 * moments the token is handed over (between TLS and login): `connectMs` is TCP, TLS and login
 * without the wait for that turn, which counts in `totalMs` only; `tokenAgeSeconds` is the
 * token's age when it was handed over.
 */
export async function runCheck(
  target: ResolvedTarget,
  options: RunCheckOptions,
): Promise<CheckResult> {
  const started = performance.now();
  const budgetMs = Math.max(0, Math.min(options.budgetMs ?? target.timeoutMs, target.timeoutMs));
  const deadline = started + budgetMs;
  const controller = new AbortController();
  // Every phase listens on this signal; the count is bounded by the phases, not a leak.
  setMaxListeners(0, controller.signal);
  const budgetTimer = setTimeout(
    () => controller.abort(new CheckTimeoutError('CHECK_TIMEOUT', `check exceeded ${budgetMs} ms`)),
    budgetMs,
  );
  const onOuterAbort = () => controller.abort(outerReason(options.signal!));
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;

  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const random = options.random ?? Math.random;
  let attempts = 0;
  let refreshCredentials = false;
  let authRetried = false;
  let principal: string | null = null;
  let last: AttemptResult;

  try {
    for (;;) {
      attempts++;
      last = await runAttempt(target, options, signal, deadline, refreshCredentials);
      principal = last.principal ?? principal;
      const failure = last.failure;
      if (!failure || signal.aborted || attempts >= maxAttempts) break;

      const retryAuth =
        failure.outcome === 'AUTH_REJECTED' && target.expect === 'connect' && !authRetried;
      if (!retryAuth && !failure.transient) break;

      const delay = backoffMs(attempts, random);
      if (deadline - performance.now() - delay < MIN_ATTEMPT_MS) break;
      if (retryAuth) authRetried = true;
      refreshCredentials = retryAuth;
      try {
        await sleep(delay, signal);
      } catch {
        break;
      }
    }
  } finally {
    clearTimeout(budgetTimer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }

  const result = shapeResult(target, last, attempts, principal, elapsed(started));
  // Every failed result, including a `reject` guard that got in (no error, still a failure).
  if (!result.passed && options.diagnose) {
    result.diagnosis = await diagnoseBounded(
      options.diagnose,
      {
        target,
        result,
        error: last.failure?.error ?? null,
        token: last.token,
        attemptStartedAt: last.startedAt,
        signal,
      },
      deadline,
    );
  }
  return result;
}

async function runAttempt(
  target: ResolvedTarget,
  options: RunCheckOptions,
  signal: AbortSignal,
  deadline: number,
  refreshCredentials: boolean,
): Promise<AttemptResult> {
  const attemptStartedAt = Date.now();
  const timings = { assumeRoleMs: 0, tokenMs: 0, connectMs: 0, queryMs: 0 };
  let principal: string | null = null;
  let tokenAgeSeconds: number | null = null;
  let token: FailedCheckContext['token'] = null;
  let secret = '';
  let usedAt: number | undefined;

  try {
    let t = performance.now();
    const chain = await options.sessionCache.resolve({
      roles: target.roles,
      region: target.region,
      baseCredentials: options.credentials,
      signal,
      forceRefresh: refreshCredentials,
    });
    timings.assumeRoleMs = elapsed(t);
    principal = chain.principal;

    // Starts are paced too, so that a queue for a busy endpoint waits here, before TCP, and
    // not on an open connection; the turn that counts is taken when the token is handed over.
    const limiter = options.rateLimiter;
    const endpoint = `${target.host}:${target.port}`;
    await limiter?.acquire(`start ${endpoint}`, signal);

    t = performance.now();
    const signed = await raceSignal(
      (options.signToken ?? signToken)({
        hostname: target.signingHost,
        port: target.signingPort,
        region: target.region,
        username: target.user,
        credentials: chain.credentials,
      }),
      signal,
    );
    timings.tokenMs = elapsed(t);
    secret = signed.token;
    token = {
      signedAt: signed.signedAt,
      accessKeyId: chain.credentials.accessKeyId,
      hadSessionToken: chain.credentials.sessionToken !== undefined,
      credentialsExpiration: chain.credentials.expiration,
      ...decodedOrNothing(signed.token),
    };

    // The server counts an IAM authentication when the token arrives, so the endpoint's rate
    // limit is taken there: after TCP and TLS, whose time varies from login to login.
    const handOver = () => {
      usedAt = Date.now();
      return signed.token;
    };
    const connect = options.connect?.[target.engine] ?? CONNECTORS[target.engine];
    const startedAt = performance.now();
    const remaining = deadline - startedAt - FINISH_GUARD_MS;
    const db = await connect({
      host: target.host,
      port: target.port,
      serverName: target.tls.serverName ?? target.host,
      ca: target.tls.ca,
      user: target.user,
      ...(target.database === undefined ? {} : { database: target.database }),
      password: handOver,
      ...(limiter ? { waitForTurn: () => limiter.acquire(`login ${endpoint}`, signal) } : {}),
      query: target.query,
      connectTimeoutMs: Math.max(1, Math.min(target.timeoutMs * CONNECT_SHARE, remaining)),
      totalTimeoutMs: Math.max(1, remaining),
      startedAt,
      signal,
    });
    timings.connectMs = db.connectMs;
    timings.queryMs = db.queryMs;
    if (usedAt !== undefined) tokenAgeSeconds = ageSeconds(usedAt, signed.signedAt);

    if (tokenAgeSeconds !== null && tokenAgeSeconds > TOKEN_LIFETIME_S) {
      const failure = classifyFailure({
        phase: 'check',
        code: 'TOKEN_TOO_OLD',
        message: `token was ${tokenAgeSeconds} s old at connect`,
      });
      return {
        timings,
        principal,
        tokenAgeSeconds,
        failure: { ...failure, error: null },
        token,
        startedAt: attemptStartedAt,
      };
    }
    return {
      timings,
      principal,
      tokenAgeSeconds,
      failure: null,
      token,
      startedAt: attemptStartedAt,
    };
  } catch (error) {
    const failure = classifyFailure(error);
    Object.assign(timings, dbTimings(error));
    if (token && usedAt !== undefined) tokenAgeSeconds = ageSeconds(usedAt, token.signedAt);
    return {
      timings,
      principal,
      tokenAgeSeconds,
      failure: {
        ...failure,
        message: redactTokens(failure.message, secret ? [secret] : []),
        error,
      },
      token,
      startedAt: attemptStartedAt,
    };
  }
}

function shapeResult(
  target: ResolvedTarget,
  last: AttemptResult,
  attempts: number,
  principal: string | null,
  totalMs: number,
): CheckResult {
  const outcome = last.failure ? last.failure.outcome : 'CONNECTED';
  const passed =
    (outcome === 'CONNECTED' && target.expect === 'connect') ||
    (outcome === 'AUTH_REJECTED' && target.expect === 'reject');

  return {
    target: target.name,
    engine: target.engine,
    endpoint: `${target.host}:${target.port}`,
    region: target.region,
    principal,
    expect: target.expect,
    outcome,
    passed,
    attempts,
    timings: { ...last.timings, totalMs },
    tokenAgeSeconds: last.tokenAgeSeconds,
    error: last.failure ? { code: last.failure.code, message: last.failure.message } : null,
    diagnosis: [],
    tags: target.tags,
  };
}

/** Backoff before the retry that follows attempt `attempt` (1-based), with equal jitter. */
export function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  const r = Math.min(1, Math.max(0, random() || 0));
  return Math.round(ceiling / 2 + r * (ceiling / 2));
}

/** The token read back for diagnosis; a token the decoder cannot read adds nothing. */
function decodedOrNothing(token: string): { decoded?: DecodedToken } {
  try {
    return { decoded: decodeToken(token) };
  } catch {
    return {};
  }
}

async function diagnoseBounded(
  diagnose: NonNullable<RunCheckOptions['diagnose']>,
  context: FailedCheckContext,
  deadline: number,
): Promise<Finding[]> {
  // What is left of the budget, at least a moment for what it knows locally, never over 2 s.
  const limit = Math.min(DIAGNOSIS_MAX_MS, Math.max(250, deadline - performance.now()));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limit);
  try {
    return await raceSignal(diagnose({ ...context, signal: controller.signal }), controller.signal);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return raceSignal(
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    }),
    signal,
  );
}

function outerReason(signal: AbortSignal): unknown {
  return signal.reason instanceof CheckTimeoutError
    ? signal.reason
    : new CheckTimeoutError('ROUND_DEADLINE', 'the round ended before this check finished');
}

/** The phase timings a DbError carries; nothing for any other thrown value, however odd. */
function dbTimings(error: unknown): Partial<DbCheckTimings> {
  try {
    return error instanceof DbError ? { connectMs: error.connectMs, queryMs: error.queryMs } : {};
  } catch {
    return {};
  }
}

function ageSeconds(usedAt: number, signedAt: number): number {
  return Math.round(Math.max(0, usedAt - signedAt)) / 1000;
}

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
