/**
 * What diagnosis is given about a failed check, and what its evidence sources hand back.
 * Nothing here holds a secret: the token is passed decoded (never its signature or security
 * token), credentials only as a provider the AWS clients call.
 */
import type { CredentialsProvider } from '#shared/credentials/assume-role-chain.ts';
import type { CheckResult, Finding, ResolvedTarget } from '#shared/report/types.ts';
import type { DecodedToken } from './decode-token.ts';

export type { Finding };

/** Stable cause names (issue 5). A finding's `cause` is always one of these. */
export const CAUSES = [
  'REGION_MISMATCH',
  'SIGNING_HOST_MISMATCH',
  'PORT_MISMATCH',
  'TOKEN_EXPIRED',
  'CREDENTIALS_EXPIRED',
  'USER_MISMATCH',
  'USER_NOT_IAM_ENABLED',
  'IAM_AUTH_DISABLED',
  'POLICY_DENIES_CONNECT',
  'RESOURCE_ARN_MISMATCH',
  'EXPLICIT_DENY',
  'ORG_POLICY_DENY',
  'BOUNDARY_DENY',
  'TRUST_POLICY_DENIES',
  'TAG_SESSION_DENIED',
  'NETWORK_BLOCKED',
  'TLS_REQUIRED',
  'TLS_UNTRUSTED',
  'THROTTLING',
  'CLEARTEXT_PLUGIN_DISABLED',
  'UNKNOWN',
] as const;

export type Cause = (typeof CAUSES)[number];

/** A finding whose cause is typed; assignable to the report's Finding. */
export interface Diagnosis extends Finding {
  cause: Cause;
}

/** What the check knew about the token of its deciding attempt. Never the token itself. */
export interface TokenFacts {
  /** Epoch ms when it was signed. */
  signedAt: number;
  accessKeyId: string;
  hadSessionToken: boolean;
  /** Expiry of the credentials that signed it (undefined for long-term keys). */
  credentialsExpiration: Date | undefined;
  /**
   * The token parsed by `decodeToken` right after signing. Left out: the signed host, port,
   * region and user are taken from the target (they are what the signer was given).
   */
  decoded?: DecodedToken;
}

/**
 * The context run-check passes to its `diagnose` hook for a failed check (structurally the
 * same as `FailedCheckContext` in shared/check/run-check.ts), plus what the caller of the
 * round adds through `createDiagnoser`.
 */
export interface DiagnosisInput {
  target: ResolvedTarget;
  /** The failed result, as it will be reported (outcome, error code, principal, token age). */
  result: CheckResult;
  /** The deciding attempt's error as raised (a DbError, AssumeRoleError, ...), or null. */
  error: unknown;
  token: TokenFacts | null;
  /** Aborts the diagnosis (run-check bounds it to the rest of the budget, at most 2 s). */
  signal: AbortSignal;
  /**
   * Credentials for the optional AWS look-ups (rds Describe*, iam SimulatePrincipalPolicy,
   * logs FilterLogEvents). Left out: the SDK's default chain. `false`: no AWS look-ups.
   */
  awsCredentials?: CredentialsProvider | false;
  /** When the deciding attempt started, epoch ms (bounds the auth-error log search). */
  attemptStartedAt?: number;
  /** Clock, epoch ms. Left out: Date.now. */
  now?: () => number;
}
