import type { FixtureInstance } from '#sandbox/fixture-schema.ts';
import { AwsError, awsErrors } from '../aws-errors.ts';
import { parseQueryCall, queryResponse, type XmlValue } from '../query-protocol.ts';
import { requirePermission } from './require-permission.ts';
import type { AwsService, ServiceContext } from './service.ts';

/**
 * RDS over the query protocol, the read-only calls diagnosis needs: DescribeDBInstances,
 * DescribeDBClusters and DescribeDBProxies, answered from the fixture's instances in the
 * caller's account and the request's region, as RDS shows each account its own.
 * A fixture instance whose resource id starts with `cluster-` is served as a cluster.
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html
 */

const NAMESPACE = 'http://rds.amazonaws.com/doc/2014-10-31/';

// DescribeDB*'s documented MaxRecords range.
const MIN_RECORDS = 20;
const MAX_RECORDS = 100;
// Sandbox instances look like a small single-AZ instance in the region's first zone.
const INSTANCE_CLASS = 'db.t3.micro';
const MASTER_USERNAME = 'sandbox_admin';
// Route 53 hosted zone of RDS endpoints in eu-west-1; shape only, nothing resolves it.
const HOSTED_ZONE_ID = 'Z29XKXDKYMONMX';

export const rdsService: AwsService = {
  signingName: 'rds',
  protocol: 'query',
  xmlNamespace: NAMESPACE,

  parse: parseQueryCall,

  handle(call, context) {
    const params = new Map(Object.entries(call.params as Record<string, string>));
    switch (call.action) {
      case 'DescribeDBInstances':
        return describeInstances(params, context);
      case 'DescribeDBClusters':
        return describeClusters(params, context);
      case 'DescribeDBProxies':
        return describeProxies(params, context);
      default:
        throw awsErrors.invalidAction(call.action);
    }
  },
};

function describeInstances(params: Map<string, string>, context: ServiceContext) {
  const id = params.get('DBInstanceIdentifier');
  requirePermission(context, 'rds:DescribeDBInstances', rdsArn(context, 'db', id));
  checkMaxRecords(params);

  const filters = readFilters(params, ['db-instance-id', 'dbi-resource-id', 'engine']);
  const found = visible(context, 'db').filter(
    (i) =>
      (id === undefined || sameIdentifier(i, id, 'db')) &&
      filterMatches(filters, 'db-instance-id', (v) => sameIdentifier(i, v, 'db')) &&
      filterMatches(filters, 'dbi-resource-id', (v) => v === i.resourceId) &&
      filterMatches(filters, 'engine', (v) => v === i.engine),
  );
  if (id !== undefined && found.length === 0) {
    throw new AwsError('DBInstanceNotFound', 404, `DBInstance ${id} not found.`);
  }

  return queryResponse(
    'DescribeDBInstances',
    NAMESPACE,
    { DBInstances: { DBInstance: found.map((i) => instanceXml(i, context)) } },
    context.requestId,
  );
}

function describeClusters(params: Map<string, string>, context: ServiceContext) {
  const id = params.get('DBClusterIdentifier');
  requirePermission(context, 'rds:DescribeDBClusters', rdsArn(context, 'cluster', id));
  checkMaxRecords(params);

  const filters = readFilters(params, ['db-cluster-id', 'db-cluster-resource-id', 'engine']);
  const found = visible(context, 'cluster').filter(
    (c) =>
      (id === undefined || sameIdentifier(c, id, 'cluster')) &&
      filterMatches(filters, 'db-cluster-id', (v) => sameIdentifier(c, v, 'cluster')) &&
      filterMatches(filters, 'db-cluster-resource-id', (v) => v === c.resourceId) &&
      filterMatches(filters, 'engine', (v) => v === clusterEngine(c)),
  );
  if (id !== undefined && found.length === 0) {
    throw new AwsError('DBClusterNotFoundFault', 404, `DBCluster ${id} not found.`);
  }

  return queryResponse(
    'DescribeDBClusters',
    NAMESPACE,
    { DBClusters: { DBCluster: found.map((c) => clusterXml(c, context)) } },
    context.requestId,
  );
}

function describeProxies(params: Map<string, string>, context: ServiceContext) {
  const name = params.get('DBProxyName');
  requirePermission(context, 'rds:DescribeDBProxies', rdsArn(context, 'db-proxy', name));
  checkMaxRecords(params);

  // TODO: the fixture has no proxies, so none exist; a proxy target (F2) cannot be described.
  if (name !== undefined) {
    throw new AwsError('DBProxyNotFoundFault', 404, `DBProxy ${name} not found.`);
  }
  return queryResponse('DescribeDBProxies', NAMESPACE, { DBProxies: {} }, context.requestId);
}

type Kind = 'db' | 'cluster';

/** The fixture's instances (or clusters) that the caller's account sees in this region. */
function visible(context: ServiceContext, kind: Kind): FixtureInstance[] {
  const account = context.caller.principal.account;
  return context.world.fixture.instances.filter(
    (i) => i.account === account && i.region === context.region && kindOf(i) === kind,
  );
}

function kindOf(instance: FixtureInstance): Kind {
  return instance.resourceId.startsWith('cluster-') ? 'cluster' : 'db';
}

/** RDS identifiers are case-insensitive; an ARN names the same resource. */
function sameIdentifier(instance: FixtureInstance, idOrArn: string, kind: Kind): boolean {
  const wanted = idOrArn.toLowerCase();
  const identifier = instance.identifier.toLowerCase();
  return wanted === identifier || wanted === resourceArn(instance, kind).toLowerCase();
}

function rdsArn(context: ServiceContext, type: string, id: string | undefined): string {
  if (id?.startsWith('arn:')) return id;
  const account = context.caller.principal.account;
  return `arn:aws:rds:${context.region}:${account}:${type}:${id?.toLowerCase() ?? '*'}`;
}

function resourceArn(instance: FixtureInstance, kind: Kind): string {
  const { region, account, identifier } = instance;
  return `arn:aws:rds:${region}:${account}:${kind}:${identifier.toLowerCase()}`;
}

function instanceXml(instance: FixtureInstance, context: ServiceContext): XmlValue {
  return {
    DBInstanceIdentifier: instance.identifier.toLowerCase(),
    DBInstanceClass: INSTANCE_CLASS,
    Engine: instance.engine,
    DBInstanceStatus: 'available',
    MasterUsername: MASTER_USERNAME,
    DBName: instance.databases[0],
    Endpoint: { Address: instance.host, Port: instance.port, HostedZoneId: HOSTED_ZONE_ID },
    AvailabilityZone: `${context.region}a`,
    MultiAZ: false,
    PubliclyAccessible: false,
    StorageEncrypted: true,
    DbiResourceId: instance.resourceId,
    DBInstanceArn: resourceArn(instance, 'db'),
    IAMDatabaseAuthenticationEnabled: instance.iamAuth,
    EnabledCloudwatchLogsExports: { member: ['iam-db-auth-error'] },
  };
}

function clusterXml(cluster: FixtureInstance, context: ServiceContext): XmlValue {
  return {
    DBClusterIdentifier: cluster.identifier.toLowerCase(),
    AvailabilityZones: { AvailabilityZone: [`${context.region}a`] },
    DatabaseName: cluster.databases[0],
    Status: 'available',
    Endpoint: cluster.host,
    Engine: clusterEngine(cluster),
    Port: cluster.port,
    MasterUsername: MASTER_USERNAME,
    HostedZoneId: HOSTED_ZONE_ID,
    StorageEncrypted: true,
    DbClusterResourceId: cluster.resourceId,
    DBClusterArn: resourceArn(cluster, 'cluster'),
    IAMDatabaseAuthenticationEnabled: cluster.iamAuth,
    EnabledCloudwatchLogsExports: { member: ['iam-db-auth-error'] },
  };
}

function clusterEngine(cluster: FixtureInstance): string {
  return cluster.engine === 'postgres' ? 'aurora-postgresql' : 'aurora-mysql';
}

/** `Filters.Filter.N.Name` and `Filters.Filter.N.Values.Value.M`, refusing unknown names. */
function readFilters(params: Map<string, string>, known: string[]): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  for (let n = 1; params.has(`Filters.Filter.${n}.Name`); n++) {
    const name = params.get(`Filters.Filter.${n}.Name`)!;
    if (!known.includes(name)) {
      throw new AwsError('InvalidParameterValue', 400, `Unrecognized filter name: ${name}.`);
    }
    const values: string[] = [];
    for (let m = 1; params.has(`Filters.Filter.${n}.Values.Value.${m}`); m++) {
      values.push(params.get(`Filters.Filter.${n}.Values.Value.${m}`)!);
    }
    filters.set(name, [...(filters.get(name) ?? []), ...values]);
  }
  return filters;
}

function filterMatches(
  filters: Map<string, string[]>,
  name: string,
  matches: (value: string) => boolean,
): boolean {
  const values = filters.get(name);
  return values === undefined || values.some(matches);
}

function checkMaxRecords(params: Map<string, string>): void {
  const raw = params.get('MaxRecords');
  if (raw === undefined) return;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < MIN_RECORDS || n > MAX_RECORDS) {
    throw new AwsError(
      'InvalidParameterValue',
      400,
      `Invalid value ${raw} for MaxRecords. Must be between ${MIN_RECORDS} and ${MAX_RECORDS}`,
    );
  }
}
