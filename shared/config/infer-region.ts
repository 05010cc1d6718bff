/**
 * The region in an RDS endpoint host name, or undefined when the name is not one.
 *
 * Instance `<name>.<id>.<region>.rds.amazonaws.com`, cluster `<name>.cluster-<id>...`,
 * reader `cluster-ro-`, custom `cluster-custom-`, proxy `<name>.proxy-<id>...` and its
 * endpoints `<endpoint>.endpoint.proxy-<id>...`, and the
 * China partition (`.rds.amazonaws.com.cn`) all carry the region as the label before `rds`.
 *
 * @example inferRegionFromHost('orders.c1a2b3.eu-west-1.rds.amazonaws.com') // 'eu-west-1'
 */
export function inferRegionFromHost(host: string): string | undefined {
  const match = RDS_HOST.exec(host.toLowerCase().replace(/\.$/, ''));
  return match?.[1];
}

// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Endpoints.html
// Two labels before the region for instances, clusters and proxies; three for proxy endpoints
// (`<endpoint>.endpoint.proxy-<id>.<region>...`).
const RDS_HOST =
  /^(?:[a-z0-9-]+\.){2,3}([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.rds\.amazonaws\.com(?:\.cn)?$/;
