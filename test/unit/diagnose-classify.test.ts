import { describe, expect, it } from 'vitest';
import { classifyEvidence, type EvidenceInput } from '#shared/diagnose/classify-evidence.ts';
import { weighAwsEvidence } from '#shared/diagnose/weigh-aws-evidence.ts';

const target: EvidenceInput['target'] = {
  engine: 'postgres',
  host: 'orders.c1.eu-west-1.rds.amazonaws.com',
  port: 5432,
  user: 'app_user',
  roles: [],
  timeoutMs: 5000,
};

function classify(
  outcome: EvidenceInput['result']['outcome'],
  error: Record<string, unknown>,
  extra: Partial<EvidenceInput> = {},
) {
  return classifyEvidence({
    target,
    result: {
      outcome,
      error: { code: String(error.code ?? ''), message: String(error.message ?? '') },
    },
    error,
    ...extra,
  });
}

const causes = (findings: { cause: string; confidence: string }[]) =>
  findings.map((f) => `${f.cause}/${f.confidence}`);

describe('classifyEvidence', () => {
  it('reads 28P01 as a PostgreSQL user outside rds_iam or missing, with both fixes', () => {
    const [finding] = classify('AUTH_REJECTED', { code: '28P01', sqlState: '28P01' });

    // A missing user gets the same 28P01: the evidence cannot make this certain.
    expect(finding).toMatchObject({ cause: 'USER_NOT_IAM_ENABLED', confidence: 'likely' });
    expect(finding!.fix).toContain('CREATE USER "app_user";');
    expect(finding!.fix).toContain('GRANT rds_iam TO "app_user";');
  });

  it('names no cause for a PAM refusal (28000): IAM refused the token', () => {
    const findings = classify('AUTH_REJECTED', {
      code: '28000',
      sqlState: '28000',
      message: 'PAM authentication failed for user "app_user"',
    });

    expect(findings).toEqual([]);
  });

  it('reads a MySQL 1045 without a clear-password switch as a password user', () => {
    const [finding] = classify(
      'AUTH_REJECTED',
      { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, sqlState: '28000' },
      { target: { ...target, engine: 'mysql' }, mysqlAskedClearPassword: false },
    );

    expect(finding).toMatchObject({ cause: 'USER_NOT_IAM_ENABLED', confidence: 'likely' });
    expect(finding!.fix).toContain(
      "CREATE USER 'app_user'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';",
    );
    expect(finding!.fix).toContain(
      "ALTER USER 'app_user'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';",
    );
  });

  it('names no user cause for a MySQL 1045 after the clear-password switch', () => {
    const findings = classify(
      'AUTH_REJECTED',
      { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, sqlState: '28000' },
      { target: { ...target, engine: 'mysql' }, mysqlAskedClearPassword: true },
    );

    expect(findings).toEqual([]);
  });

  it.each(['MYSQL_CLEAR_PASSWORD_NOT_ENABLED', 'CLEARTEXT_WITHOUT_TLS'])(
    'reads %s as the canary refusing the clear-password plugin',
    (code) => {
      expect(causes(classify('CANARY_ERROR', { code }))).toEqual([
        'CLEARTEXT_PLUGIN_DISABLED/certain',
      ]);
    },
  );

  it('names the issuer the server presented for an untrusted chain', () => {
    const [finding] = classify(
      'TLS_ERROR',
      { code: 'SELF_SIGNED_CERT_IN_CHAIN' },
      { tlsPeer: { subject: 'CN=db', issuer: 'CN=Amazon Root CA 1, O=Amazon', validTo: 'x' } },
    );

    expect(finding).toMatchObject({ cause: 'TLS_UNTRUSTED', confidence: 'certain' });
    expect(finding!.evidence).toContain('CN=Amazon Root CA 1');
    expect(finding!.fix).toContain('CN=Amazon Root CA 1');
  });

  it('reads a server without TLS as TLS_REQUIRED', () => {
    expect(
      causes(classify('TLS_ERROR', { code: 'TLS_HANDSHAKE_FAILED', progress: 'tcp' })),
    ).toEqual(['TLS_REQUIRED/certain']);
  });

  it('tells a dropped SYN from a refused connection and a closed one', () => {
    expect(
      causes(classify('CONNECT_TIMEOUT', { code: 'CONNECT_TIMEOUT', progress: 'none' })),
    ).toEqual(['NETWORK_BLOCKED/likely']);
    expect(
      causes(classify('CONNECTION_REFUSED', { code: 'ECONNREFUSED', progress: 'none' })),
    ).toEqual(['NETWORK_BLOCKED/possible']);
    const closed = classify('DATABASE_ERROR', { code: 'CONNECTION_CLOSED', progress: 'tls' });
    expect(closed[0]!.evidence).toContain('established');
  });

  it('reads throttling', () => {
    expect(causes(classify('THROTTLED', { code: 'ThrottlingException' }))).toEqual([
      'THROTTLING/certain',
    ]);
  });

  it('tells session tags from a trust policy refusal', () => {
    const role = 'arn:aws:iam::111111111111:role/r';
    const tagged = { ...target, roles: [{ arn: role, sessionTags: { team: 'x' } }] };
    const message = (action: string) =>
      `AssumeRole ${role}: User: arn:aws:iam::111111111111:user/canary is not authorized to perform: ${action} on resource: ${role}`;

    const tags = classify(
      'ASSUME_ROLE_DENIED',
      { code: 'AccessDenied', roleArn: role, hop: 0, message: message('sts:TagSession') },
      { target: tagged },
    );
    const trust = classify(
      'ASSUME_ROLE_DENIED',
      { code: 'AccessDenied', roleArn: role, hop: 0, message: message('sts:AssumeRole') },
      { target: tagged },
    );

    expect(causes(tags)).toEqual(['TAG_SESSION_DENIED/certain']);
    expect(causes(trust)).toEqual(['TRUST_POLICY_DENIES/likely']);
    expect(trust[0]!.fix).toContain('arn:aws:iam::111111111111:user/canary');
  });
});

describe('weighAwsEvidence', () => {
  const arn = 'arn:aws:rds-db:eu-west-1:111111111111:dbuser:db-ABC/app_user';
  const simulation = {
    policySourceArn: 'arn:aws:iam::111111111111:role/app',
    resourceArn: arn,
    matchedStatements: [],
    allowedByBoundary: undefined,
    allowedByOrganizations: true,
  };

  it('reads an organizations deny', () => {
    const { findings } = weighAwsEvidence({
      evidence: {
        notes: [],
        simulation: { ...simulation, decision: 'explicitDeny', allowedByOrganizations: false },
      },
      principal: 'arn:aws:sts::111111111111:assumed-role/app/s',
    });

    expect(causes(findings)).toEqual(['ORG_POLICY_DENY/certain']);
  });

  it('reads a boundary that does not allow the connect', () => {
    const { findings } = weighAwsEvidence({
      evidence: {
        notes: [],
        simulation: { ...simulation, decision: 'implicitDeny', allowedByBoundary: false },
      },
      principal: null,
    });

    expect(causes(findings)).toEqual(['BOUNDARY_DENY/certain']);
  });

  it('reads a policy that names the identifier instead of the resource id', () => {
    const { findings } = weighAwsEvidence({
      evidence: {
        notes: [],
        simulation: { ...simulation, decision: 'implicitDeny' },
        identifierSimulation: {
          ...simulation,
          resourceArn: arn.replace('db-ABC', 'orders'),
          decision: 'allowed',
        },
      },
      principal: null,
    });

    expect(causes(findings)).toEqual(['RESOURCE_ARN_MISMATCH/certain']);
    expect(findings[0]!.fix).toContain(arn);
  });

  it('reads a principal of another account as refused', () => {
    const { findings } = weighAwsEvidence({
      evidence: { notes: [], simulation: { ...simulation, decision: 'allowed' } },
      principal: 'arn:aws:sts::999999999999:assumed-role/app/s',
      accountId: '111111111111',
    });

    expect(causes(findings)).toEqual(['POLICY_DENIES_CONNECT/certain']);
  });

  it("reads the server's own words in the auth-error log", () => {
    const line = (why: string) =>
      `2026-12-04T10:00:00,000 [ERROR] Failed to authenticate the connection request for user 'u' because ${why}.`;
    const read = (why: string) =>
      weighAwsEvidence({ evidence: { notes: [], authErrors: [line(why)] }, principal: null });

    expect(causes(read('the provided token has expired').findings)).toEqual([
      'TOKEN_EXPIRED/certain',
    ]);
    expect(causes(read('the request was throttled: too many requests').findings)).toEqual([
      'THROTTLING/certain',
    ]);
    expect(read('the provided token is invalid: signature mismatch').signatureMismatch).toBe(true);
  });
});

describe('classifyEvidence outside IAM', () => {
  it('reads a host that does not resolve, naming the host and the resolver code', () => {
    const findings = classify('DNS_ERROR', { code: 'ENOTFOUND', progress: 'none' });

    expect(causes(findings)).toEqual(['UNKNOWN/likely']);
    expect(findings[0]!.evidence).toContain(target.host);
    expect(findings[0]!.evidence).toContain('ENOTFOUND');
    expect(findings[0]!.fix).toContain('private hosted zone');
    expect(findings[0]!.fix).not.toContain('rds-iam-canary diagnose');
  });

  it('reads missing base credentials, naming the sandbox env command', () => {
    const findings = classify('CREDENTIALS_ERROR', { code: 'CredentialsProviderError' });

    expect(causes(findings)).toEqual(['UNKNOWN/likely']);
    expect(findings[0]!.fix).toContain('AWS_PROFILE');
    expect(findings[0]!.fix).toContain('sandbox env');
  });

  it('tells STS failing on a hop from missing base credentials', () => {
    const role = 'arn:aws:iam::111111111111:role/hub';

    const findings = classify('CREDENTIALS_ERROR', { code: 'ECONNREFUSED', roleArn: role, hop: 0 });

    expect(causes(findings)).toEqual(['UNKNOWN/likely']);
    expect(findings[0]!.evidence).toContain(role);
    expect(findings[0]!.fix).toContain('STS');
  });

  it('reads expired base credentials as CREDENTIALS_EXPIRED', () => {
    expect(causes(classify('CREDENTIALS_ERROR', { code: 'ExpiredToken' }))).toEqual([
      'CREDENTIALS_EXPIRED/certain',
    ]);
  });

  it('says the IAM login worked when the query fails, with its SQLSTATE', () => {
    const findings = classify('QUERY_ERROR', {
      code: '42P01',
      sqlState: '42P01',
      phase: 'query',
      progress: 'authenticated',
    });

    expect(causes(findings)).toEqual(['UNKNOWN/likely']);
    expect(findings[0]!.evidence).toContain('login succeeded');
    expect(findings[0]!.evidence).toContain('SQLSTATE 42P01');
    expect(findings[0]!.fix).toContain('query');
  });

  it('reads a query timeout with its timeout, in whole milliseconds', () => {
    const findings = classify('QUERY_ERROR', {
      code: 'QUERY_TIMEOUT',
      phase: 'query',
      progress: 'authenticated',
      message: 'no query result within 4833.2752550000005 ms',
    });

    expect(findings[0]!.evidence).toContain('timed out');
    expect(findings[0]!.evidence).toContain('4833 ms');
    expect(findings[0]!.evidence).not.toContain('4833.27');
    expect(findings[0]!.fix).toContain('timeoutMs');
  });

  it.each([
    ['postgres', { code: '3D000', sqlState: '3D000' }, 'database'],
    ['mysql', { code: 'ER_BAD_DB_ERROR', errno: 1049, sqlState: '42000' }, 'database'],
    ['postgres', { code: '53300', sqlState: '53300' }, 'max_connections'],
    ['mysql', { code: 'ER_CON_COUNT_ERROR', errno: 1040, sqlState: '08004' }, 'max_connections'],
  ] as const)('reads a %s server error %o by its code', (engine, error, fix) => {
    const findings = classify(
      'DATABASE_ERROR',
      { ...error, progress: 'tls' },
      { target: { ...target, engine } },
    );

    expect(causes(findings)).toEqual(['UNKNOWN/certain']);
    expect(findings[0]!.fix).toContain(fix);
  });

  it('never reads an error the server sent after login as NETWORK_BLOCKED', () => {
    const findings = classify('DATABASE_ERROR', {
      code: 'PROTOCOL_CONNECTION_LOST',
      progress: 'authenticated',
    });

    expect(causes(findings)).toEqual(['UNKNOWN/likely']);
  });

  it('reads a stalled handshake after TCP as another engine on the port', () => {
    const findings = classify(
      'CONNECT_TIMEOUT',
      { code: 'CONNECT_TIMEOUT', progress: 'tcp', message: 'no login within 1500.25 ms' },
      { target: { ...target, engine: 'mysql' } },
    );

    expect(causes(findings)).toEqual(['PORT_MISMATCH/possible']);
    expect(findings[0]!.evidence).toContain('accepted TCP');
    expect(findings[0]!.evidence).toContain('1500 ms');
    expect(findings[0]!.fix).toContain('PostgreSQL');
  });

  it('reads a MySQL greeting on a PostgreSQL target as the wrong engine, not TLS', () => {
    const findings = classify(
      'TLS_ERROR',
      { code: 'TLS_HANDSHAKE_FAILED', progress: 'tcp' },
      { greeting: 'mysql' },
    );

    expect(causes(findings)).toEqual(['PORT_MISMATCH/certain']);
    expect(findings[0]!.fix).toContain('engine: mysql');
  });

  it('reads a silent port on a MySQL target as likely another engine', () => {
    const findings = classify(
      'CONNECT_TIMEOUT',
      { code: 'CONNECT_TIMEOUT', progress: 'tcp' },
      { target: { ...target, engine: 'mysql' }, greeting: 'silent' },
    );

    expect(causes(findings)).toEqual(['PORT_MISMATCH/likely']);
  });

  it('names the caller and the hop of a refused AssumeRole when STS does not', () => {
    const hub = 'arn:aws:iam::111111111111:role/hub';
    const app = 'arn:aws:iam::222222222222:role/app';
    const chained = { ...target, roles: [{ arn: hub }, { arn: app }] };

    const [second] = classify(
      'ASSUME_ROLE_DENIED',
      { code: 'AccessDenied', roleArn: app, hop: 1, message: `AssumeRole ${app}: denied` },
      { target: chained },
    );
    const [first] = classify(
      'ASSUME_ROLE_DENIED',
      { code: 'AccessDenied', roleArn: hub, hop: 0, message: `AssumeRole ${hub}: denied` },
      { target: chained },
    );

    expect(second!.evidence).toContain(`a session of ${hub} was refused sts:AssumeRole on ${app}`);
    expect(second!.evidence).toContain('hop 2 of 2');
    expect(first!.evidence).toContain("the canary's base identity was refused");
  });
});
