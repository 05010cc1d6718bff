import type { PolicyStatement } from '#sandbox/fixture-schema.ts';
import { evaluatePolicy, type PolicyRequest } from './evaluate-policy.ts';
import { type Principal, principalArns } from './principal.ts';
import type { World } from './world.ts';

/**
 * Whether a principal's own side allows an action: the organization deny list (as an
 * SCP), the principal's identity policies and its permissions boundary, in IAM's order.
 * Resource policies (a role's trust policy) are evaluated by their callers.
 */

export type AuthorizationOutcome =
  | 'allowed'
  /** The organization deny list matched. */
  | 'orgDeny'
  /** A Deny in the identity policies or the boundary matched. */
  | 'explicitDeny'
  /** No identity policy allows it. */
  | 'implicitDeny'
  /** A boundary is set and does not allow it. */
  | 'boundaryDeny';

export interface Authorization {
  outcome: AuthorizationOutcome;
  /** The statements behind the outcome (the Deny that matched, or the Allows). */
  matched: PolicyStatement[];
}

export function authorizePrincipal(
  world: World,
  principal: Principal,
  action: string,
  resource: string,
  context: PolicyRequest['context'] = {},
): Authorization {
  const request: PolicyRequest = {
    action,
    resource,
    principal: { arns: principalArns(principal), account: principal.account },
    context: { ...principalContext(principal), ...context },
  };

  const org = evaluatePolicy(world.organizationDeny(), request);
  if (org.decision === 'explicitDeny') return { outcome: 'orgDeny', matched: org.matched };

  const { policies, boundary } = world.policiesOf(principal.policyArn);
  const identity = evaluatePolicy(policies, request);
  if (identity.decision === 'explicitDeny') {
    return { outcome: 'explicitDeny', matched: identity.matched };
  }
  const bounded = boundary ? evaluatePolicy(boundary, request) : undefined;
  if (bounded?.decision === 'explicitDeny') {
    return { outcome: 'explicitDeny', matched: bounded.matched };
  }

  if (identity.decision !== 'allowed') return { outcome: 'implicitDeny', matched: [] };
  if (bounded && bounded.decision !== 'allowed') return { outcome: 'boundaryDeny', matched: [] };
  return { outcome: 'allowed', matched: identity.matched };
}

/** Global condition keys that describe the caller (aws:PrincipalTag/<k>, aws:PrincipalArn). */
export function principalContext(principal: Principal): Record<string, string> {
  const context: Record<string, string> = {
    'aws:PrincipalArn': principal.policyArn,
    'aws:PrincipalAccount': principal.account,
  };
  if (principal.kind === 'role-session') {
    for (const tag of principal.tags) context[`aws:PrincipalTag/${tag.Key}`] = tag.Value;
  }
  return context;
}
