/**
 * The optional diagnosis look-ups (shared/diagnose/aws-evidence.ts) as IAM statements,
 * scoped to the targets in the config. The diagnosis makes them with the function's own
 * credentials, so they land in the region the endpoint name gives and are granted in the
 * target's `accountId` or, left out, the deploying account:
 *
 * - `rds:DescribeDBInstances` / `DescribeDBClusters` / `DescribeDBProxies` on the instance,
 *   cluster or proxy the host (or `signingHost`) names;
 * - `iam:SimulatePrincipalPolicy` on the principals the function signs tokens as: its own
 *   role (targets without roles) and the last role of each chain. IAM simulates only
 *   principals of the caller's own account, so a role in another account stays inert here;
 * - `logs:FilterLogEvents` on each instance's or cluster's `iam-db-auth-error` log group.
 *
 * Resource types: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
 * (db*, cluster*, proxy*), .../list_awsidentityandaccessmanagementiam.html (role) and
 * .../list_amazoncloudwatchlogs.html (log-group*). None of the five needs a `*` resource.
 */
import { parseRdsEndpoint } from '#shared/diagnose/rds-endpoint.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { type CfnValue, type PolicyStatement, pseudo } from './least-privilege.ts';

/**
 * The diagnosis statements of one function's role, `roleName` being that role's own name.
 * Targets whose host and `signingHost` are not RDS endpoint names get no RDS or logs grant
 * (the diagnosis skips those look-ups for them).
 *
 * @example diagnosisStatements(config.targets, 'rds-iam-canary-prod-eu-west-1-canary')
 */
export function diagnosisStatements(
  targets: ResolvedTarget[],
  roleName: string,
): PolicyStatement[] {
  const instances = new Set<string>();
  const clusters = new Set<string>();
  const proxies = new Set<string>();
  const logGroups = new Set<string>();

  for (const target of targets) {
    // The same name the diagnosis reads (aws-evidence.ts: host, else signingHost).
    const named = parseRdsEndpoint(target.host) ?? parseRdsEndpoint(target.signingHost);
    if (!named) continue;

    const account = target.accountId ?? pseudo('AccountId');
    const rds = `arn:${pseudo('Partition')}:rds:${named.region}:${account}`;
    if (named.kind === 'instance') instances.add(`${rds}:db:${named.identifier}`);
    if (named.kind === 'cluster') clusters.add(`${rds}:cluster:${named.identifier}`);
    if (named.kind === 'proxy') {
      // A proxy's ARN names its generated id (prx-...), which the host name does not tell:
      // the target's resourceId when it is that id, else any proxy of that region and
      // account (DescribeDBProxies still takes the proxy resource type, never '*').
      const id = target.resourceId?.startsWith('prx-') ? target.resourceId : '*';
      proxies.add(`${rds}:db-proxy:${id}`);
      continue;
    }

    const group = `arn:${pseudo('Partition')}:logs:${named.region}:${account}:log-group:/aws/rds/${named.kind}/${named.identifier}/iam-db-auth-error`;
    // The group's ARN and its `:*` form (the form DescribeLogGroups returns), so the grant
    // matches however CloudWatch Logs names the group it authorizes.
    logGroups.add(group);
    logGroups.add(`${group}:*`);
  }

  const principals = signingPrincipals(targets, roleName);
  const statements: PolicyStatement[] = [];
  const add = (Sid: string, action: string, arns: Set<string>) => {
    const resources = [...compact(arns)].sort().map((arn): CfnValue => ({ 'Fn::Sub': arn }));
    if (resources.length > 0) {
      statements.push({ Sid, Effect: 'Allow', Action: [action], Resource: resources });
    }
  };

  add('DiagnoseDescribeInstances', 'rds:DescribeDBInstances', instances);
  add('DiagnoseDescribeClusters', 'rds:DescribeDBClusters', clusters);
  add('DiagnoseDescribeProxies', 'rds:DescribeDBProxies', proxies);
  if (principals.length > 0) {
    statements.push({
      Sid: 'DiagnoseSimulateSigningPrincipals',
      Effect: 'Allow',
      Action: ['iam:SimulatePrincipalPolicy'],
      Resource: principals,
    });
  }
  add('DiagnoseReadAuthErrorLogs', 'logs:FilterLogEvents', logGroups);
  return statements;
}

/**
 * Past this many ARNs of one kind, each is widened to its region and account (`db:*`,
 * `/aws/rds/instance/*` log groups): an inline role policy holds at most 10,240 characters,
 * and these actions only read. Below it, every grant names its database.
 */
const EXACT_ARNS_LIMIT = 16;

function compact(arns: Set<string>): Set<string> {
  if (arns.size <= EXACT_ARNS_LIMIT) return arns;
  return new Set(
    [...arns].map((arn) =>
      arn.includes(':log-group:')
        ? arn.replace(/(:log-group:\/aws\/rds\/[a-z]+\/)[^/]+(\/iam-db-auth-error)/, '$1*$2')
        : arn.replace(/:(db|cluster|db-proxy):[^:]+$/, ':$1:*'),
    ),
  );
}

/**
 * Who signs the tokens: the function's own role for targets without roles, the last role of
 * each chain otherwise (the diagnosis simulates the role behind the signing session).
 */
function signingPrincipals(targets: ResolvedTarget[], roleName: string): CfnValue[] {
  const own = targets.some((t) => t.roles.length === 0)
    ? [
        {
          'Fn::Sub': `arn:${pseudo('Partition')}:iam::${pseudo('AccountId')}:role/${roleName}`,
        },
      ]
    : [];
  const lastHops = [...new Set(targets.flatMap((t) => t.roles.slice(-1).map((r) => r.arn)))];
  return [...own, ...lastHops.sort()];
}
