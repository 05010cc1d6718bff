// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings, not templates
import { describe, expect, it } from 'vitest';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { diagnosisStatements } from '../../scripts/deploy/diagnosis-permissions.ts';

function target(i: number): ResolvedTarget {
  const host = `db${i}.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com`;
  return {
    name: `t${i}`,
    engine: 'postgres',
    host,
    port: 5432,
    user: 'canary_iam',
    region: 'eu-west-1',
    signingHost: host,
    signingPort: 5432,
    roles: [],
    expect: 'connect',
    query: 'SELECT 1',
    timeoutMs: 1000,
    tls: { ca: 'rds' },
    tags: {},
  };
}

function resources(statements: ReturnType<typeof diagnosisStatements>, sid: string): string[] {
  const statement = statements.find((s) => s.Sid === sid);
  if (!statement) throw new Error(`no statement ${sid}`);
  return (statement.Resource as { 'Fn::Sub': string }[]).map((r) => r['Fn::Sub']);
}

describe('diagnosisStatements', () => {
  it('names each database while there are few', () => {
    const statements = diagnosisStatements([target(1), target(2)], 'canary-role');

    expect(resources(statements, 'DiagnoseDescribeInstances')).toEqual([
      'arn:${AWS::Partition}:rds:eu-west-1:${AWS::AccountId}:db:db1',
      'arn:${AWS::Partition}:rds:eu-west-1:${AWS::AccountId}:db:db2',
    ]);
  });

  it('widens to the region and account when many databases would overflow the policy', () => {
    const many = Array.from({ length: 60 }, (_, i) => target(i));

    const statements = diagnosisStatements(many, 'canary-role');

    expect(resources(statements, 'DiagnoseDescribeInstances')).toEqual([
      'arn:${AWS::Partition}:rds:eu-west-1:${AWS::AccountId}:db:*',
    ]);
    expect(resources(statements, 'DiagnoseReadAuthErrorLogs')).toEqual([
      'arn:${AWS::Partition}:logs:eu-west-1:${AWS::AccountId}:log-group:/aws/rds/instance/*/iam-db-auth-error',
      'arn:${AWS::Partition}:logs:eu-west-1:${AWS::AccountId}:log-group:/aws/rds/instance/*/iam-db-auth-error:*',
    ]);
    expect(JSON.stringify(statements).length).toBeLessThan(2000);
  });
});
