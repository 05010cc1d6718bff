/**
 * What the canary can tell without asking anyone: the token it used, compared with the
 * target, with the endpoint (its name, or what RDS Describe* said) and with the credentials'
 * expiry. RDS verifies the signature over `host:port`, the credential scope's region, DBUser
 * exactly, the token's 15-minute life and the signing credentials' own expiry.
 */
import type { ResolvedTarget } from '#shared/report/types.ts';
import type { DecodedToken } from './decode-token.ts';
import { describeNonRdsHost, parseRdsEndpoint } from './rds-endpoint.ts';
import type { Diagnosis } from './types.ts';

/** The endpoint as RDS describes it (aws-evidence), when the canary may ask. */
export interface DescribedEndpoint {
  /** Every address that reaches this database (instance, cluster, reader, proxy endpoints). */
  addresses: string[];
  port: number;
  region: string;
}

export interface TokenComparison {
  /** What the token was signed for. */
  token: Pick<
    DecodedToken,
    'host' | 'port' | 'region' | 'service' | 'dbUser' | 'signedAt' | 'expiresSeconds'
  >;
  target: Pick<ResolvedTarget, 'host' | 'port' | 'user' | 'region' | 'signingHost'>;
  /** Left out: the endpoint is judged from its host name only. */
  endpoint?: DescribedEndpoint;
  /** Token age when the connection used it, seconds (the check's tokenAgeSeconds). */
  tokenAgeSeconds?: number | null;
  /** Expiry of the signing credentials. Left out: long-term keys, nothing to compare. */
  credentialsExpiration?: Date;
}

/**
 * Returns the findings the token itself supports, most certain first (empty when the token
 * matches everything it can be compared with).
 *
 * @example compareToken({ token, target }) // [{ cause: 'REGION_MISMATCH', ... }]
 */
export function compareToken(input: TokenComparison): Diagnosis[] {
  return [
    ...compareRegion(input),
    ...compareHost(input),
    ...comparePort(input),
    ...compareUser(input),
    ...compareTimes(input),
  ];
}

function compareRegion({ token, target, endpoint }: TokenComparison): Diagnosis[] {
  const named = parseRdsEndpoint(token.host) ?? parseRdsEndpoint(target.host);
  const region = endpoint?.region ?? named?.region;
  if (!region || region === token.region) return [];

  const source = endpoint ? 'RDS describes the database' : 'the endpoint name says';
  return [
    {
      cause: 'REGION_MISMATCH',
      confidence: 'certain',
      evidence: `token signed for region ${token.region}; ${source} region ${region}`,
      fix: `sign in ${region}: set region: ${region} on the target (or remove the region override)`,
    },
  ];
}

function compareHost({ token, target, endpoint }: TokenComparison): Diagnosis[] {
  const signed = token.host.toLowerCase();

  if (endpoint) {
    if (endpoint.addresses.some((a) => a.toLowerCase() === signed)) return [];
    return [
      {
        cause: 'SIGNING_HOST_MISMATCH',
        confidence: 'certain',
        evidence:
          `token signed for host ${token.host}; the database's endpoints are ` +
          endpoint.addresses.join(', '),
        fix: `sign for the endpoint: set signingHost: ${endpoint.addresses[0]}`,
      },
    ];
  }

  if (!parseRdsEndpoint(signed)) {
    return [
      {
        cause: 'SIGNING_HOST_MISMATCH',
        confidence: 'likely',
        evidence:
          `token signed for ${token.host}, ${describeNonRdsHost(token.host)}; RDS accepts only ` +
          'tokens signed for its own endpoint name',
        fix: 'set signingHost (and signingPort) to the RDS endpoint this host leads to',
      },
    ];
  }

  const connected = parseRdsEndpoint(target.host);
  if (connected && target.host.toLowerCase() !== signed) {
    return [
      {
        cause: 'SIGNING_HOST_MISMATCH',
        confidence: 'likely',
        evidence: `token signed for ${token.host} while connecting to ${target.host}`,
        fix: `sign for the endpoint connected to: set signingHost: ${target.host} (or remove it)`,
      },
    ];
  }
  return [];
}

function comparePort({ token, target, endpoint }: TokenComparison): Diagnosis[] {
  if (endpoint) {
    if (token.port === endpoint.port) return [];
    return [
      {
        cause: 'PORT_MISMATCH',
        confidence: 'certain',
        evidence: `token signed for port ${token.port ?? '(none)'}; RDS describes port ${endpoint.port}`,
        fix: `sign for port ${endpoint.port}: set signingPort: ${endpoint.port}`,
      },
    ];
  }
  if (token.port === undefined) {
    return [
      {
        cause: 'PORT_MISMATCH',
        confidence: 'certain',
        evidence: `token signed for ${token.host} without a port; RDS signs host:port`,
        fix: 'sign for host:port (the endpoint port)',
      },
    ];
  }
  // Connecting to the endpoint itself on another port than the token names.
  if (token.host.toLowerCase() === target.host.toLowerCase() && token.port !== target.port) {
    return [
      {
        cause: 'PORT_MISMATCH',
        confidence: 'likely',
        evidence: `token signed for port ${token.port} while connecting to port ${target.port}`,
        fix: `set signingPort: ${target.port} (or remove it)`,
      },
    ];
  }
  return [];
}

function compareUser({ token, target }: TokenComparison): Diagnosis[] {
  if (token.dbUser === target.user) return [];

  const onlyCase = token.dbUser.toLowerCase() === target.user.toLowerCase();
  return [
    {
      cause: 'USER_MISMATCH',
      confidence: 'certain',
      evidence: onlyCase
        ? `token DBUser "${token.dbUser}" differs only in case from the login user "${target.user}" (DBUser is case-sensitive)`
        : `token DBUser "${token.dbUser}", login user "${target.user}"`,
      fix: `sign for the user that logs in: DBUser must be exactly "${target.user}"`,
    },
  ];
}

function compareTimes({
  token,
  tokenAgeSeconds,
  credentialsExpiration,
}: TokenComparison): Diagnosis[] {
  const findings: Diagnosis[] = [];
  const age = tokenAgeSeconds ?? undefined;

  if (age !== undefined && age > token.expiresSeconds) {
    findings.push({
      cause: 'TOKEN_EXPIRED',
      confidence: 'certain',
      evidence: `token was ${age} s old at connect; it is valid for ${token.expiresSeconds} s`,
      fix: 'sign a fresh token for every connection attempt (never reuse one in a pool or retry)',
    });
  }

  if (credentialsExpiration) {
    const usedAt = token.signedAt.getTime() + (age ?? 0) * 1000;
    if (credentialsExpiration.getTime() <= usedAt) {
      findings.push({
        cause: 'CREDENTIALS_EXPIRED',
        confidence: 'certain',
        evidence:
          `the signing credentials expired at ${credentialsExpiration.toISOString()}, before ` +
          `the token was used at ${new Date(usedAt).toISOString()}`,
        fix:
          'refresh the role session before signing: a token stops working when the ' +
          'credentials that signed it expire',
      });
    }
  }
  return findings;
}
