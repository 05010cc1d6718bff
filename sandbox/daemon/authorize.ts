import type { PolicyStatement } from '#sandbox/fixture-schema.ts';
import { evaluatePolicy, type PolicyEvaluation, type PolicyRequest } from './evaluate-policy.ts';
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
  /** Each policy set's own verdict, for the IAM policy simulator's decision details. */
  evaluations: {
    organization: PolicyEvaluation;
    identity: PolicyEvaluation;
    /** Absent when the principal has no permissions boundary. */
    boundary?: PolicyEvaluation;
  };
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

  const { policies, boundary } = world.policiesOf(principal.policyArn);
  const evaluations = {
    organization: evaluatePolicy(world.organizationDeny(), request),
    identity: evaluatePolicy(policies, request),
    boundary: boundary ? evaluatePolicy(boundary, request) : undefined,
  };
  const { organization: org, identity, boundary: bounded } = evaluations;
  const decide = (outcome: AuthorizationOutcome, matched: PolicyStatement[]) => ({
    outcome,
    matched,
    evaluations,
  });

  if (org.decision === 'explicitDeny') return decide('orgDeny', org.matched);
  if (identity.decision === 'explicitDeny') return decide('explicitDeny', identity.matched);
  if (bounded?.decision === 'explicitDeny') return decide('explicitDeny', bounded.matched);

  if (identity.decision !== 'allowed') return decide('implicitDeny', []);
  if (bounded && bounded.decision !== 'allowed') return decide('boundaryDeny', []);
  return decide('allowed', identity.matched);
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
