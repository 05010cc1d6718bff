import { describe, expect, it } from 'vitest';
import { type FixtureInstance, parseFixture } from '#sandbox/fixture-schema.ts';
import { buildSandboxEnv, exportLines } from '#sandbox/servers/env-file.ts';
import { fixtureSql } from '#sandbox/servers/mariadb-server.ts';
import { pamServiceFiles } from '#sandbox/servers/pam-module.ts';
import { statePaths } from '#sandbox/servers/state-paths.ts';
import { certificateNames } from '#sandbox/servers/tls-certificates.ts';

const fixture = parseFixture(`
accounts: { "111111111111": { name: a } }
instances:
  - { name: orders, identifier: o, engine: postgres, host: o.eu-west-1.rds.amazonaws.com,
      port: 15432, region: eu-west-1, account: "111111111111", resourceId: db-ORDERS }
  - name: ledger
    identifier: l
    engine: mysql
    host: l.us-east-1.rds.amazonaws.com
    port: 13306
    region: us-east-1
    account: "111111111111"
    resourceId: db-LEDGER
    databases: [ledger]
    users:
      - { name: canary_iam, iam: true }
      - { name: "o'brien", iam: false, password: "it's\\\\secret" }
`);
const paths = statePaths('/state');
const [orders, ledger] = fixture.instances as [FixtureInstance, FixtureInstance];

describe('PAM service files', () => {
  it('gives a PostgreSQL instance a TLS service and a -notls one', () => {
    const files = pamServiceFiles(orders, paths);

    expect([...files.keys()]).toEqual([
      '/etc/pam.d/rds-iam-canary-orders',
      '/etc/pam.d/rds-iam-canary-orders-notls',
    ]);
    expect(files.get('/etc/pam.d/rds-iam-canary-orders')).toContain(
      'auth required /state/lib/pam_rds_iam_canary.so socket=/state/run/verifier.sock instance=orders tls=required',
    );
    expect(files.get('/etc/pam.d/rds-iam-canary-orders-notls')).toContain('tls=absent');
  });

  it('gives a MariaDB instance one service, for TLS', () => {
    const files = pamServiceFiles(ledger, paths);

    expect([...files.keys()]).toEqual(['/etc/pam.d/rds-iam-canary-ledger']);
    expect(files.get('/etc/pam.d/rds-iam-canary-ledger')).toContain(
      'account required pam_permit.so',
    );
  });
});

describe('MariaDB fixture SQL', () => {
  it('creates IAM users through PAM with REQUIRE SSL', () => {
    expect(fixtureSql(ledger, 'pw')).toContain(
      "CREATE OR REPLACE USER 'canary_iam'@'%' IDENTIFIED VIA pam USING 'rds-iam-canary-ledger' REQUIRE SSL;",
    );
  });

  it('escapes quotes and backslashes in names and passwords', () => {
    const sql = fixtureSql(ledger, 'pw');

    expect(sql).toContain(
      "CREATE OR REPLACE USER 'o''brien'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('it''s\\\\secret');",
    );
  });
});

describe('sandbox environment', () => {
  it('takes AWS_REGION from the first instance and lists every instance', () => {
    const env = buildSandboxEnv(
      fixture,
      paths,
      { accessKeyId: 'AKIA0', secretAccessKey: 'x' },
      (n) => `pw-${n}`,
    );

    expect(env.AWS_REGION).toBe('eu-west-1');
    expect(env.AWS_ENDPOINT_URL).toBe('http://127.0.0.1:14566');
    expect(env.adminUrl).toBe('http://127.0.0.1:14566/_sandbox');
    expect(env.instances.map((i) => [i.name, i.adminPassword])).toEqual([
      ['orders', 'pw-orders'],
      ['ledger', 'pw-ledger'],
    ]);
  });

  it('quotes export values for the shell when needed', () => {
    const env = buildSandboxEnv(
      fixture,
      paths,
      { accessKeyId: 'AKIA0', secretAccessKey: "a'b c" },
      () => '',
    );

    expect(exportLines(env)).toContain("export AWS_SECRET_ACCESS_KEY='a'\\''b c'");
    expect(exportLines(env)).toContain('export AWS_ACCESS_KEY_ID=AKIA0');
  });
});

describe('server certificate names', () => {
  it('covers every host plus localhost and 127.0.0.1, once each', () => {
    expect(certificateNames(['a.example', 'a.example', 'b.example'])).toEqual([
      'a.example',
      'b.example',
      'localhost',
      '127.0.0.1',
    ]);
  });
});
