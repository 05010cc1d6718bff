import { authorizePrincipal } from '../authorize.ts';
import { AwsError } from '../aws-errors.ts';
import { accountOfArn } from '../principal.ts';
import type { ServiceContext } from './service.ts';

/**
 * Refuses a call the caller's own policies do not allow, as AWS's front end does before
 * the service looks at its parameters: the organization deny list, the identity policies
 * and the permissions boundary, with AWS's wording of why. Resources of another account
 * are refused: the sandbox's RDS, IAM and Logs resources have no resource policies.
 */

export interface DeniedShape {
  /** The error code on the wire: `AccessDenied` (query), `AccessDeniedException` (JSON). */
  code: string;
  status: number;
}

const QUERY_ACCESS_DENIED: DeniedShape = { code: 'AccessDenied', status: 403 };

export function requirePermission(
  context: ServiceContext,
  action: string,
  resource: string,
  shape: DeniedShape = QUERY_ACCESS_DENIED,
): void {
  const caller = context.caller.principal;
  const denied = (why: string) =>
    new AwsError(
      shape.code,
      shape.status,
      `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`,
      { jsonType: shape.code },
    );

  const authz = authorizePrincipal(context.world, caller, action, resource);
  switch (authz.outcome) {
    case 'orgDeny':
      throw denied('with an explicit deny in a service control policy');
    case 'explicitDeny':
      throw denied('with an explicit deny in an identity-based policy');
    case 'implicitDeny':
      throw denied(`because no identity-based policy allows the ${action} action`);
    case 'boundaryDeny':
      throw denied(`because no permissions boundary allows the ${action} action`);
  }

  const account = accountOfArn(resource);
  if (account !== '' && account !== caller.account) {
    throw denied(`because no resource-based policy allows the ${action} action`);
  }
}
