/**
 * The shapes every part of the canary agrees on: a resolved target (config after defaults
 * are merged), one check's result and a round's report. The report is what `check --json`
 * prints and what the Lambda returns.
 */

export const OUTCOMES = [
  'CONNECTED',
  'AUTH_REJECTED',
  'ASSUME_ROLE_DENIED',
  'CREDENTIALS_ERROR',
  'TOKEN_ERROR',
  'DNS_ERROR',
  'CONNECT_TIMEOUT',
  'CONNECTION_REFUSED',
  'TLS_ERROR',
  'THROTTLED',
  'DATABASE_ERROR',
  'QUERY_ERROR',
  'TIMEOUT',
  'CANARY_ERROR',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

export type Engine = 'postgres' | 'mysql';

export interface RoleHop {
  arn: string;
  externalId?: string;
  sessionName?: string;
  sessionTags?: Record<string, string>;
  durationSeconds?: number;
}

export interface TlsSettings {
  /** 'rds' for the Amazon RDS CA bundle, else an absolute path to a PEM file. */
  ca: string;
  /** Host name to verify the certificate against; defaults to the target's host. */
  serverName?: string;
}

/** A target with every default applied: what a check runs from. */
export interface ResolvedTarget {
  name: string;
  engine: Engine;
  host: string;
  port: number;
  database?: string;
  user: string;
  region: string;
  signingHost: string;
  signingPort: number;
  roles: RoleHop[];
  expect: 'connect' | 'reject';
  query: string;
  timeoutMs: number;
  tls: TlsSettings;
  tags: Record<string, string>;
  /** Resource id for the rds-db:connect ARN (db-... / cluster-... / prx-...), if known. */
  resourceId?: string;
  /** Account of the database, if known (for the rds-db:connect ARN). */
  accountId?: string;
}

export interface PhaseTimings {
  assumeRoleMs: number;
  tokenMs: number;
  connectMs: number;
  queryMs: number;
  totalMs: number;
}

export interface Finding {
  cause: string;
  confidence: 'certain' | 'likely' | 'possible';
  evidence: string;
  fix: string;
}

export interface CheckResult {
  target: string;
  engine: Engine;
  /** host:port connected to. */
  endpoint: string;
  region: string;
  /** ARN of the principal that signed the token (null when no credentials were had). */
  principal: string | null;
  expect: 'connect' | 'reject';
  outcome: Outcome;
  passed: boolean;
  attempts: number;
  timings: PhaseTimings;
  /** Age of the token when the connection used it, in seconds (case F3). */
  tokenAgeSeconds: number | null;
  error: { code: string; message: string } | null;
  diagnosis: Finding[];
  tags: Record<string, string>;
}

export interface RoundReport {
  startedAt: string;
  durationMs: number;
  summary: { total: number; passed: number; failed: number };
  results: CheckResult[];
}
