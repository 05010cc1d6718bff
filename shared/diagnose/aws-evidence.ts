/**
 * What AWS can tell about a refused IAM login, each look-up optional:
 * - rds DescribeDBInstances / DescribeDBClusters / DescribeDBProxies: IAM auth on or off, the
 *   resource id the `rds-db:connect` ARN must name, the endpoint and port;
 * - iam SimulatePrincipalPolicy for the signing principal (the role behind an assumed-role
 *   session) on the exact `rds-db:connect` ARN: decision, matched statements, boundary and
 *   organizations decisions;
 * - logs FilterLogEvents on the database's `iam-db-auth-error` log around the attempt.
 * A look-up the canary may not make (AccessDenied) is skipped with a note naming the
 * permission that would sharpen the diagnosis. Every call is one attempt, bounded by `signal`.
 */
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { CredentialsProvider } from '#shared/credentials/assume-role-chain.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import type { DescribedEndpoint } from './compare-token.ts';
import { parseRdsEndpoint, type RdsEndpointName } from './rds-endpoint.ts';

/** The database as RDS describes it. */
export interface DescribedDatabase extends DescribedEndpoint {
  kind: RdsEndpointName['kind'];
  identifier: string;
  /** DbiResourceId / DbClusterResourceId / the proxy's prx- id. */
  resourceId: string;
  accountId: string;
  /** Undefined for proxies (they have no such flag; IAM auth is per proxy auth setting). */
  iamAuthEnabled: boolean | undefined;
}

export interface PolicySimulation {
  /** The principal simulated (a user or role ARN). */
  policySourceArn: string;
  resourceArn: string;
  decision: 'allowed' | 'explicitDeny' | 'implicitDeny';
  /** Where each matched statement lives (`role/rds-connect` line 1, ...). */
  matchedStatements: string[];
  /** False when the permissions boundary does not allow it; undefined without a boundary. */
  allowedByBoundary: boolean | undefined;
  /** False when an organization policy (SCP) denies it. */
  allowedByOrganizations: boolean | undefined;
}

export interface AwsEvidence {
  database?: DescribedDatabase;
  /** The simulation on the ARN that would work. */
  simulation?: PolicySimulation;
  /**
   * The simulation on the ARN naming the identifier instead of the resource id (field case
   * F5): allowed means the policy names the wrong thing.
   */
  identifierSimulation?: PolicySimulation;
  /** The server's own messages for this user around the attempt, newest last. */
  authErrors?: string[];
  /** Look-ups skipped or failed, each naming the permission or reason. */
  notes: string[];
}

export interface AwsEvidenceRequest {
  target: ResolvedTarget;
  /** ARN of the principal that signed the token, when known. */
  principal: string | null;
  /** Left out: the SDK's default credential chain. */
  credentials?: CredentialsProvider;
  signal: AbortSignal;
  /** The auth-error log is searched from here (epoch ms) to `until`. */
  since: number;
  until: number;
}

type RdsSdk = typeof import('@aws-sdk/client-rds');
type IamSdk = typeof import('@aws-sdk/client-iam');
type LogsSdk = typeof import('@aws-sdk/client-cloudwatch-logs');

/** The three SDK clients' classes, loaded on the first diagnosis only (a passing round never pays). */
interface Sdk {
  rds: RdsSdk;
  iam: IamSdk;
  logs: LogsSdk;
}

let loading: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  loading ??= Promise.all([
    import('@aws-sdk/client-rds'),
    import('@aws-sdk/client-iam'),
    import('@aws-sdk/client-cloudwatch-logs'),
  ]).then(([rds, iam, logs]) => ({
    rds: namedExports(rds, 'RDSClient'),
    iam: namedExports(iam, 'IAMClient'),
    logs: namedExports(logs, 'CloudWatchLogsClient'),
  }));
  // A failed load is not kept: the next diagnosis tries again.
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/**
 * The SDK's CommonJS build assigns its exports in a way esbuild cannot see, so in a bundle a
 * dynamic import yields only `default` (Node's own loader finds the names). Take either.
 */
function namedExports<T extends object>(module: T, probe: string): T {
  if (probe in module) return module;
  return (module as { default?: T }).default ?? module;
}

/** One attempt per call, and a hung endpoint never holds the diagnosis. */
const CLIENT_SETTINGS = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 1000, requestTimeout: 1800 },
};

/**
 * Asks what it may and returns what it learned, with notes for what it could not. Never throws.
 *
 * @example const evidence = await gatherAwsEvidence({ target, principal, signal, since, until });
 */
export async function gatherAwsEvidence(request: AwsEvidenceRequest): Promise<AwsEvidence> {
  const { target, signal } = request;
  const notes: string[] = [];
  const named = parseRdsEndpoint(target.host) ?? parseRdsEndpoint(target.signingHost);
  const region = named?.region ?? target.region;
  const settings = {
    region,
    ...CLIENT_SETTINGS,
    ...(request.credentials ? { credentials: request.credentials } : {}),
  };

  if (!named) {
    notes.push(
      `RDS look-ups skipped: neither ${target.host} nor ${target.signingHost} is an RDS endpoint name`,
    );
  }

  let sdk: Sdk;
  try {
    sdk = await loadSdk();
  } catch {
    notes.push(
      'AWS look-ups skipped: @aws-sdk/client-rds, client-iam or client-cloudwatch-logs is not installed',
    );
    return { notes };
  }
  const rds = new sdk.rds.RDSClient(settings);
  const iam = new sdk.iam.IAMClient(settings);
  const logs = new sdk.logs.CloudWatchLogsClient(settings);
  try {
    const [database, authErrors] = await Promise.all([
      named ? describeDatabase(sdk, rds, named, signal, notes) : undefined,
      named ? readAuthErrors(sdk, logs, named, request, notes) : undefined,
    ]);

    const evidence: AwsEvidence = { notes };
    if (database) evidence.database = database;
    if (authErrors) evidence.authErrors = authErrors;

    const resourceId = database?.resourceId ?? target.resourceId;
    const accountId = database?.accountId ?? target.accountId ?? accountOf(request.principal);
    const source = policySourceOf(request.principal);
    if (!source) {
      notes.push('policy simulation skipped: the signing principal is not known');
    } else if (!resourceId || !accountId) {
      notes.push(
        'policy simulation skipped: the resource id is not known (allow rds:DescribeDBInstances, or set resourceId on the target)',
      );
    } else {
      const arn = (id: string) =>
        `arn:aws:rds-db:${region}:${accountId}:dbuser:${id}/${target.user}`;
      const identifier = database?.identifier ?? named?.identifier;
      const [simulation, identifierSimulation] = await Promise.all([
        simulate(sdk, iam, source, arn(resourceId), signal, notes),
        identifier && identifier !== resourceId
          ? simulate(sdk, iam, source, arn(identifier), signal, [])
          : undefined,
      ]);
      if (simulation) evidence.simulation = simulation;
      if (identifierSimulation) evidence.identifierSimulation = identifierSimulation;
    }
    return evidence;
  } finally {
    rds.destroy();
    iam.destroy();
    logs.destroy();
  }
}

async function describeDatabase(
  sdk: Sdk,
  rds: RDSClient,
  named: RdsEndpointName,
  signal: AbortSignal,
  notes: string[],
): Promise<DescribedDatabase | undefined> {
  try {
    if (named.kind === 'instance') {
      const out = await rds.send(
        new sdk.rds.DescribeDBInstancesCommand({ DBInstanceIdentifier: named.identifier }),
        { abortSignal: signal },
      );
      const db = out.DBInstances?.[0];
      if (!db?.Endpoint?.Address || !db.DbiResourceId) return undefined;
      return {
        kind: 'instance',
        identifier: db.DBInstanceIdentifier ?? named.identifier,
        resourceId: db.DbiResourceId,
        accountId: accountOf(db.DBInstanceArn ?? null) ?? '',
        iamAuthEnabled: db.IAMDatabaseAuthenticationEnabled,
        addresses: [db.Endpoint.Address],
        port: db.Endpoint.Port ?? 0,
        region: regionOf(db.DBInstanceArn) ?? named.region,
      };
    }
    if (named.kind === 'cluster') {
      const out = await rds.send(
        new sdk.rds.DescribeDBClustersCommand({ DBClusterIdentifier: named.identifier }),
        { abortSignal: signal },
      );
      const db = out.DBClusters?.[0];
      if (!db?.Endpoint || !db.DbClusterResourceId) return undefined;
      return {
        kind: 'cluster',
        identifier: db.DBClusterIdentifier ?? named.identifier,
        resourceId: db.DbClusterResourceId,
        accountId: accountOf(db.DBClusterArn ?? null) ?? '',
        iamAuthEnabled: db.IAMDatabaseAuthenticationEnabled,
        addresses: [
          db.Endpoint,
          ...(db.ReaderEndpoint ? [db.ReaderEndpoint] : []),
          ...(db.CustomEndpoints ?? []),
        ],
        port: db.Port ?? 0,
        region: regionOf(db.DBClusterArn) ?? named.region,
      };
    }
    const out = await rds.send(
      new sdk.rds.DescribeDBProxiesCommand({ DBProxyName: named.identifier }),
      {
        abortSignal: signal,
      },
    );
    const proxy = out.DBProxies?.[0];
    const proxyId = proxy?.DBProxyArn?.split(':').at(-1);
    if (!proxy?.Endpoint || !proxyId) return undefined;
    return {
      kind: 'proxy',
      identifier: proxy.DBProxyName ?? named.identifier,
      resourceId: proxyId,
      accountId: accountOf(proxy.DBProxyArn ?? null) ?? '',
      iamAuthEnabled: undefined,
      addresses: [proxy.Endpoint],
      port: proxy.EngineFamily === 'MYSQL' ? 3306 : 5432,
      region: regionOf(proxy.DBProxyArn) ?? named.region,
    };
  } catch (error) {
    const action = {
      instance: 'DescribeDBInstances',
      cluster: 'DescribeDBClusters',
      proxy: 'DescribeDBProxies',
    }[named.kind];
    notes.push(describeFailure(error, `rds:${action}`, named.identifier));
    return undefined;
  }
}

async function simulate(
  sdk: Sdk,
  iam: IAMClient,
  policySourceArn: string,
  resourceArn: string,
  signal: AbortSignal,
  notes: string[],
): Promise<PolicySimulation | undefined> {
  try {
    const out = await iam.send(
      new sdk.iam.SimulatePrincipalPolicyCommand({
        PolicySourceArn: policySourceArn,
        ActionNames: ['rds-db:connect'],
        ResourceArns: [resourceArn],
      }),
      { abortSignal: signal },
    );
    const result = out.EvaluationResults?.[0];
    if (!result?.EvalDecision) return undefined;
    return {
      policySourceArn,
      resourceArn,
      decision: result.EvalDecision as PolicySimulation['decision'],
      matchedStatements: (result.MatchedStatements ?? []).map(
        (s) =>
          `${s.SourcePolicyId ?? '?'}${s.StartPosition?.Line ? ` line ${s.StartPosition.Line}` : ''}`,
      ),
      allowedByBoundary: result.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary,
      allowedByOrganizations: result.OrganizationsDecisionDetail?.AllowedByOrganizations,
    };
  } catch (error) {
    notes.push(describeFailure(error, 'iam:SimulatePrincipalPolicy', policySourceArn));
    return undefined;
  }
}

async function readAuthErrors(
  sdk: Sdk,
  logs: CloudWatchLogsClient,
  named: RdsEndpointName,
  request: AwsEvidenceRequest,
  notes: string[],
): Promise<string[] | undefined> {
  const kind = named.kind === 'cluster' ? 'cluster' : 'instance';
  if (named.kind === 'proxy') return undefined;
  const logGroupName = `/aws/rds/${kind}/${named.identifier}/iam-db-auth-error`;
  try {
    const out = await logs.send(
      new sdk.logs.FilterLogEventsCommand({
        logGroupName,
        startTime: Math.floor(request.since),
        endTime: Math.ceil(request.until),
        // Only this user's lines: RDS quotes the user name in each one.
        filterPattern: `"user '${request.target.user}'"`,
        limit: 50,
      }),
      { abortSignal: request.signal },
    );
    return (out.events ?? []).map((e) => e.message ?? '').filter((m) => m !== '');
  } catch (error) {
    notes.push(describeFailure(error, 'logs:FilterLogEvents', logGroupName));
    return undefined;
  }
}

/** A note for a look-up that did not answer: the permission to grant, or what went wrong. */
function describeFailure(error: unknown, permission: string, resource: string): string {
  const name = (error as { name?: unknown } | null)?.name;
  const code = typeof name === 'string' ? name : 'Error';
  if (code === 'AccessDenied' || code === 'AccessDeniedException') {
    return `not checked: ${permission} was refused (${code}); allowing it on ${resource} would sharpen this diagnosis`;
  }
  if (code === 'AbortError' || code === 'TimeoutError') {
    return `not checked: ${permission} did not answer within the diagnosis time limit`;
  }
  return `not checked: ${permission} on ${resource} failed (${code})`;
}

/** The IAM principal to simulate: users and roles as they are, a session as its role. */
export function policySourceOf(principal: string | null): string | undefined {
  if (!principal) return undefined;
  const session = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[^/]+$/.exec(
    principal,
  );
  if (session) return `arn:${session[1]}:iam::${session[2]}:role/${session[3]}`;
  return /^arn:aws[\w-]*:iam::\d{12}:(user|role)\//.test(principal) ? principal : undefined;
}

function accountOf(arn: string | null): string | undefined {
  return arn ? /^arn:aws[\w-]*:[\w-]+:[a-z0-9-]*:(\d{12}):/.exec(arn)?.[1] : undefined;
}

function regionOf(arn: string | undefined): string | undefined {
  return arn ? /^arn:aws[\w-]*:[\w-]+:([a-z0-9-]+):/.exec(arn)?.[1] : undefined;
}
