import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// Read the template as CloudFormation does (short-form tags such as !Ref), with the
// YAML loader and schema osls uses for serverless.yml.
const requireFromOsls = createRequire(createRequire(import.meta.url).resolve('osls/package.json'));
const yaml = requireFromOsls('js-yaml') as {
  load(text: string, options: { schema: unknown }): unknown;
};
const schema = requireFromOsls('./lib/utils/serverless-utils/cloudformation-schema');

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation template JSON
type Json = any;

const template: Json = yaml.load(
  readFileSync(new URL('../../deploy/target-account-role.yaml', import.meta.url), 'utf8'),
  { schema },
);
const role = template.Resources.CanaryConnectRole.Properties;

describe('deploy/target-account-role.yaml', () => {
  it('trusts only the canary roles given, and only with the ExternalId', () => {
    const [assume] = role.AssumeRolePolicyDocument.Statement;

    expect(assume).toEqual({
      Sid: 'CanaryAssumesWithExternalId',
      Effect: 'Allow',
      Principal: { AWS: { Ref: 'CanaryRoleArns' } },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
    });
  });

  it('allows sts:TagSession only when session tags are used', () => {
    const tagging = role.AssumeRolePolicyDocument.Statement[1];

    expect(template.Conditions.SessionTags).toEqual({
      'Fn::Equals': [{ Ref: 'AllowSessionTags' }, 'true'],
    });
    expect(tagging['Fn::If'][0]).toBe('SessionTags');
    expect(tagging['Fn::If'][1]).toMatchObject({
      Action: 'sts:TagSession',
      Principal: { AWS: { Ref: 'CanaryRoleArns' } },
    });
    expect(tagging['Fn::If'][2]).toEqual({ Ref: 'AWS::NoValue' });
  });

  it('allows rds-db:connect on the given dbuser ARNs and nothing else', () => {
    const statements = role.Policies.flatMap(
      (p: { PolicyDocument: { Statement: unknown[] } }) => p.PolicyDocument.Statement,
    );

    expect(statements).toEqual([
      {
        Sid: 'ConnectAsListedUsers',
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: { Ref: 'DbUserArns' },
      },
    ]);
    expect(template.Parameters.DbUserArns.Type).toBe('CommaDelimitedList');
    expect(template.Outputs.RoleArn.Value).toEqual({ 'Fn::GetAtt': ['CanaryConnectRole', 'Arn'] });
  });
});
