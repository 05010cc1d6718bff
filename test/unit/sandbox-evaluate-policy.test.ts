import { describe, expect, it } from 'vitest';
import { evaluatePolicy, wildcardMatch } from '#sandbox/daemon/evaluate-policy.ts';
import type { PolicyStatement } from '#sandbox/fixture-schema.ts';

const DB_ARN = 'arn:aws:rds-db:eu-west-1:111111111111:dbuser:db-ABC/canary_iam';
const ROLE_ARN = 'arn:aws:iam::222222222222:role/rds-connect';
const HUB = 'arn:aws:iam::111111111111:role/canary-hub';
const HUB_SESSION = 'arn:aws:sts::111111111111:assumed-role/canary-hub/s';

const allowConnect: PolicyStatement = {
  Sid: 'connect',
  Effect: 'Allow',
  Action: 'rds-db:connect',
  Resource: DB_ARN,
};

function connect(resource = DB_ARN) {
  return { action: 'rds-db:connect', resource };
}

describe('evaluatePolicy', () => {
  it('allows a matching statement and returns it', () => {
    const result = evaluatePolicy([allowConnect], connect());

    expect(result.decision).toBe('allowed');
    expect(result.matched.map((s) => s.Sid)).toEqual(['connect']);
  });

  it('denies implicitly when nothing matches', () => {
    expect(evaluatePolicy([allowConnect], connect(`${DB_ARN}x`))).toEqual({
      decision: 'implicitDeny',
      matched: [],
    });
  });

  it('lets an explicit Deny win over any Allow', () => {
    const deny: PolicyStatement = { Sid: 'no', Effect: 'Deny', Action: 'rds-db:*', Resource: '*' };

    const result = evaluatePolicy([allowConnect, deny], connect());

    expect(result.decision).toBe('explicitDeny');
    expect(result.matched.map((s) => s.Sid)).toEqual(['no']);
  });

  it('takes Action and Resource as lists', () => {
    const statement: PolicyStatement = {
      Effect: 'Allow',
      Action: ['sts:AssumeRole', 'rds-db:connect'],
      Resource: ['arn:other', DB_ARN],
    };

    expect(evaluatePolicy([statement], connect()).decision).toBe('allowed');
  });

  it('matches actions case-insensitively and resources case-sensitively', () => {
    const upper: PolicyStatement = { Effect: 'Allow', Action: 'RDS-DB:Connect', Resource: DB_ARN };
    const wrongCase: PolicyStatement = {
      Effect: 'Allow',
      Action: 'rds-db:connect',
      Resource: DB_ARN.replace('canary_iam', 'CANARY_IAM'),
    };

    expect(evaluatePolicy([upper], connect()).decision).toBe('allowed');
    expect(evaluatePolicy([wrongCase], connect()).decision).toBe('implicitDeny');
  });

  it('understands * and ? wildcards', () => {
    expect(wildcardMatch('arn:aws:rds-db:*:*:dbuser:*/canary_iam', DB_ARN, false)).toBe(true);
    expect(wildcardMatch('arn:aws:rds-db:eu-west-?:*', DB_ARN, false)).toBe(true);
    expect(wildcardMatch('arn:aws:rds-db:eu-west-??:*', DB_ARN, false)).toBe(false);
    expect(wildcardMatch('rds-db:*', 'RDS-DB:connect', true)).toBe(true);
    expect(wildcardMatch('arn:aws:rds-db:eu.west-1:*', DB_ARN, false)).toBe(false);
  });

  describe('Principal (resource policies)', () => {
    const trust = (AWS: string | string[]): PolicyStatement => ({
      Effect: 'Allow',
      Principal: { AWS },
      Action: 'sts:AssumeRole',
    });
    const assume = (arns: string[], account: string) => ({
      action: 'sts:AssumeRole',
      resource: ROLE_ARN,
      principal: { arns, account },
    });

    it('matches a principal named by its ARN', () => {
      expect(
        evaluatePolicy([trust(HUB)], assume([HUB_SESSION, HUB], '111111111111')).decision,
      ).toBe('allowed');
    });

    it('matches any principal of an account named by root or by its id', () => {
      const caller = assume(['arn:aws:iam::111111111111:user/x'], '111111111111');

      expect(evaluatePolicy([trust('arn:aws:iam::111111111111:root')], caller).decision).toBe(
        'allowed',
      );
      expect(evaluatePolicy([trust('111111111111')], caller).decision).toBe('allowed');
      expect(evaluatePolicy([trust('arn:aws:iam::333333333333:root')], caller).decision).toBe(
        'implicitDeny',
      );
    });

    it('never matches a statement with a Principal when the request has none', () => {
      expect(
        evaluatePolicy([trust('*')], { action: 'sts:AssumeRole', resource: ROLE_ARN }).decision,
      ).toBe('implicitDeny');
    });
  });

  describe('Condition', () => {
    const withCondition = (Condition: PolicyStatement['Condition']): PolicyStatement => ({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Condition,
    });
    const request = (context: Record<string, string>) => ({
      action: 'sts:AssumeRole',
      resource: ROLE_ARN,
      context,
    });

    it('requires the exact sts:ExternalId with StringEquals', () => {
      const statement = withCondition({ StringEquals: { 'sts:ExternalId': 'canary-7f3a' } });

      expect(
        evaluatePolicy([statement], request({ 'sts:ExternalId': 'canary-7f3a' })).decision,
      ).toBe('allowed');
      expect(
        evaluatePolicy([statement], request({ 'sts:ExternalId': 'CANARY-7F3A' })).decision,
      ).toBe('implicitDeny');
      expect(evaluatePolicy([statement], request({})).decision).toBe('implicitDeny');
    });

    it('reads condition keys case-insensitively', () => {
      const statement = withCondition({ StringEquals: { 'STS:externalid': 'x1' } });

      expect(evaluatePolicy([statement], request({ 'sts:ExternalId': 'x1' })).decision).toBe(
        'allowed',
      );
    });

    it('matches aws:PrincipalTag with StringLike wildcards', () => {
      const statement = withCondition({ StringLike: { 'aws:PrincipalTag/team': 'db-*' } });

      expect(
        evaluatePolicy([statement], request({ 'aws:PrincipalTag/team': 'db-core' })).decision,
      ).toBe('allowed');
      expect(
        evaluatePolicy([statement], request({ 'aws:PrincipalTag/team': 'web' })).decision,
      ).toBe('implicitDeny');
    });

    it('holds StringNotEquals when the key differs or is absent', () => {
      const statement = withCondition({ StringNotEquals: { 'aws:RequestTag/env': 'prod' } });

      expect(evaluatePolicy([statement], request({ 'aws:RequestTag/env': 'dev' })).decision).toBe(
        'allowed',
      );
      expect(evaluatePolicy([statement], request({})).decision).toBe('allowed');
      expect(evaluatePolicy([statement], request({ 'aws:RequestTag/env': 'prod' })).decision).toBe(
        'implicitDeny',
      );
    });

    it('accepts any of a list of values and requires every key and operator', () => {
      const statement = withCondition({
        StringEquals: { 'sts:ExternalId': ['a1', 'b2'] },
        StringLike: { 'aws:RequestTag/target': '*' },
      });

      expect(
        evaluatePolicy(
          [statement],
          request({ 'sts:ExternalId': 'b2', 'aws:RequestTag/target': 't' }),
        ).decision,
      ).toBe('allowed');
      expect(evaluatePolicy([statement], request({ 'sts:ExternalId': 'b2' })).decision).toBe(
        'implicitDeny',
      );
    });

    it('applies a conditional Deny only when its condition holds', () => {
      const deny: PolicyStatement = {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:PrincipalTag/blocked': 'true' } },
      };
      const allow: PolicyStatement = { Effect: 'Allow', Action: '*', Resource: '*' };

      expect(
        evaluatePolicy([allow, deny], request({ 'aws:PrincipalTag/blocked': 'true' })).decision,
      ).toBe('explicitDeny');
      expect(evaluatePolicy([allow, deny], request({})).decision).toBe('allowed');
    });

    it('never lets an unknown operator grant', () => {
      const statement = withCondition({ NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } });

      expect(
        evaluatePolicy([statement], request({ 'aws:MultiFactorAuthAge': '10' })).decision,
      ).toBe('implicitDeny');
    });
  });
});
