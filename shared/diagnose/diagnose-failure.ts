/**
 * Diagnosis of a failed check: every source of evidence asked in parallel (the token, the
 * check's own error, probes of the server, and what AWS may tell), weighed into one list of
 * findings, most certain first, one per cause. A passing check is never diagnosed.
 */
import { setMaxListeners } from 'node:events';
import type { FailedCheckContext } from '#shared/check/run-check.ts';
import type { CredentialsProvider } from '#shared/credentials/assume-role-chain.ts';
import type { Finding, Outcome } from '#shared/report/types.ts';
import { type AwsEvidence, gatherAwsEvidence } from './aws-evidence.ts';
import { classifyEvidence, roundMs, type TlsPeer } from './classify-evidence.ts';
import { compareToken, type TokenComparison } from './compare-token.ts';
import { probeMysqlClearPassword } from './probe-mysql-auth.ts';
import { type Greeting, probeServerGreeting } from './probe-server-greeting.ts';
import { probeTlsPeer } from './probe-tls-peer.ts';
import type { Diagnosis, DiagnosisInput } from './types.ts';
import { weighAwsEvidence } from './weigh-aws-evidence.ts';

/** The most a diagnosis may add to a failed check (issue 5: at most 2 s). */
export const DIAGNOSIS_LIMIT_MS = 2000;

/**
 * Slow sources (AWS, probes) are given up on after this, so that what the others found is
 * returned before the caller's own 2 s cut (run-check drops a diagnosis that misses it).
 */
const SOURCES_LIMIT_MS = 1500;

/** Tokens live this long unless the token says otherwise (the signer's fixed X-Amz-Expires). */
const TOKEN_EXPIRES_S = 900;

/**
 * The auth-error log is searched from this long before the check started (clock skew
 * between the database host and the canary); a wider window catches other clients' lines.
 */
const LOG_LOOKBACK_MS = 100;

const CONFIDENCE_RANK = { certain: 0, likely: 1, possible: 2 } as const;

/** TLS codes after which the server's certificate is worth reading. */
const CERTIFICATE_CODES = /CERT|SIGNATURE|ISSUER|SELF_SIGNED|ALTNAME|HOSTNAME/;

/**
 * Returns the findings for a failed check, most certain first; [] for a passed one. Never
 * throws. Slow sources (AWS, probes) are dropped at `input.signal` or after 1.5 s, whichever
 * comes first, and what the others support is returned (well inside DIAGNOSIS_LIMIT_MS).
 *
 * @example const diagnosis = await diagnoseFailure({ target, result, error, token, signal });
 */
export async function diagnoseFailure(input: DiagnosisInput): Promise<Finding[]> {
  if (input.result.passed) return [];
  const now = input.now ?? Date.now;

  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const stop = () => controller.abort();
  const timer = setTimeout(stop, SOURCES_LIMIT_MS);
  timer.unref?.();
  if (input.signal.aborted) stop();
  input.signal.addEventListener('abort', stop, { once: true });
  // Each source settles by the signal; whatever has answered by then is used.
  const bounded = <T>(work: Promise<T>): Promise<T | undefined> =>
    Promise.race([
      work.catch(() => undefined),
      new Promise<undefined>((resolve) => {
        if (controller.signal.aborted) resolve(undefined);
        controller.signal.addEventListener('abort', () => resolve(undefined), { once: true });
      }),
    ]);

  try {
    const [tlsPeer, mysqlAsked, aws, greeting] = await Promise.all([
      bounded(readPeerIfUseful(input, controller.signal)),
      bounded(probeMysqlIfUseful(input, controller.signal)),
      bounded(askAwsIfUseful(input, controller.signal, now)),
      bounded(probeGreetingIfUseful(input, controller.signal)),
    ]);
    const lateAws: AwsEvidence | undefined =
      aws === undefined && wantsAws(input)
        ? { notes: [`AWS look-ups did not answer within ${SOURCES_LIMIT_MS} ms`] }
        : undefined;
    return weigh(input, { tlsPeer, mysqlAsked, greeting, aws: aws ?? lateAws });
  } catch {
    return [unknown(input)];
  } finally {
    clearTimeout(timer);
    input.signal.removeEventListener('abort', stop);
  }
}

export interface DiagnoserOptions {
  /**
   * Credentials for the optional AWS look-ups. Left out: the SDK's default chain (the
   * canary's own identity). `false`: no AWS look-ups.
   */
  awsCredentials?: CredentialsProvider | false;
}

/**
 * The `diagnose` hook for runRound / runCheck options.
 *
 * @example await runRound(targets, { diagnose: createDiagnoser() });
 */
export function createDiagnoser(
  options: DiagnoserOptions = {},
): (context: FailedCheckContext) => Promise<Finding[]> {
  return (context) =>
    diagnoseFailure({
      ...context,
      ...(options.awsCredentials === undefined ? {} : { awsCredentials: options.awsCredentials }),
    });
}

interface Gathered {
  tlsPeer: TlsPeer | undefined;
  mysqlAsked: boolean | undefined;
  greeting: Greeting | undefined;
  aws: AwsEvidence | undefined;
}

function weigh(input: DiagnosisInput, gathered: Gathered): Diagnosis[] {
  const { target, result } = input;
  const findings: Diagnosis[] = [];

  findings.push(
    ...classifyEvidence({
      target,
      result,
      error: input.error,
      ...(gathered.tlsPeer ? { tlsPeer: gathered.tlsPeer } : {}),
      ...(gathered.mysqlAsked === undefined
        ? {}
        : { mysqlAskedClearPassword: gathered.mysqlAsked }),
      ...(gathered.greeting === undefined ? {} : { greeting: gathered.greeting }),
    }),
  );

  const aws = gathered.aws;
  const weighed = aws
    ? weighAwsEvidence({
        evidence: aws,
        principal: result.principal,
        ...(target.accountId ? { accountId: target.accountId } : {}),
      })
    : undefined;

  const comparison = tokenComparison(input, aws);
  if (comparison && (result.outcome === 'AUTH_REJECTED' || result.outcome === 'CANARY_ERROR')) {
    for (const finding of compareToken(comparison)) {
      // The server's "signature mismatch" confirms what the comparison only suspected.
      if (weighed?.signatureMismatch && finding.confidence === 'likely') {
        findings.push({
          ...finding,
          confidence: 'certain',
          evidence: `${finding.evidence}; the server's auth-error log: signature mismatch`,
        });
      } else {
        findings.push(finding);
      }
    }
  }

  const described = aws?.database;
  if (result.outcome === 'CONNECTION_REFUSED' && described && described.port !== target.port) {
    findings.unshift({
      cause: 'PORT_MISMATCH',
      confidence: 'certain',
      evidence: `RDS describes ${described.identifier} on port ${described.port}; the canary connects to port ${target.port}, where the connection is refused`,
      fix: `set port: ${described.port} on the target (and signingPort, if set)`,
    });
  }

  // After the token comparison: its fixes name the exact setting, the log's are general.
  if (weighed) findings.push(...weighed.findings);

  if (findings.length === 0 && result.outcome === 'AUTH_REJECTED' && target.expect === 'connect') {
    findings.push({
      cause: 'POLICY_DENIES_CONNECT',
      confidence: 'possible',
      evidence: `the database refused the token (${result.error?.code ?? 'no code'}); it was signed by ${result.principal ?? 'an unknown principal'}`,
      fix: `check that ${result.principal ?? 'the signing principal'} is allowed rds-db:connect on this database user's ARN (resource id, not name)`,
    });
  }

  const sim = aws?.simulation;
  if (result.outcome === 'CONNECTED' && target.expect === 'reject') {
    // A guard that got in: no constraint broke, one is missing. Every name in issue 5 is a
    // constraint that refused a login; POLICY_DENIES_CONNECT turned around would make one
    // stable name mean two opposite things to whatever routes alerts on it. So UNKNOWN, with
    // the Allow that let the guard in named in the evidence.
    const allow = !sim
      ? ''
      : sim.matchedStatements.length > 0
        ? `; the Allow that let it in: ${sim.matchedStatements.join('; ')} (policy simulator: ${sim.decision} on ${sim.resourceArn})`
        : `; the policy simulator: ${sim.decision} on ${sim.resourceArn}, naming no statement`;
    findings.push({
      cause: 'UNKNOWN',
      confidence: 'likely',
      evidence:
        `the reject guard logged in as ${target.user}, signed by ${result.principal ?? 'an unknown principal'}` +
        allow,
      fix: sim
        ? `deny rds-db:connect on ${sim.resourceArn} to ${sim.policySourceArn} (or remove the Allow that matched)`
        : `deny rds-db:connect on this database user's ARN to ${result.principal ?? 'the signing principal'}`,
    });
  }

  const ranked = mergeByCause(findings.length > 0 ? findings : [unknown(input)]);
  return withNotes(ranked, aws?.notes ?? []);
}

function tokenComparison(
  input: DiagnosisInput,
  aws: AwsEvidence | undefined,
): TokenComparison | undefined {
  const { target, token, result } = input;
  if (!token) return undefined;
  const decoded = token.decoded ?? {
    // Without the decoded token, what the signer was given (run-check signs exactly this).
    host: target.signingHost,
    port: target.signingPort,
    region: target.region,
    service: 'rds-db',
    dbUser: target.user,
    signedAt: new Date(token.signedAt),
    expiresSeconds: TOKEN_EXPIRES_S,
  };
  const db = aws?.database;
  return {
    token: decoded,
    target,
    ...(db ? { endpoint: { addresses: db.addresses, port: db.port, region: db.region } } : {}),
    tokenAgeSeconds: result.tokenAgeSeconds,
    ...(token.credentialsExpiration ? { credentialsExpiration: token.credentialsExpiration } : {}),
  };
}

async function readPeerIfUseful(
  input: DiagnosisInput,
  signal: AbortSignal,
): Promise<TlsPeer | undefined> {
  const code = input.result.error?.code ?? '';
  if (input.result.outcome !== 'TLS_ERROR' || !CERTIFICATE_CODES.test(code)) return undefined;
  const { target } = input;
  return probeTlsPeer(
    {
      engine: target.engine,
      host: target.host,
      port: target.port,
      serverName: target.tls.serverName ?? target.host,
    },
    signal,
  );
}

async function probeMysqlIfUseful(
  input: DiagnosisInput,
  signal: AbortSignal,
): Promise<boolean | undefined> {
  const { target, result } = input;
  if (target.engine !== 'mysql' || result.outcome !== 'AUTH_REJECTED') return undefined;
  return probeMysqlClearPassword(
    {
      host: target.host,
      port: target.port,
      user: target.user,
      ...(target.database === undefined ? {} : { database: target.database }),
      ca: target.tls.ca,
      serverName: target.tls.serverName ?? target.host,
    },
    signal,
  );
}

/** Codes with which a handshake failed before TLS: the port may speak another protocol. */
const NO_HANDSHAKE_CODES = new Set(['TLS_HANDSHAKE_FAILED', 'HANDSHAKE_NO_SSL_SUPPORT']);

async function probeGreetingIfUseful(
  input: DiagnosisInput,
  signal: AbortSignal,
): Promise<Greeting | undefined> {
  const { target, result, error } = input;
  const progress = (error as { progress?: unknown } | null)?.progress;
  const stalledAfterTcp =
    (result.outcome === 'CONNECT_TIMEOUT' || result.outcome === 'DATABASE_ERROR') &&
    progress === 'tcp';
  const noHandshake =
    result.outcome === 'TLS_ERROR' && NO_HANDSHAKE_CODES.has(result.error?.code ?? '');
  if (!stalledAfterTcp && !noHandshake) return undefined;
  return probeServerGreeting({ host: target.host, port: target.port }, signal);
}

async function askAwsIfUseful(
  input: DiagnosisInput,
  signal: AbortSignal,
  now: () => number,
): Promise<AwsEvidence | undefined> {
  const { result } = input;
  // Only a login the database refused (or a guard it let in) is explained by IAM's side.
  // and a refused TCP connection may be a port RDS describes differently.
  const refused = result.outcome === 'AUTH_REJECTED' || result.outcome === 'CONNECTION_REFUSED';
  const guardGotIn = result.outcome === 'CONNECTED' && result.expect === 'reject';
  if ((!refused && !guardGotIn) || input.awsCredentials === false) return undefined;

  const until = now();
  const since = (input.attemptStartedAt ?? until - result.timings.totalMs) - LOG_LOOKBACK_MS;
  return gatherAwsEvidence({
    target: input.target,
    principal: result.principal,
    ...(input.awsCredentials ? { credentials: input.awsCredentials } : {}),
    signal,
    since,
    until: until + 1000,
  });
}

/**
 * Only a login the database refused (or a guard it let in) is explained by IAM's side, and a
 * refused TCP connection may be a port RDS describes differently.
 */
function wantsAws(input: DiagnosisInput): boolean {
  const { result } = input;
  const refused = result.outcome === 'AUTH_REJECTED' || result.outcome === 'CONNECTION_REFUSED';
  const guardGotIn = result.outcome === 'CONNECTED' && result.expect === 'reject';
  return (refused || guardGotIn) && input.awsCredentials !== false;
}

/** One finding per cause: the most confident kept, evidence of the others joined to it. */
function mergeByCause(findings: Diagnosis[]): Diagnosis[] {
  const byCause = new Map<string, Diagnosis>();
  for (const finding of findings) {
    const seen = byCause.get(finding.cause);
    if (!seen) {
      byCause.set(finding.cause, { ...finding });
      continue;
    }
    const [first, second] =
      CONFIDENCE_RANK[finding.confidence] < CONFIDENCE_RANK[seen.confidence]
        ? [finding, seen]
        : [seen, finding];
    byCause.set(finding.cause, {
      ...first,
      evidence:
        first.evidence === second.evidence
          ? first.evidence
          : `${first.evidence}; ${second.evidence}`,
    });
  }
  // Stable: among equals, the order the sources were weighed in (the more specific first).
  return [...byCause.values()].sort(
    (a, b) => CONFIDENCE_RANK[a.confidence] - CONFIDENCE_RANK[b.confidence],
  );
}

/** Look-ups that were skipped say so on the top finding: which permission would sharpen it. */
function withNotes(findings: Diagnosis[], notes: string[]): Diagnosis[] {
  if (notes.length === 0 || findings.length === 0) return findings;
  const [top, ...rest] = findings;
  return [{ ...top!, evidence: `${top!.evidence} (${notes.join('; ')})` }, ...rest];
}

/** What to do when no source named a cause, by outcome (never "run diagnose": this is it). */
const UNKNOWN_FIXES: Partial<Record<Outcome, string>> = {
  AUTH_REJECTED:
    'compare the token with the target (host, port, region, user) and check that the signing ' +
    'principal may rds-db:connect; rds:Describe*, iam:SimulatePrincipalPolicy and ' +
    'logs:FilterLogEvents let diagnosis check these itself',
  TOKEN_ERROR: 'check the region and the credentials given to the RDS signer',
  TLS_ERROR: 'check tls.ca and tls.serverName against the certificate the server presents',
  TIMEOUT: "raise timeoutMs, or find the step that is slow in the result's timings",
  CANARY_ERROR: 'a defect of the canary: report it with this error code',
};

function unknown(input: DiagnosisInput): Diagnosis {
  const { result } = input;
  const error = result.error;
  return {
    cause: 'UNKNOWN',
    confidence: 'possible',
    evidence: `outcome ${result.outcome}${error ? `, ${error.code}: ${roundMs(error.message)}` : ''}; no source of evidence named a cause`,
    fix:
      UNKNOWN_FIXES[result.outcome] ??
      "read the error code above and the database server's log at the time of the check",
  };
}
