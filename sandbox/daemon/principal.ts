/**
 * Who is behind an access key: an IAM user of the fixture or a role session that
 * AssumeRole (or the admin API) issued. Policies are looked up from the world by
 * `policyArn` (the user or role ARN), so a PATCH of a principal's policies applies to
 * sessions already issued, as IAM does.
 */

export interface SessionTag {
  Key: string;
  Value: string;
}

export interface UserPrincipal {
  kind: 'user';
  /** arn:aws:iam::<account>:user/<name> */
  arn: string;
  account: string;
  /** The ARN whose policies apply: the user's own. */
  policyArn: string;
}

export interface RoleSessionPrincipal {
  kind: 'role-session';
  /** arn:aws:sts::<account>:assumed-role/<role name>/<session name> */
  arn: string;
  account: string;
  /** arn:aws:iam::<account>:role/<name>: the ARN whose policies apply. */
  policyArn: string;
  sessionName: string;
  tags: SessionTag[];
  /** Tag keys that pass on to sessions this one assumes (role chaining). */
  transitiveTagKeys: string[];
  /** ARN of whoever called AssumeRole (a user or another role session). */
  sourcePrincipal: string;
}

export type Principal = UserPrincipal | RoleSessionPrincipal;

/** The account id inside an IAM or STS ARN. */
export function accountOfArn(arn: string): string {
  return arn.split(':')[4] ?? '';
}

/** `arn:aws:iam::1:role/path/name` to `name` (the path is not part of the session ARN). */
export function roleNameOfArn(roleArn: string): string {
  const resource = roleArn.split(':').slice(5).join(':');
  return resource.slice(resource.lastIndexOf('/') + 1);
}

export function assumedRoleArn(roleArn: string, sessionName: string): string {
  const account = accountOfArn(roleArn);
  return `arn:aws:sts::${account}:assumed-role/${roleNameOfArn(roleArn)}/${sessionName}`;
}

/** The ARNs a policy's `Principal: { AWS: ... }` may name to match this principal. */
export function principalArns(principal: Principal): string[] {
  return principal.kind === 'user' ? [principal.arn] : [principal.arn, principal.policyArn];
}
