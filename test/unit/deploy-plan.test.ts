import { describe, expect, it } from 'vitest';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { logicalIdPart, rejectionQuery } from '../../scripts/deploy/alarms.ts';
import { alarmPeriod } from '../../scripts/deploy/deploy-plan.ts';
import { buildRoleStatements, dbUserArns } from '../../scripts/deploy/least-privilege.ts';

function target(name: string, extra: Partial<ResolvedTarget> = {}): ResolvedTarget {
  return {
    name,
    engine: 'postgres',
    host: `${name}.example.com`,
    port: 5432,
    user: 'canary_iam',
    region: 'eu-west-1',
    signingHost: `${name}.example.com`,
    signingPort: 5432,
    roles: [],
    expect: 'connect',
    query: 'SELECT 1',
    timeoutMs: 1000,
    tls: { ca: 'rds' },
    tags: {},
    resourceId: 'db-ABC',
    ...extra,
  };
}

const HUB = 'arn:aws:iam::111111111111:role/hub';

describe('least privilege from the config', () => {
  it('grants each dbuser ARN once, sorted, and never a reject guard', () => {
    const arns = dbUserArns([
      target('b', { resourceId: 'db-B' }),
      target('a', { resourceId: 'db-A', accountId: '222222222222' }),
      target('a-again', { resourceId: 'db-A', accountId: '222222222222' }),
      target('guard', { resourceId: 'db-A', user: 'readonly', expect: 'reject' }),
      target('via-role', { resourceId: undefined, roles: [{ arn: HUB }] }),
    ]);

    expect(arns.map((a) => (a as { 'Fn::Sub': string })['Fn::Sub'])).toEqual([
      `arn:\${AWS::Partition}:rds-db:eu-west-1:\${AWS::AccountId}:dbuser:db-B/canary_iam`,
      `arn:\${AWS::Partition}:rds-db:eu-west-1:222222222222:dbuser:db-A/canary_iam`,
    ]);
  });

  it('refuses a target without roles or resourceId, naming it by index', () => {
    const targets = [target('ok'), target('missing', { resourceId: undefined })];

    expect(() => dbUserArns(targets)).toThrowError(
      expect.objectContaining({ code: 'INVALID_INPUT', path: 'targets[1].resourceId' }),
    );
  });

  it('grants AssumeRole on first hops only, TagSession only where the first hop tags', () => {
    const statements = buildRoleStatements(
      [
        target('x', {
          roles: [
            { arn: HUB },
            { arn: 'arn:aws:iam::222222222222:role/second', sessionTags: { a: 'b' } },
          ],
        }),
        target('y', { roles: [{ arn: HUB, sessionTags: { team: 'y' } }] }),
      ],
      { functionName: 'fn' },
    );

    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(bySid.AssumeFirstHopRoles?.Resource).toEqual([HUB]);
    expect(bySid.TagFirstHopSessions?.Resource).toEqual([HUB]);
    expect(bySid.ConnectAsDatabaseUsers).toBeUndefined();
    expect(bySid.PutCanaryMetrics).toBeUndefined();
    expect(bySid.PublishAlerts).toBeUndefined();
  });
});

describe('alarms from the config', () => {
  it('derives the period from a rate schedule, or takes the one given', () => {
    expect(alarmPeriod('auto', 'rate(5 minutes)')).toBe(300);
    expect(alarmPeriod('', 'rate(1 hour)')).toBe(3600);
    expect(alarmPeriod(600, 'cron(0/10 * * * ? *)')).toBe(600);
    expect(() => alarmPeriod('auto', 'cron(0/10 * * * ? *)')).toThrowError(
      expect.objectContaining({ path: 'alarmPeriodSeconds' }),
    );
    expect(() => alarmPeriod(90, 'rate(5 minutes)')).toThrowError(
      expect.objectContaining({ path: 'alarmPeriodSeconds' }),
    );
  });

  it('keeps logical ids distinct for names that differ only in punctuation', () => {
    expect(logicalIdPart('a-b')).not.toBe(logicalIdPart('a.b'));
    expect(logicalIdPart('a-b')).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('leaves reject guards out of the any-rejection query', () => {
    const query = rejectionQuery([target('a'), target('g', { expect: 'reject' })], 'Ns');

    expect(query).toBe(`SELECT SUM(AuthRejected) FROM SCHEMA("Ns", Target) WHERE Target != 'g'`);
  });
});
