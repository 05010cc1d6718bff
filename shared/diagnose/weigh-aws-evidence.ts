/**
 * Turns what AWS said (aws-evidence.ts) into findings: the instance's IAM setting, the policy
 * simulator's decision on the exact `rds-db:connect` ARN, and the server's auth-error log.
 */
import type { AwsEvidence, PolicySimulation } from './aws-evidence.ts';
import type { Diagnosis } from './types.ts';

export interface WeighedAwsEvidence {
  findings: Diagnosis[];
  /** The server's log said "signature mismatch": host, port, user or key are wrong. */
  signatureMismatch: boolean;
}

export interface WeighInput {
  evidence: AwsEvidence;
  /** ARN of the principal that signed the token, when known. */
  principal: string | null;
  /** The account of the database, when known without asking (target.accountId). */
  accountId?: string;
}

/** Returns the findings AWS supports, and whether the server reported a signature mismatch. */
export function weighAwsEvidence(input: WeighInput): WeighedAwsEvidence {
  const { evidence } = input;
  const findings: Diagnosis[] = [];

  const db = evidence.database;
  if (db?.iamAuthEnabled === false) {
    const command =
      db.kind === 'cluster'
        ? 'modify-db-cluster --db-cluster-identifier'
        : 'modify-db-instance --db-instance-identifier';
    findings.push({
      cause: 'IAM_AUTH_DISABLED',
      confidence: 'certain',
      evidence: `RDS describes ${db.identifier} with IAMDatabaseAuthenticationEnabled false`,
      fix: `aws rds ${command} ${db.identifier} --enable-iam-database-authentication --apply-immediately`,
    });
  }

  const log = readAuthErrorLog(evidence.authErrors ?? []);
  findings.push(...log.findings);

  const policy = weighSimulation(input);
  findings.push(...policy);
  if (log.notAuthorized && policy.length === 0 && !evidence.simulation) {
    findings.push({
      cause: 'POLICY_DENIES_CONNECT',
      confidence: 'likely',
      evidence: `the server's auth-error log: "${log.notAuthorized}"; signed by ${input.principal ?? 'an unknown principal'}`,
      fix: `allow rds-db:connect on the database user's ARN for ${input.principal ?? 'the signing principal'}`,
    });
  }
  return { findings, signatureMismatch: log.signatureMismatch };
}

function weighSimulation(input: WeighInput): Diagnosis[] {
  const sim = input.evidence.simulation;
  const dbAccount = input.evidence.database?.accountId || input.accountId;
  const principalAccount = input.principal
    ? /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):/.exec(input.principal)?.[1]
    : undefined;
  const crossAccount =
    dbAccount && principalAccount && dbAccount !== principalAccount
      ? { dbAccount, principalAccount }
      : undefined;

  if (!sim) {
    if (!crossAccount) return [];
    return [crossAccountFinding(input.principal!, crossAccount, 'likely')];
  }

  const statements = matched(sim);
  if (sim.decision === 'explicitDeny' && sim.allowedByOrganizations === false) {
    return [
      {
        cause: 'ORG_POLICY_DENY',
        confidence: 'certain',
        evidence: `the policy simulator: an organization policy (SCP) denies ${sim.policySourceArn} rds-db:connect on ${sim.resourceArn}${statements}`,
        fix: `change the service control policy that denies rds-db:connect on ${sim.resourceArn} (or exempt ${sim.policySourceArn})`,
      },
    ];
  }
  if (sim.decision === 'explicitDeny') {
    return [
      {
        cause: 'EXPLICIT_DENY',
        confidence: 'certain',
        evidence: `the policy simulator: an explicit Deny for ${sim.policySourceArn} matches rds-db:connect on ${sim.resourceArn}${statements}`,
        fix: `remove or narrow that Deny statement so it no longer covers ${sim.resourceArn}`,
      },
    ];
  }
  if (sim.decision === 'implicitDeny' && sim.allowedByBoundary === false) {
    return [
      {
        cause: 'BOUNDARY_DENY',
        confidence: 'certain',
        evidence: `the policy simulator: the permissions boundary of ${sim.policySourceArn} does not allow rds-db:connect on ${sim.resourceArn}${statements}`,
        fix: `allow rds-db:connect on ${sim.resourceArn} in the permissions boundary of ${sim.policySourceArn}`,
      },
    ];
  }
  const alt = input.evidence.identifierSimulation;
  if (sim.decision === 'implicitDeny' && alt?.decision === 'allowed') {
    return [
      {
        cause: 'RESOURCE_ARN_MISMATCH',
        confidence: 'certain',
        evidence: `the policy allows ${alt.resourceArn}${matched(alt)}, which names the identifier; rds-db:connect needs the resource id: ${sim.resourceArn}`,
        fix: `change the policy's Resource to ${sim.resourceArn}`,
      },
    ];
  }
  if (sim.decision === 'implicitDeny') {
    return [
      {
        cause: 'POLICY_DENIES_CONNECT',
        confidence: 'certain',
        evidence: `the policy simulator: no policy of ${sim.policySourceArn} allows rds-db:connect on ${sim.resourceArn} (token signed by ${input.principal})`,
        fix: `allow rds-db:connect on ${sim.resourceArn} for ${sim.policySourceArn}, or sign with the role that has it`,
      },
    ];
  }
  return crossAccount ? [crossAccountFinding(input.principal!, crossAccount, 'certain')] : [];
}

function crossAccountFinding(
  principal: string,
  accounts: { dbAccount: string; principalAccount: string },
  confidence: 'certain' | 'likely',
): Diagnosis {
  return {
    cause: 'POLICY_DENIES_CONNECT',
    confidence,
    evidence: `token signed by ${principal} (account ${accounts.principalAccount}); rds-db:connect is granted only to principals of the database's account ${accounts.dbAccount}`,
    fix: `sign with a role in account ${accounts.dbAccount} that is allowed rds-db:connect (add it as the last hop of roles)`,
  };
}

function matched(sim: PolicySimulation): string {
  return sim.matchedStatements.length > 0 ? ` (matched: ${sim.matchedStatements.join('; ')})` : '';
}

/** What one auth-error line says, in the cause names (`NOT_AUTHORIZED`: policy, to be refined). */
type LogReading = Diagnosis['cause'] | 'NOT_AUTHORIZED' | 'SIGNATURE_MISMATCH' | undefined;

const LOG_FIXES: Partial<Record<Diagnosis['cause'], string>> = {
  CREDENTIALS_EXPIRED: 'refresh the signing credentials before signing',
  TOKEN_EXPIRED: 'sign a fresh token for every connection attempt',
  REGION_MISMATCH: "sign in the database's region",
  IAM_AUTH_DISABLED: 'enable IAM database authentication on the database',
  THROTTLING: 'open fewer new IAM connections per second to this database',
  TLS_REQUIRED: 'connect over TLS',
};

/**
 * Reads RDS's iam-db-auth-error lines in the attempt's time window. A log line has no code:
 * RDS's wording is the only signal, so it is matched here, on the phrases RDS documents, and
 * nowhere else. Nor does a line say which connection it was: when the window holds lines
 * with different reasons (other clients of the same user), none of them is certain.
 */
function readAuthErrorLog(messages: string[]): {
  findings: Diagnosis[];
  notAuthorized: string | undefined;
  signatureMismatch: boolean;
} {
  const readings = messages.map((m) => ({ reason: reasonOf(m), reading: readLine(reasonOf(m)) }));
  const latest = readings.at(-1);
  if (!latest) return { findings: [], notAuthorized: undefined, signatureMismatch: false };

  const agreed = readings.every((r) => r.reading === latest.reading);
  const findings: Diagnosis[] = [];
  const fix = latest.reading ? LOG_FIXES[latest.reading as Diagnosis['cause']] : undefined;
  if (fix) {
    findings.push({
      cause: latest.reading as Diagnosis['cause'],
      confidence: agreed ? 'certain' : 'possible',
      evidence:
        `the server's auth-error log: "${latest.reason}"` +
        (agreed ? '' : ` (latest of ${readings.length} lines with different reasons)`),
      fix,
    });
  }
  return {
    findings,
    notAuthorized: latest.reading === 'NOT_AUTHORIZED' ? latest.reason : undefined,
    signatureMismatch: agreed && latest.reading === 'SIGNATURE_MISMATCH',
  };
}

function reasonOf(message: string): string {
  return /because (.+?)\.(?: \[|$)/.exec(message)?.[1] ?? message;
}

function readLine(reason: string): LogReading {
  if (/security token included in the request is expired/i.test(reason)) {
    return 'CREDENTIALS_EXPIRED';
  }
  if (/token has expired/i.test(reason)) return 'TOKEN_EXPIRED';
  if (/scoped to a valid region/i.test(reason)) return 'REGION_MISMATCH';
  if (/not enabled/i.test(reason)) return 'IAM_AUTH_DISABLED';
  if (/throttl/i.test(reason)) return 'THROTTLING';
  if (/SSL\/TLS/i.test(reason)) return 'TLS_REQUIRED';
  if (/not authorized to perform rds-db:connect/i.test(reason)) return 'NOT_AUTHORIZED';
  if (/signature mismatch/i.test(reason)) return 'SIGNATURE_MISMATCH';
  return undefined;
}
