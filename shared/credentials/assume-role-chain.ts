/**
 * The credentials a check signs its token with: the default AWS credential chain (or an
 * override), then each role of the target's chain in order with STS AssumeRole in the target's
 * region. Role sessions live in a RoleSessionCache shared by every target of a round and kept
 * across rounds (watch mode, a warm Lambda container).
 */
import { createHash } from 'node:crypto';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CanaryError } from '#shared/errors.ts';
import type { RoleHop } from '#shared/report/types.ts';

/** AWS credentials (structurally the SDK's AwsCredentialIdentity). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** A provider like the SDK's: `forceRefresh` asks a memoized provider for new credentials. */
export type CredentialsProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentials>;

/** What a chain resolves to: the last hop's credentials and who they belong to. */
export interface ChainCredentials {
  credentials: AwsCredentials;
  /** The assumed-role ARN of the last hop, else the base identity's ARN; null if unknown. */
  principal: string | null;
}

/** One AssumeRole call, as the cache makes it. */
export interface AssumeRoleRequest {
  region: string;
  credentials: AwsCredentials;
  roleArn: string;
  sessionName: string;
  externalId?: string;
  sessionTags?: Record<string, string>;
  durationSeconds?: number;
  signal: AbortSignal;
}

export interface AssumedSession {
  credentials: AwsCredentials & { expiration: Date };
  /** The assumed-role ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>). */
  arn: string;
}

/** A token must not outlive the credentials that signed it; tokens live 15 minutes. */
const TOKEN_LIFETIME_MS = 15 * 60_000;

/** Left-out `refreshMarginMs`: re-assume this long before the 15-minute line is crossed. */
const DEFAULT_REFRESH_MARGIN_MS = 60_000;

/** One STS call never holds a chain longer than this (its waiters share it). */
const STS_CALL_TIMEOUT_MS = 10_000;

/** How long a check waits for its principal's ARN (cosmetic) before reporting it unknown. */
const IDENTIFY_WAIT_MS = 1000;

/** STS limits RoleSessionName to 64 characters of [\w+=,.@-]. */
const MAX_SESSION_NAME = 64;

/** An STS error while assuming one role of the chain; `code` is the AWS error name. */
export class AssumeRoleError extends CanaryError {
  readonly phase = 'assume-role' as const;
  readonly roleArn: string;
  readonly hop: number;
  readonly httpStatus: number | undefined;

  constructor(error: unknown, roleArn: string, hop: number) {
    const fields = awsErrorFields(error);
    super(fields.name, `AssumeRole ${roleArn}: ${fields.message}`, { cause: error });
    this.roleArn = roleArn;
    this.hop = hop;
    this.httpStatus = fields.status;
  }
}

/** The default credential chain (or the override) failed to produce credentials. */
export class CredentialsError extends CanaryError {
  readonly phase = 'credentials' as const;
  readonly httpStatus: number | undefined;

  constructor(error: unknown) {
    const fields = awsErrorFields(error);
    super(fields.name, `no AWS credentials: ${fields.message}`, { cause: error });
    this.httpStatus = fields.status;
  }
}

export interface RoleSessionCacheOptions {
  /**
   * Re-assume a role this long before its session would come within 15 minutes of expiring.
   * Left out: 60 s.
   */
  refreshMarginMs?: number;
  /** Clock, epoch milliseconds. Left out: Date.now. */
  now?: () => number;
  /** The AssumeRole call. Left out: STS through the AWS SDK (honours AWS_ENDPOINT_URL). */
  assumeRole?: (request: AssumeRoleRequest) => Promise<AssumedSession>;
  /**
   * Who the base credentials belong to (for reports of targets without roles). Left out:
   * STS GetCallerIdentity, once per access key. A failure leaves the principal unknown.
   */
  identify?: (region: string, credentials: AwsCredentials, signal: AbortSignal) => Promise<string>;
}

interface CachedSession {
  session: AssumedSession;
  /** Re-assume once `now` passes this (epoch ms). */
  refreshAt: number;
}

/**
 * Role sessions keyed by the base identity, the region and the chain up to each hop, so that
 * chains sharing a prefix share its sessions. Concurrent requests for one hop share one
 * in-flight AssumeRole; a failed call is never cached; a session is re-assumed before it comes
 * within 15 minutes (+ margin) of its expiry, so a token is never signed by credentials that
 * would expire inside the token's life. A session too short for that rule (durationSeconds
 * 900) is reused for at most the margin, then re-assumed.
 */
export class RoleSessionCache {
  private readonly sessions = new Map<string, CachedSession>();
  private readonly inflight = new Map<string, Promise<AssumedSession>>();
  private readonly identities = new Map<string, Promise<string>>();
  private readonly refreshMarginMs: number;
  private readonly now: () => number;
  private readonly assumeRole: (request: AssumeRoleRequest) => Promise<AssumedSession>;
  private readonly identify: NonNullable<RoleSessionCacheOptions['identify']>;

  /** AssumeRole calls made (successful or not), for tests and benchmarks. */
  assumeRoleCalls = 0;

  constructor(options: RoleSessionCacheOptions = {}) {
    this.refreshMarginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.now = options.now ?? Date.now;
    this.assumeRole = options.assumeRole ?? assumeRoleWithSts;
    this.identify = options.identify ?? identifyWithSts;
  }

  /**
   * Resolves the credentials at the end of `roles` (the base credentials when empty).
   * `forceRefresh` drops this chain's cached sessions and asks the base provider for new
   * credentials (used once after an authentication rejection). Rejects with CredentialsError
   * or AssumeRoleError; `signal` stops the wait (a shared call goes on for its other waiters).
   */
  async resolve(request: {
    roles: readonly RoleHop[];
    region: string;
    baseCredentials: CredentialsProvider;
    signal: AbortSignal;
    forceRefresh?: boolean;
  }): Promise<ChainCredentials> {
    const { roles, region, signal } = request;
    const base = await this.resolveBase(
      request.baseCredentials,
      request.forceRefresh ?? false,
      signal,
    );

    if (roles.length === 0) {
      return { credentials: base, principal: await this.principalOf(region, base, signal) };
    }

    if (request.forceRefresh) this.invalidate(roles, region, base.accessKeyId);
    let credentials: AwsCredentials = base;
    let arn = '';
    for (let hop = 0; hop < roles.length; hop++) {
      const session = await this.assumeHop(
        roles,
        hop,
        region,
        base.accessKeyId,
        credentials,
        signal,
      );
      credentials = session.credentials;
      arn = session.arn;
    }
    return { credentials, principal: arn };
  }

  /** Drops the cached sessions of a chain (every hop of it), for every base identity if none given. */
  invalidate(roles: readonly RoleHop[], region: string, accessKeyId?: string): void {
    for (let hop = 0; hop < roles.length; hop++) {
      const suffix = `\0${chainKey(roles.slice(0, hop + 1), region)}`;
      for (const key of this.sessions.keys()) {
        if (
          key.endsWith(suffix) &&
          (accessKeyId === undefined || key.startsWith(`${accessKeyId}\0`))
        ) {
          this.sessions.delete(key);
        }
      }
    }
  }

  private async resolveBase(
    provider: CredentialsProvider,
    forceRefresh: boolean,
    signal: AbortSignal,
  ): Promise<AwsCredentials> {
    try {
      let credentials = await raceSignal(
        provider(forceRefresh ? { forceRefresh } : undefined),
        signal,
      );
      if (
        credentials.expiration &&
        credentials.expiration.getTime() - this.now() < TOKEN_LIFETIME_MS
      ) {
        credentials = await raceSignal(provider({ forceRefresh: true }), signal);
      }
      return credentials;
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw error;
      throw error instanceof CredentialsError ? error : new CredentialsError(error);
    }
  }

  private async principalOf(
    region: string,
    credentials: AwsCredentials,
    signal: AbortSignal,
  ): Promise<string | null> {
    let pending = this.identities.get(credentials.accessKeyId);
    if (!pending) {
      // Shared by concurrent checks; forgotten on failure so that the next check asks again.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), STS_CALL_TIMEOUT_MS);
      timer.unref?.();
      pending = this.identify(region, credentials, controller.signal).finally(() =>
        clearTimeout(timer),
      );
      this.identities.set(credentials.accessKeyId, pending);
      pending.catch(() => this.identities.delete(credentials.accessKeyId));
    }

    // Only the report's principal field depends on it (the login decides the outcome), so a
    // slow STS costs a check at most IDENTIFY_WAIT_MS; the call goes on for later checks.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const giveUp = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), IDENTIFY_WAIT_MS);
    });
    try {
      return await raceSignal(Promise.race([pending, giveUp]), signal);
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw error;
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  private assumeHop(
    roles: readonly RoleHop[],
    hop: number,
    region: string,
    baseKeyId: string,
    credentials: AwsCredentials,
    signal: AbortSignal,
  ): Promise<AssumedSession> {
    const prefix = roles.slice(0, hop + 1);
    const key = `${baseKeyId}\0${chainKey(prefix, region)}`;

    const cached = this.sessions.get(key);
    if (cached && this.now() < cached.refreshAt) return Promise.resolve(cached.session);

    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetch(key, roles[hop]!, hop, prefix, region, credentials);
      this.inflight.set(key, pending);
    }
    return raceSignal(pending, signal);
  }

  private async fetch(
    key: string,
    role: RoleHop,
    hop: number,
    prefix: readonly RoleHop[],
    region: string,
    credentials: AwsCredentials,
  ): Promise<AssumedSession> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), STS_CALL_TIMEOUT_MS);
    timer.unref?.();
    this.assumeRoleCalls++;
    try {
      const obtainedAt = this.now();
      const session = await this.assumeRole({
        region,
        credentials,
        roleArn: role.arn,
        sessionName: role.sessionName ?? defaultSessionName(prefix, region),
        ...(role.externalId === undefined ? {} : { externalId: role.externalId }),
        ...(role.sessionTags === undefined ? {} : { sessionTags: role.sessionTags }),
        ...(role.durationSeconds === undefined ? {} : { durationSeconds: role.durationSeconds }),
        signal: controller.signal,
      });
      this.forgetExpired();
      this.sessions.set(key, {
        session,
        refreshAt: refreshTime(
          obtainedAt,
          session.credentials.expiration.getTime(),
          this.refreshMarginMs,
        ),
      });
      return session;
    } catch (error) {
      throw error instanceof AssumeRoleError ? error : new AssumeRoleError(error, role.arn, hop);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(key);
    }
  }

  /** Drops sessions past their refresh time (base credentials rotate; their sessions stay). */
  private forgetExpired(): void {
    const now = this.now();
    for (const [key, cached] of this.sessions) {
      if (now >= cached.refreshAt) this.sessions.delete(key);
    }
  }
}

/**
 * When a session obtained at `obtainedAt` and expiring at `expiresAt` must be re-assumed: 15
 * minutes plus the margin before expiry; a session too short for that (durationSeconds 900)
 * after the margin or half its life, whichever comes first.
 */
export function refreshTime(obtainedAt: number, expiresAt: number, marginMs: number): number {
  const lifetime = expiresAt - obtainedAt;
  const window = TOKEN_LIFETIME_MS + marginMs;
  if (lifetime > window + marginMs) return expiresAt - window;
  return obtainedAt + Math.min(marginMs, lifetime / 2);
}

/** `rds-iam-canary-<hash of the chain>`: one name per chain, at most 64 characters. */
export function defaultSessionName(prefix: readonly RoleHop[], region: string): string {
  const hash = createHash('sha256').update(chainKey(prefix, region)).digest('hex').slice(0, 16);
  return `rds-iam-canary-${hash}`.slice(0, MAX_SESSION_NAME);
}

function chainKey(prefix: readonly RoleHop[], region: string): string {
  const hops = prefix.map((r) => [
    r.arn,
    r.externalId ?? '',
    r.sessionName ?? '',
    r.durationSeconds ?? 0,
    Object.entries(r.sessionTags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
  return JSON.stringify([region, hops]);
}

async function assumeRoleWithSts(request: AssumeRoleRequest): Promise<AssumedSession> {
  // The round retries within each check's budget; the SDK's own retries would spend it.
  const client = new STSClient({
    region: request.region,
    credentials: request.credentials,
    maxAttempts: 1,
  });
  try {
    const answer = await client.send(
      new AssumeRoleCommand({
        RoleArn: request.roleArn,
        RoleSessionName: request.sessionName,
        ExternalId: request.externalId,
        DurationSeconds: request.durationSeconds,
        Tags: request.sessionTags
          ? Object.entries(request.sessionTags).map(([Key, Value]) => ({ Key, Value }))
          : undefined,
      }),
      { abortSignal: request.signal },
    );
    const c = answer.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new CanaryError('IncompleteAssumeRoleResponse', 'STS answered without credentials');
    }
    return {
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      },
      arn: answer.AssumedRoleUser?.Arn ?? request.roleArn,
    };
  } finally {
    client.destroy();
  }
}

async function identifyWithSts(
  region: string,
  credentials: AwsCredentials,
  signal: AbortSignal,
): Promise<string> {
  const client = new STSClient({ region, credentials, maxAttempts: 1 });
  try {
    const answer = await client.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
    if (!answer.Arn) throw new Error('GetCallerIdentity answered without an ARN');
    return answer.Arn;
  } finally {
    client.destroy();
  }
}

/** Settles with `work`, or rejects with the signal's reason when it aborts first. */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function awsErrorFields(error: unknown): {
  name: string;
  message: string;
  status: number | undefined;
} {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const status = e.$metadata?.httpStatusCode;
  const name =
    typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)
      ? e.code
      : typeof e.name === 'string' && e.name !== 'Error'
        ? e.name
        : typeof e.Code === 'string'
          ? e.Code
          : typeof e.code === 'string'
            ? e.code
            : 'UnknownError';
  return {
    name,
    message: typeof e.message === 'string' ? e.message : String(error),
    status: typeof status === 'number' ? status : undefined,
  };
}
