/**
 * What an RDS endpoint host name says: whether it is one, its region, its identifier and
 * kind. RDS accepts a token only when it was signed for the endpoint's own name, so a CNAME,
 * a proxy in front, an IP address or a tunnel needs `signingHost`.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Endpoints.html
 */
import { isIP } from 'node:net';

export interface RdsEndpointName {
  kind: 'instance' | 'cluster' | 'proxy';
  /** The DB instance / cluster / proxy identifier (the first label). */
  identifier: string;
  region: string;
}

const RDS_NAME =
  /^([a-z0-9-]+)\.((?:endpoint\.)?(?:proxy-|cluster-(?:ro-|custom-)?)?)[a-z0-9]+\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.rds\.amazonaws\.com(?:\.cn)?$/;

/**
 * Reads an RDS endpoint name, or returns undefined when `host` is not one.
 *
 * @example parseRdsEndpoint('orders.cluster-c1a2.eu-west-1.rds.amazonaws.com')
 * // { kind: 'cluster', identifier: 'orders', region: 'eu-west-1' }
 */
export function parseRdsEndpoint(host: string): RdsEndpointName | undefined {
  const match = RDS_NAME.exec(host.toLowerCase().replace(/\.$/, ''));
  if (!match) return undefined;
  const middle = match[2]!;
  const kind = middle.includes('proxy-')
    ? 'proxy'
    : middle.startsWith('cluster-')
      ? 'cluster'
      : 'instance';
  return { kind, identifier: match[1]!, region: match[3]! };
}

/** How a host that is not an RDS endpoint name looks, for messages. */
export function describeNonRdsHost(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.startsWith('127.') || bare === '::1') {
    return 'a loopback address (a tunnel or local forward)';
  }
  if (isIP(bare)) return 'an IP address';
  if (/\.proxy\b|^proxy|pgbouncer|haproxy/i.test(bare)) return 'a proxy host name';
  return 'not an RDS endpoint name (a CNAME or another alias)';
}
