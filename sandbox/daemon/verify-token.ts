import type { FixtureInstance } from '#sandbox/fixture-schema.ts';
import { authorizePrincipal } from './authorize.ts';
import type { CredentialAuthority, ResolvedCredentials } from './credentials.ts';
import { parseRdsToken, type RdsToken } from './rds-token.ts';
import {
  buildCanonicalRequest,
  computeSignature,
  EMPTY_BODY_SHA256,
  signaturesEqual,
  UNSIGNED_PAYLOAD,
} from './sigv4.ts';
import type { ConnectionThrottle } from './throttle.ts';
import type { World } from './world.ts';

/**
 * The token verifier: decides an IAM database login as RDS does, one check after the
 * other, the first failure giving the reason (sandbox/DESIGN.md lists the codes).
 */

export type DenyReason =
  | 'UNKNOWN_INSTANCE'
  | 'NO_TLS'
  | 'MALFORMED_TOKEN'
  | 'UNKNOWN_ACCESS_KEY'
  | 'BAD_SIGNATURE'
  | 'EXPIRES_TOO_LONG'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'CREDENTIALS_EXPIRED'
  | 'WRONG_REGION'
  | 'WRONG_SERVICE'
  | 'WRONG_HOST'
  | 'WRONG_PORT'
  | 'WRONG_USER'
  | 'IAM_AUTH_DISABLED'
  | 'ORG_DENY'
  | 'EXPLICIT_DENY'
  | 'NOT_AUTHORIZED'
  | 'BOUNDARY_DENY'
  | 'THROTTLED';

export interface LoginRequest {
  instance: string;
  /** The login user (PAM_USER). */
  user: string;
  rhost: string;
  /** `required` when the server only lets this login through over TLS. */
  tls: string;
  token: string;
}

/** One line of STATE/log/decisions.jsonl. Never the token, signature or any secret. */
export interface Decision {
  time: string;
  instance: string;
  user: string;
  rhost: string;
  decision: 'ALLOW' | 'DENY';
  reason: DenyReason | null;
  detail: string;
  principal?: string;
  accessKeyId?: string;
  resource?: string;
  signedHost?: string;
  region?: string;
  signedAt?: string;
  tokenAgeSeconds?: number;
  tokenLength: number;
}

// RDS tokens are presigned URLs valid for at most 15 minutes.
const MAX_EXPIRES_SECONDS = 900;
// SigV4 tolerates this much clock skew for a date in the future.
const MAX_FUTURE_SKEW_SECONDS = 300;

const CONNECT_ACTION = 'rds-db:connect';

export interface TokenVerifierOptions {
  world: World;
  credentials: CredentialAuthority;
  throttle: ConnectionThrottle;
  /** Epoch ms; Date.now when left out. */
  now?: () => number;
}

export class TokenVerifier {
  readonly #world: World;
  readonly #credentials: CredentialAuthority;
  readonly #throttle: ConnectionThrottle;
  readonly #now: () => number;

  constructor(options: TokenVerifierOptions) {
    this.#world = options.world;
    this.#credentials = options.credentials;
    this.#throttle = options.throttle;
    this.#now = options.now ?? Date.now;
  }

  verify(request: LoginRequest): Decision {
    const nowMs = this.#now();
    const base: Decision = {
      time: new Date(nowMs).toISOString(),
      instance: request.instance,
      user: request.user,
      rhost: request.rhost,
      decision: 'DENY',
      reason: null,
      detail: '',
      tokenLength: request.token.length,
    };
    const deny = (reason: DenyReason, detail: string): Decision =>
      Object.assign(base, { reason, detail });

    const instance = this.#world.instance(request.instance);
    if (!instance) return deny('UNKNOWN_INSTANCE', `no instance "${request.instance}"`);
    if (request.tls !== 'required') {
      return deny('NO_TLS', 'IAM logins are accepted only over TLS; this connection has none');
    }

    const parsed = parseRdsToken(request.token);
    if (!parsed.ok) return deny('MALFORMED_TOKEN', parsed.detail);
    const token = parsed.token;
    Object.assign(base, {
      accessKeyId: token.scope.accessKeyId,
      signedHost: token.signedHost,
      region: token.scope.region,
      signedAt: token.signedAt.toISOString(),
      tokenAgeSeconds: Math.round((nowMs - token.signedAt.getTime()) / 1000),
    });

    const creds = this.#credentials.resolve(token.scope.accessKeyId, token.sessionToken);
    if (!creds) {
      const why = token.sessionToken ? 'with this session token' : 'without a session token';
      return deny(
        'UNKNOWN_ACCESS_KEY',
        `access key ${token.scope.accessKeyId} is not known ${why}`,
      );
    }
    base.principal = creds.principal.arn;

    if (!signatureMatches(token, creds)) {
      return deny('BAD_SIGNATURE', 'signature does not match the one computed from the secret');
    }

    const checked = this.#checkTimes(token, creds, nowMs);
    if (checked) return deny(checked.reason, checked.detail);

    const endpoint = checkEndpoint(token, instance, request.user);
    if (endpoint) return deny(endpoint.reason, endpoint.detail);

    if (!instance.iamAuth) {
      return deny('IAM_AUTH_DISABLED', `IAM database authentication is off on ${instance.name}`);
    }

    const resource = connectResourceArn(instance, request.user);
    base.resource = resource;
    const authz = this.#authorize(creds, instance, resource);
    if (authz) return deny(authz.reason, authz.detail);

    const limit = instance.maxIamConnectionsPerSecond;
    if (limit !== undefined && !this.#throttle.tryAcquire(instance.name, limit, nowMs)) {
      return deny('THROTTLED', `more than ${limit} new IAM connections in one second`);
    }

    return Object.assign(base, {
      decision: 'ALLOW' as const,
      detail: `${CONNECT_ACTION} allowed on ${resource}`,
    });
  }

  #checkTimes(token: RdsToken, creds: ResolvedCredentials, nowMs: number) {
    if (token.expiresSeconds > MAX_EXPIRES_SECONDS) {
      return {
        reason: 'EXPIRES_TOO_LONG' as const,
        detail: `X-Amz-Expires ${token.expiresSeconds} s, at most ${MAX_EXPIRES_SECONDS} s`,
      };
    }

    const signedMs = token.signedAt.getTime();
    const expiresMs = signedMs + token.expiresSeconds * 1000;
    if (nowMs > expiresMs) {
      return {
        reason: 'TOKEN_EXPIRED' as const,
        detail:
          `token signed ${Math.round((nowMs - signedMs) / 1000)} s ago, ` +
          `valid for ${token.expiresSeconds} s`,
      };
    }
    if (signedMs > nowMs + MAX_FUTURE_SKEW_SECONDS * 1000) {
      return {
        reason: 'TOKEN_NOT_YET_VALID' as const,
        detail: `token signed ${Math.round((signedMs - nowMs) / 1000)} s in the future`,
      };
    }

    if (creds.expiration && creds.expiration.getTime() <= nowMs) {
      return {
        reason: 'CREDENTIALS_EXPIRED' as const,
        detail: `signing credentials expired at ${creds.expiration.toISOString()}`,
      };
    }
    return undefined;
  }

  #authorize(creds: ResolvedCredentials, instance: FixtureInstance, resource: string) {
    const principal = creds.principal;
    const who = `${principal.arn} for ${CONNECT_ACTION} on ${resource}`;
    const authz = authorizePrincipal(this.#world, principal, CONNECT_ACTION, resource);

    switch (authz.outcome) {
      case 'orgDeny':
        return { reason: 'ORG_DENY' as const, detail: `organization deny list refuses ${who}` };
      case 'explicitDeny':
        return { reason: 'EXPLICIT_DENY' as const, detail: `an identity policy denies ${who}` };
      case 'implicitDeny':
        return { reason: 'NOT_AUTHORIZED' as const, detail: `no policy allows ${who}` };
      case 'boundaryDeny':
        return { reason: 'BOUNDARY_DENY' as const, detail: `the boundary does not allow ${who}` };
    }

    // rds-db:connect has no resource policy: only principals of the instance's account.
    if (principal.account !== instance.account) {
      return {
        reason: 'NOT_AUTHORIZED' as const,
        detail:
          `principal account ${principal.account} is not ` +
          `the instance account ${instance.account} (${who})`,
      };
    }
    return undefined;
  }
}

/** The resource `rds-db:connect` must be allowed on for `user` of `instance`. */
export function connectResourceArn(instance: FixtureInstance, user: string): string {
  const { region, account, resourceId } = instance;
  return `arn:aws:rds-db:${region}:${account}:dbuser:${resourceId}/${user}`;
}

function signatureMatches(token: RdsToken, creds: ResolvedCredentials): boolean {
  // The JavaScript SDK signs the empty body's hash, botocore signs UNSIGNED-PAYLOAD: RDS
  // accepts tokens from both.
  for (const payloadHash of [EMPTY_BODY_SHA256, UNSIGNED_PAYLOAD]) {
    const canonical = buildCanonicalRequest({
      method: 'GET',
      path: '/',
      query: token.signedQuery,
      headers: [['host', token.signedHost]],
      payloadHash,
    });
    const expected = computeSignature(creds.secretAccessKey, token.scope, token.amzDate, canonical);
    if (signaturesEqual(expected, token.signature)) return true;
  }
  return false;
}

function checkEndpoint(token: RdsToken, instance: FixtureInstance, loginUser: string) {
  if (token.scope.region !== instance.region) {
    return {
      reason: 'WRONG_REGION' as const,
      detail: `credential scope region ${token.scope.region}, instance region ${instance.region}`,
    };
  }
  if (token.scope.service !== 'rds-db') {
    return {
      reason: 'WRONG_SERVICE' as const,
      detail: `credential scope service ${token.scope.service}, expected rds-db`,
    };
  }
  if (token.host.toLowerCase() !== instance.host.toLowerCase()) {
    return {
      reason: 'WRONG_HOST' as const,
      detail: `token signed for host ${token.host}, instance host ${instance.host}`,
    };
  }
  if (token.port !== instance.port) {
    return {
      reason: 'WRONG_PORT' as const,
      detail: `token signed for port ${token.port ?? '(none)'}, instance port ${instance.port}`,
    };
  }
  if (token.dbUser !== loginUser) {
    return {
      reason: 'WRONG_USER' as const,
      detail: `token DBUser ${token.dbUser}, login user ${loginUser}`,
    };
  }
  return undefined;
}
