import { describe, expect, it } from 'vitest';
import { lintTargets } from '#shared/diagnose/lint-config.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';

const HOST = 'orders-primary.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com';

function target(overrides: Partial<ResolvedTarget> = {}): ResolvedTarget {
  return {
    name: 'orders',
    engine: 'postgres',
    host: HOST,
    port: 5432,
    user: 'canary_iam',
    region: 'eu-west-1',
    signingHost: overrides.host ?? HOST,
    signingPort: 5432,
    roles: [],
    expect: 'connect',
    query: 'SELECT 1',
    timeoutMs: 5000,
    tls: { ca: 'rds' },
    tags: {},
    ...overrides,
  };
}

const codes = (targets: ResolvedTarget[]) => lintTargets(targets).map((w) => [w.code, w.path]);

describe('lintTargets', () => {
  it('passes an RDS endpoint target', () => {
    expect(lintTargets([target()])).toEqual([]);
  });

  it.each([
    ['a CNAME', 'db.internal.example.com'],
    ['an IP address', '10.0.0.12'],
    ['localhost (a tunnel)', 'localhost'],
    ['a proxy', 'pgbouncer.internal'],
  ])('warns about %s without signingHost', (_what, host) => {
    expect(codes([target({ host })])).toEqual([['NOT_AN_RDS_ENDPOINT', 'targets[0].host']]);
  });

  it('accepts a tunnel that signs for the endpoint', () => {
    expect(lintTargets([target({ host: 'localhost', signingHost: HOST })])).toEqual([]);
  });

  it('warns about a signingHost that is not an RDS endpoint', () => {
    expect(codes([target({ signingHost: '10.0.0.12' })])).toEqual([
      ['NOT_AN_RDS_ENDPOINT', 'targets[0].signingHost'],
    ]);
  });

  it('warns about a region the host name disagrees with', () => {
    const [warning] = lintTargets([target({ region: 'us-east-1' })]);

    expect(warning).toMatchObject({
      code: 'REGION_DISAGREES_WITH_HOST',
      path: 'targets[0].region',
    });
    expect(warning!.fix).toContain('eu-west-1');
  });

  it('warns about a port in the host', () => {
    expect(codes([target({ host: `${HOST}:5432`, signingHost: HOST })])).toEqual([
      ['PORT_IN_HOST', 'targets[0].host'],
    ]);
  });

  it('warns about capitals in the user name', () => {
    expect(codes([target({ user: 'Canary_IAM' })])).toEqual([['USER_CASE', 'targets[0].user']]);
  });

  it('warns about a reject target with no role, at its index', () => {
    expect(codes([target(), target({ name: 'guard', expect: 'reject' })])).toEqual([
      ['REJECT_WITHOUT_ROLE', 'targets[1].roles'],
    ]);
  });
});
