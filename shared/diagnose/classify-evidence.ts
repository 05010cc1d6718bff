/**
 * What the database and the network said, in their own codes: SQLSTATE, MySQL errno, the
 * drivers' and Node's error codes, how far the connection got, and what the probes saw (the
 * certificate the server presented, the authentication plugin a MySQL user has).
 */
import type { CheckResult, ResolvedTarget } from '#shared/report/types.ts';
import type { Greeting } from './probe-server-greeting.ts';
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
  /**
   * What the port said before the client spoke (probe-server-greeting.ts), read when the
   * handshake did not complete. Undefined when not probed.
   */
  greeting?: Greeting;
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

  const otherEngine = wrongEngine(input);
  if (otherEngine) return [otherEngine];

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
  if (input.result.outcome === 'CREDENTIALS_ERROR') return [noCredentials(e, input.error)];
  if (input.result.outcome === 'DNS_ERROR') return [unresolved(e, target)];
  if (input.result.outcome === 'QUERY_ERROR') return [queryFailed(e, target)];
  if (input.result.outcome === 'DATABASE_ERROR' && serverSpoke(e)) {
    return [serverRefused(e, target)];
  }
  return classifyNetwork(e, input);
}

/** The port speaks the other engine's protocol, by what it said unprompted. */
function wrongEngine(input: EvidenceInput): Diagnosis | undefined {
  const { engine, host, port } = input.target;
  const where = `${host}:${port}`;
  if (engine === 'postgres' && input.greeting === 'mysql') {
    return {
      cause: 'PORT_MISMATCH',
      confidence: 'certain',
      evidence: `${where} answered (TCP is fine) with a MySQL handshake before the client spoke: a MySQL server listens there, not PostgreSQL`,
      fix: `set engine: mysql on the target, or the port of the PostgreSQL database (not ${port})`,
    };
  }
  if (engine === 'mysql' && input.greeting === 'silent') {
    return {
      cause: 'PORT_MISMATCH',
      confidence: 'likely',
      evidence: `${where} accepted TCP (the network is fine) but sent no MySQL handshake (a MySQL server greets at once; a PostgreSQL server waits silently)`,
      fix: `set engine: postgres on the target if this is PostgreSQL, or the port of the MySQL database (not ${port})`,
    };
  }
  return undefined;
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

/**
 * The server answers a user that does not exist exactly as it answers one that is not
 * IAM-enabled (PostgreSQL 28P01/28000, MySQL 1045), so this is `likely`, never `certain`, and
 * the fix covers both: create the user if it is missing, then enable IAM for it.
 */
function notIamUser(engine: 'postgres' | 'mysql', user: string, why: string): Diagnosis {
  if (engine === 'postgres') {
    const quoted = `"${user.replaceAll('"', '""')}"`;
    return {
      cause: 'USER_NOT_IAM_ENABLED',
      confidence: 'likely',
      evidence: `${why}: "password authentication failed", so "${user}" is checked by password, not IAM: it is not in rds_iam, or it does not exist (the server answers both alike)`,
      fix: `if the user is missing: CREATE USER ${quoted}; then: GRANT rds_iam TO ${quoted};`,
    };
  }
  const quoted = `'${user.replaceAll("'", "''")}'@'%'`;
  return {
    cause: 'USER_NOT_IAM_ENABLED',
    confidence: 'likely',
    evidence: `${why}: "${user}" is not identified with the AWS authentication plugin, or does not exist (the server answers both alike)`,
    fix:
      `if the user is missing: CREATE USER ${quoted} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'; ` +
      `if it exists: ALTER USER ${quoted} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';`,
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
  const hopIndex = typeof o.hop === 'number' ? o.hop : undefined;
  const caller =
    /User: (arn:[^\s]+) is not authorized/.exec(e.message)?.[1] ??
    previousHop(input.target.roles, hopIndex);
  // The result's principal is null when a hop fails; the evidence says who asked instead.
  const who = `${caller} was refused ${namedAction ?? 'sts:AssumeRole'} on ${roleArn}${describeHop(input.target.roles, hopIndex)}`;
  const tags = hop?.sessionTags ? Object.keys(hop.sessionTags) : [];

  if (tags.length > 0 && namedAction === 'sts:TagSession') {
    return [
      {
        cause: 'TAG_SESSION_DENIED',
        confidence: 'certain',
        evidence: `${who} (session tags: ${tags.join(', ')})`,
        fix: `allow sts:TagSession for ${caller} in the trust policy of ${roleArn}, or remove sessionTags`,
      },
    ];
  }

  const externalId = hop?.externalId ? ` with ExternalId "${hop.externalId}"` : '';
  const findings: Diagnosis[] = [
    {
      cause: 'TRUST_POLICY_DENIES',
      confidence: e.code === 'AccessDenied' ? 'likely' : 'possible',
      evidence: `${who}${externalId} (${e.code})`,
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

/** Who made the call that failed at `hop`: the role before it, or the base identity. */
function previousHop(roles: EvidenceInput['target']['roles'], hop: number | undefined): string {
  if (hop === undefined) return 'the caller';
  if (hop === 0) return "the canary's base identity";
  const before = roles[hop - 1];
  return before ? `a session of ${before.arn}` : 'the caller';
}

function describeHop(roles: EvidenceInput['target']['roles'], hop: number | undefined): string {
  return hop === undefined || roles.length === 0 ? '' : ` (hop ${hop + 1} of ${roles.length})`;
}

function noCredentials(e: ErrorFields, error: unknown): Diagnosis {
  const roleArn = (error as { roleArn?: unknown } | null)?.roleArn;
  if (typeof roleArn === 'string') {
    // The base credentials worked well enough to call STS; STS failed or could not be reached.
    return {
      cause: 'UNKNOWN',
      confidence: 'likely',
      evidence: `STS gave no usable answer to AssumeRole on ${roleArn} (${e.code || 'no code'}): an AWS-side error or no route to STS`,
      fix: 'check the path from the canary to STS (a VPC endpoint for sts, a proxy, the regional endpoint) and retry; the canary retries AWS 5xx itself',
    };
  }
  return {
    cause: 'UNKNOWN',
    confidence: 'likely',
    evidence: `the canary found no usable base AWS credentials (${e.code || 'no code'}${e.message ? `: ${roundMs(e.message)}` : ''})`,
    fix:
      "give the canary credentials through the SDK's default chain: AWS_ACCESS_KEY_ID/" +
      'AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE or ~/.aws/credentials, SSO, ' +
      'web identity, or the container/instance role; for the sandbox run ' +
      '`eval "$(rds-iam-canary sandbox env)"` first',
  };
}

function unresolved(e: ErrorFields, target: EvidenceInput['target']): Diagnosis {
  return {
    cause: 'UNKNOWN',
    confidence: 'likely',
    evidence: `the host ${target.host} does not resolve (${e.code || 'no code'}${e.code === 'EAI_AGAIN' ? ': the resolver did not answer in time' : ''})`,
    fix:
      `check the endpoint name ${target.host}: a deleted or renamed instance, a typo, or a ` +
      'private hosted zone that this network/VPC cannot see (the VPC association, its DNS ' +
      'resolution settings)',
  };
}

/** Codes the drivers give a query that ran out of time. */
const QUERY_TIMEOUT_CODES = new Set(['QUERY_TIMEOUT', 'PROTOCOL_SEQUENCE_TIMEOUT', '57014']);

function queryFailed(e: ErrorFields, target: EvidenceInput['target']): Diagnosis {
  const timedOut = QUERY_TIMEOUT_CODES.has(e.code) || QUERY_TIMEOUT_CODES.has(e.sqlState);
  const code = describeCodes(e);
  return {
    cause: 'UNKNOWN',
    confidence: 'likely',
    evidence:
      `the IAM login succeeded (token, policy and user are fine); the query then ` +
      (timedOut
        ? `timed out (${code}${e.message ? `: ${roundMs(e.message)}` : ''})`
        : `failed with ${code}${e.message ? `: ${roundMs(e.message)}` : ''}`),
    fix: timedOut
      ? `make the query cheaper or raise timeoutMs (${target.timeoutMs} ms); check for locks or load on the database`
      : "fix the target's `query` (it must run as this user: table names, privileges, syntax)",
  };
}

/** An error the server itself sent: a SQLSTATE or a MySQL errno, or one after login. */
function serverSpoke(e: ErrorFields): boolean {
  return (
    e.sqlState !== '' || (e.errno !== undefined && e.errno > 0) || e.progress === 'authenticated'
  );
}

/** What the server's own codes mean, and what to change (by SQLSTATE or MySQL errno). */
const SERVER_ERRORS: { sqlState?: string; errno?: number; meaning: string; fix: string }[] = [
  {
    sqlState: '3D000',
    errno: 1049,
    meaning: 'the database does not exist',
    fix: "set the target's `database` key to a database that exists on this server",
  },
  {
    sqlState: '53300',
    errno: 1040,
    meaning: 'the server has too many connections',
    fix: 'raise max_connections, or find the client that holds the connections (a pool leak)',
  },
  {
    sqlState: '57P03',
    meaning: 'the server is starting up, shutting down or in recovery',
    fix: 'wait for the instance to be available (a reboot, failover or maintenance)',
  },
  {
    errno: 1129,
    meaning: 'the host is blocked after too many connection errors',
    fix: 'run FLUSH HOSTS (or mysqladmin flush-hosts) and raise max_connect_errors',
  },
  {
    sqlState: '42501',
    errno: 1044,
    // MySQL answers 1044 alike for a database that does not exist and one the user may not
    // use (it does not tell a user without rights which databases exist).
    meaning: 'the database does not exist, or the user may not use it',
    fix:
      "check the target's `database` key names a database on this server; then grant the " +
      'user CONNECT on it (PostgreSQL) or privileges on it (MySQL)',
  },
];

function serverRefused(e: ErrorFields, target: EvidenceInput['target']): Diagnosis {
  const known = SERVER_ERRORS.find(
    (s) =>
      (s.sqlState !== undefined && s.sqlState === e.sqlState) ||
      (s.errno !== undefined && s.errno === e.errno),
  );
  const code = describeCodes(e);
  return {
    cause: 'UNKNOWN',
    confidence: known ? 'certain' : 'likely',
    evidence:
      `${target.host}:${target.port} answered with an error of its own (${code})` +
      (known ? `: ${known.meaning}` : e.message ? `: ${roundMs(e.message)}` : '') +
      '; the network path is fine',
    fix: known?.fix ?? "read the server's log at the time of the check for this error",
  };
}

/** `SQLSTATE 3D000`, `errno 1049, ER_BAD_DB_ERROR`: each code the error carries, once. */
function describeCodes(e: ErrorFields): string {
  const parts = [
    e.sqlState ? `SQLSTATE ${e.sqlState}` : '',
    e.errno !== undefined && e.errno > 0 ? `errno ${e.errno}` : '',
    e.code !== e.sqlState ? e.code : '',
  ].filter((part) => part !== '');
  return parts.length > 0 ? parts.join(', ') : 'no code';
}

/** Rounds fractional milliseconds in a message: `4833.2752550000005 ms` reads `4833 ms`. */
export function roundMs(text: string): string {
  return text.replace(
    /(\d+\.\d+)(\s?ms)\b/g,
    (_, n: string, unit: string) => `${Math.round(Number(n))}${unit}`,
  );
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
  const stalled =
    input.result.outcome === 'CONNECT_TIMEOUT' || input.result.outcome === 'DATABASE_ERROR';
  if (stalled && e.progress === 'tcp') {
    // TCP was accepted, so the path is open; no handshake completed. The commonest reason is
    // a port where another engine listens (a MySQL client waits for a greeting a PostgreSQL
    // server never sends; a PostgreSQL client gets bytes it cannot read from MySQL).
    const other = input.target.engine === 'mysql' ? 'PostgreSQL' : 'MySQL';
    return [
      {
        cause: 'PORT_MISMATCH',
        confidence: 'possible',
        evidence: `the server at ${where} accepted TCP (the network is fine), but the ${input.target.engine} handshake did not complete (${e.code}${e.message ? `: ${roundMs(e.message)}` : ''}): what listens there may not be ${input.target.engine}`,
        fix: `check the target's engine (${input.target.engine}) and port (${port}): is ${port} a ${other} port, or a proxy that does not speak ${input.target.engine}?`,
      },
    ];
  }
  if (stalled && e.progress === 'tls') {
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
