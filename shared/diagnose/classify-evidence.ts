/**
 * What the database and the network said, in their own codes: SQLSTATE, MySQL errno, the
 * drivers' and Node's error codes, how far the connection got, and what the probes saw (the
 * certificate the server presented, the authentication plugin a MySQL user has).
 */
import type { CheckResult, ResolvedTarget } from '#shared/report/types.ts';
import type { Diagnosis } from './types.ts';

/** The certificate a server presented, read by probe-tls-peer.ts. */
export interface TlsPeer {
  subject: string;
  issuer: string;
  validTo: string;
}

export interface EvidenceInput {
  target: Pick<ResolvedTarget, 'engine' | 'host' | 'port' | 'user' | 'roles' | 'timeoutMs'>;
  result: Pick<CheckResult, 'outcome' | 'error'>;
  /** The deciding attempt's error as raised (fields read: code, sqlState, errno, progress...). */
  error: unknown;
  /** The server's certificate, when a TLS failure made diagnosis look at it. */
  tlsPeer?: TlsPeer;
  /**
   * MySQL: whether the server asked for `mysql_clear_password` (the IAM and PAM plugins do;
   * password plugins never do). Undefined when unknown.
   */
  mysqlAskedClearPassword?: boolean;
}

/** Verification codes that mean "this chain does not lead to a CA we trust". */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** The server would not speak TLS: pg's 'N' answer, mysql2's no-SSL handshake. */
const NO_TLS_CODES = new Set(['TLS_HANDSHAKE_FAILED', 'HANDSHAKE_NO_SSL_SUPPORT', 'NO_TLS']);

/** The canary's own driver set-up refused the clear-password switch (field case F1). */
const CLEARTEXT_CODES = new Set([
  'MYSQL_CLEAR_PASSWORD_NOT_ENABLED',
  'CLEARTEXT_WITHOUT_TLS',
  'AUTH_SWITCH_PLUGIN_ERROR',
]);

const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

const EXPIRED_CREDENTIAL_CODES = new Set(['ExpiredToken', 'ExpiredTokenException']);

/**
 * Returns the findings that the check's own error supports (empty when it says nothing
 * beyond "rejected"). Decided by codes; message text is read in one place only, marked.
 */
export function classifyEvidence(input: EvidenceInput): Diagnosis[] {
  const e = readError(input.error, input.result);
  const { target } = input;

  if (CLEARTEXT_CODES.has(e.code)) {
    return [
      {
        cause: 'CLEARTEXT_PLUGIN_DISABLED',
        confidence: 'certain',
        evidence: `the MySQL driver refused the server's switch to mysql_clear_password (${e.code}): a canary defect, not the database's`,
        fix:
          'opt in to mysql_clear_password over verified TLS (mysql2 authPlugins / ' +
          'enableCleartextPlugin); never over a connection without TLS',
      },
    ];
  }

  if (input.result.outcome === 'THROTTLED' || THROTTLING_CODES.has(e.code)) {
    return [
      {
        cause: 'THROTTLING',
        confidence: 'certain',
        evidence: `${e.code}: the request was throttled`,
        fix: 'spread new connections out (the canary limits its own rate per endpoint); retry with backoff',
      },
    ];
  }

  if (UNTRUSTED_CODES.has(e.code)) return [untrusted(e.code, target, input.tlsPeer)];
  if (NO_TLS_CODES.has(e.code)) {
    return [
      {
        cause: 'TLS_REQUIRED',
        confidence: 'certain',
        evidence: `${target.host}:${target.port} did not accept TLS (${e.code}); IAM logins need TLS`,
        fix: 'connect to a server that offers TLS (enable SSL on it, or do not terminate TLS in a proxy in front)',
      },
    ];
  }

  if (input.result.outcome === 'AUTH_REJECTED') return classifyRejection(e, input);
  if (input.result.outcome === 'ASSUME_ROLE_DENIED') return classifyAssumeRole(e, input);
  if (input.result.outcome === 'CREDENTIALS_ERROR' && EXPIRED_CREDENTIAL_CODES.has(e.code)) {
    return [
      {
        cause: 'CREDENTIALS_EXPIRED',
        confidence: 'certain',
        evidence: `AWS refused the canary's credentials as expired (${e.code})`,
        fix: 'refresh the credentials the canary starts from (role session, profile, environment)',
      },
    ];
  }
  return classifyNetwork(e, input);
}

function untrusted(code: string, target: EvidenceInput['target'], peer?: TlsPeer): Diagnosis {
  const presented = peer
    ? `the server presented "${peer.subject}" issued by "${peer.issuer}"`
    : 'the presented chain could not be read';
  const nameProblem = code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH';
  return {
    cause: 'TLS_UNTRUSTED',
    confidence: 'certain',
    evidence: `certificate verification failed (${code}); ${presented}`,
    fix: nameProblem
      ? `set tls.serverName to a name the certificate holds, or connect to ${target.host} by its endpoint name`
      : peer
        ? `trust the CA "${peer.issuer}": add its certificate to tls.ca (an RDS Proxy chains to the Amazon root CAs; a rotated RDS CA needs a current bundle)`
        : 'add the CA that issued the server certificate to tls.ca',
  };
}

function classifyRejection(e: ErrorFields, input: EvidenceInput): Diagnosis[] {
  const { user, engine } = input.target;

  if (engine === 'postgres') {
    // 28P01 comes from the password methods (scram, md5, password): the login never reached
    // PAM, so the user is not a member of rds_iam. PAM failures are 28000.
    if (e.sqlState === '28P01') return [notIamUser('postgres', user, `SQLSTATE 28P01`)];
    // 28000 covers PAM refusals and a missing pg_hba entry alike; the wording is the only
    // signal for the latter (no code of its own), so it is read here and nowhere else.
    if (e.sqlState === '28000' && /no pg_hba\.conf entry/i.test(e.message)) {
      return [
        {
          cause: 'TLS_REQUIRED',
          confidence: 'likely',
          evidence: 'SQLSTATE 28000 and no pg_hba.conf entry matched this connection',
          fix: 'connect over TLS (RDS sends rds_iam members to IAM only on hostssl)',
        },
      ];
    }
    return [];
  }

  if (input.mysqlAskedClearPassword === false) {
    return [
      notIamUser(
        'mysql',
        user,
        `errno ${e.errno ?? e.code} and the server never asked for mysql_clear_password (a password plugin answered)`,
      ),
    ];
  }
  return [];
}

function notIamUser(engine: 'postgres' | 'mysql', user: string, why: string): Diagnosis {
  return engine === 'postgres'
    ? {
        cause: 'USER_NOT_IAM_ENABLED',
        confidence: 'certain',
        evidence: `${why}: "password authentication failed", so "${user}" is checked by password, not IAM (not in rds_iam)`,
        fix: `GRANT rds_iam TO "${user.replaceAll('"', '""')}";`,
      }
    : {
        cause: 'USER_NOT_IAM_ENABLED',
        confidence: 'certain',
        evidence: `${why}: "${user}" is not identified with the AWS authentication plugin`,
        fix: `ALTER USER '${user.replaceAll("'", "''")}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';`,
      };
}

function classifyAssumeRole(e: ErrorFields, input: EvidenceInput): Diagnosis[] {
  const o = (typeof input.error === 'object' && input.error !== null ? input.error : {}) as {
    roleArn?: unknown;
    hop?: unknown;
  };
  const roleArn = typeof o.roleArn === 'string' ? o.roleArn : 'the role';
  const hop = typeof o.hop === 'number' ? input.target.roles[o.hop] : undefined;
  // STS answers AccessDenied for both a refused AssumeRole and a refused TagSession; the
  // action it names in the message is the only signal telling them apart (no code of its own).
  const namedAction = /not authorized to perform: (sts:\w+)/.exec(e.message)?.[1];
  const caller = /User: (arn:[^\s]+) is not authorized/.exec(e.message)?.[1] ?? 'the caller';
  const tags = hop?.sessionTags ? Object.keys(hop.sessionTags) : [];

  if (tags.length > 0 && namedAction === 'sts:TagSession') {
    return [
      {
        cause: 'TAG_SESSION_DENIED',
        confidence: 'certain',
        evidence: `STS refused sts:TagSession on ${roleArn} for ${caller} (session tags: ${tags.join(', ')})`,
        fix: `allow sts:TagSession for ${caller} in the trust policy of ${roleArn}, or remove sessionTags`,
      },
    ];
  }

  const externalId = hop?.externalId ? ` with ExternalId "${hop.externalId}"` : '';
  const findings: Diagnosis[] = [
    {
      cause: 'TRUST_POLICY_DENIES',
      confidence: e.code === 'AccessDenied' ? 'likely' : 'possible',
      evidence: `STS refused ${namedAction ?? 'AssumeRole'} on ${roleArn} for ${caller}${externalId} (${e.code})`,
      fix:
        `allow ${caller} (sts:AssumeRole) in the trust policy of ${roleArn}` +
        (hop?.externalId
          ? `, and check its sts:ExternalId condition equals "${hop.externalId}"`
          : '') +
        `; the caller also needs sts:AssumeRole on ${roleArn} in its own policy`,
    },
  ];
  if (tags.length > 0 && namedAction === undefined) {
    findings.push({
      cause: 'TAG_SESSION_DENIED',
      confidence: 'possible',
      evidence: `the call passed session tags (${tags.join(', ')}), which need sts:TagSession`,
      fix: `allow sts:TagSession for ${caller} in the trust policy of ${roleArn}`,
    });
  }
  return findings;
}

function classifyNetwork(e: ErrorFields, input: EvidenceInput): Diagnosis[] {
  const { host, port } = input.target;
  const where = `${host}:${port}`;

  if (input.result.outcome === 'CONNECT_TIMEOUT' && (e.progress === 'none' || e.progress === '')) {
    return [
      {
        cause: 'NETWORK_BLOCKED',
        confidence: 'likely',
        evidence: `TCP to ${where} was never established (${e.code}): packets dropped on the way`,
        fix: `allow TCP ${port} from the canary to the database (security group inbound rule, network ACL, route)`,
      },
    ];
  }
  if (input.result.outcome === 'CONNECTION_REFUSED') {
    return [
      {
        cause: 'NETWORK_BLOCKED',
        confidence: 'possible',
        evidence: `TCP to ${where} was refused (${e.code}): nothing listens there, or a firewall rejects`,
        fix: `check the port (${port}) and that the database is running; then firewall rules on the path`,
      },
    ];
  }
  if (
    (input.result.outcome === 'CONNECT_TIMEOUT' || input.result.outcome === 'DATABASE_ERROR') &&
    (e.progress === 'tcp' || e.progress === 'tls')
  ) {
    return [
      {
        cause: 'NETWORK_BLOCKED',
        confidence: 'possible',
        evidence: `TCP to ${where} was established, then the connection stalled or closed after ${e.progress === 'tls' ? 'TLS' : 'TCP'} (${e.code})`,
        fix: 'look for a proxy, load balancer or firewall between the canary and the database that ends connections',
      },
    ];
  }
  return [];
}

interface ErrorFields {
  code: string;
  sqlState: string;
  errno: number | undefined;
  progress: string;
  message: string;
}

function readError(error: unknown, result: EvidenceInput['result']): ErrorFields {
  const o = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof o.code === 'string' && o.code !== '' ? o.code : (result.error?.code ?? '');
  return {
    code,
    sqlState:
      typeof o.sqlState === 'string' ? o.sqlState : /^\d[0-9A-Z]{4}$/.test(code) ? code : '',
    errno: typeof o.errno === 'number' ? o.errno : undefined,
    progress: typeof o.progress === 'string' ? o.progress : '',
    message: typeof o.message === 'string' ? o.message : (result.error?.message ?? ''),
  };
}
