import type { PolicyStatement } from '#sandbox/fixture-schema.ts';
import { type Authorization, authorizePrincipal } from '../authorize.ts';
import { AwsError, awsErrors } from '../aws-errors.ts';
import type { EvalDecision } from '../evaluate-policy.ts';
import { accountOfArn, type Principal, roleNameOfArn } from '../principal.ts';
import { memberList, parseQueryCall, queryResponse, type XmlValue } from '../query-protocol.ts';
import type { World } from '../world.ts';
import { requirePermission } from './require-permission.ts';
import type { AwsService, ServiceContext } from './service.ts';

/**
 * IAM over the query protocol: SimulatePrincipalPolicy, decided by the same policy code
 * the token verifier uses (organization deny list, identity policies, boundary), so the
 * simulator and the database agree. Like AWS's simulator it evaluates the principal's own
 * policies only: a resource in another account is not refused for want of a resource
 * policy here, where the verifier refuses it.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
 *
 * MatchedStatements name the policy as `SourcePolicyId` (`user/<name>`, `role/<name>`,
 * `boundary/<user|role>/<name>`, `organization/deny`) and the statement by its 1-based
 * position in that list as `StartPosition.Line`.
 */

const NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';

const SESSION_ARN = /^arn:aws:sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/;
const USER_OR_ROLE_ARN = /^arn:aws:iam::(\d{12}):(user|role)\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;

export const iamService: AwsService = {
  signingName: 'iam',
  protocol: 'query',
  xmlNamespace: NAMESPACE,

  parse: parseQueryCall,

  handle(call, context) {
    if (call.action !== 'SimulatePrincipalPolicy') throw awsErrors.invalidAction(call.action);
    const params = new Map(Object.entries(call.params as Record<string, string>));
    return simulatePrincipalPolicy(params, context);
  },
};

interface Simulated {
  principal: Principal;
  kind: 'user' | 'role';
  name: string;
}

function simulatePrincipalPolicy(params: Map<string, string>, context: ServiceContext) {
  const sourceArn = params.get('PolicySourceArn');
  if (!sourceArn) throw invalidInput('PolicySourceArn is required.');
  const actions = memberList(params, 'ActionNames');
  if (actions.length === 0) throw invalidInput('ActionNames must name at least one action.');
  // TODO: extra policies given in the call are not evaluated; refused so that no answer
  // silently ignores them.
  for (const unsupported of [
    'PolicyInputList',
    'PermissionsBoundaryPolicyInputList',
    'ResourcePolicy',
  ]) {
    if ([...params.keys()].some((k) => k.startsWith(unsupported))) {
      throw invalidInput(`${unsupported} is not supported by the sandbox's simulator.`);
    }
  }

  const policyArn = policyArnOf(sourceArn);
  requirePermission(context, 'iam:SimulatePrincipalPolicy', policyArn);
  const simulated = findPrincipal(context.world, sourceArn, policyArn);
  const resources = memberList(params, 'ResourceArns');
  const requestContext = readContextEntries(params);

  const results: XmlValue[] = [];
  for (const action of actions) {
    for (const resource of resources.length > 0 ? resources : ['*']) {
      const authz = authorizePrincipal(
        context.world,
        simulated.principal,
        action,
        resource,
        requestContext,
      );
      results.push(evaluationResult(action, resource, authz, simulated, context.world));
    }
  }

  return queryResponse(
    'SimulatePrincipalPolicy',
    NAMESPACE,
    { EvaluationResults: { member: results }, IsTruncated: false },
    context.requestId,
  );
}

/** The user or role ARN whose policies apply: an assumed-role session maps to its role. */
function policyArnOf(sourceArn: string): string {
  const session = SESSION_ARN.exec(sourceArn);
  if (session) return `arn:aws:iam::${session[1]}:role/${session[2]}`;
  if (USER_OR_ROLE_ARN.test(sourceArn)) return sourceArn;
  throw invalidInput(`ARN ${sourceArn} is not valid.`);
}

function findPrincipal(world: World, sourceArn: string, policyArn: string): Simulated {
  const [, account, kind, name] = USER_OR_ROLE_ARN.exec(policyArn)!;
  if (kind === 'user') {
    const user = world.user(policyArn);
    if (!user) throw noSuchEntity('user', name!);
    return {
      kind: 'user',
      name: name!,
      principal: { kind: 'user', arn: user.arn, account: account!, policyArn: user.arn },
    };
  }

  // A session ARN carries the role's name without its path: find the role by name.
  const role =
    world.role(policyArn) ??
    world.fixture.roles.find(
      (r) => accountOfArn(r.arn) === account && roleNameOfArn(r.arn) === name,
    );
  if (!role) throw noSuchEntity('role', name!);
  const session = SESSION_ARN.test(sourceArn) ? sourceArn : role.arn;
  return {
    kind: 'role',
    name: name!,
    principal: {
      kind: 'role-session',
      arn: session,
      account: account!,
      policyArn: role.arn,
      sessionName: session.slice(session.lastIndexOf('/') + 1),
      tags: [],
      transitiveTagKeys: [],
      sourcePrincipal: '',
    },
  };
}

function evaluationResult(
  action: string,
  resource: string,
  authz: Authorization,
  simulated: Simulated,
  world: World,
): XmlValue {
  const { organization, identity, boundary } = authz.evaluations;
  const decision: EvalDecision =
    authz.outcome === 'allowed'
      ? 'allowed'
      : authz.outcome === 'implicitDeny' || authz.outcome === 'boundaryDeny'
        ? 'implicitDeny'
        : 'explicitDeny';

  let matched: PolicyStatement[];
  if (authz.outcome === 'allowed') matched = [...identity.matched, ...(boundary?.matched ?? [])];
  else if (authz.outcome === 'boundaryDeny') matched = identity.matched;
  else matched = authz.matched;

  return {
    EvalActionName: action,
    EvalResourceName: resource,
    EvalDecision: decision,
    MatchedStatements: { member: matched.map((s) => statementXml(s, simulated, world)) },
    MissingContextValues: {},
    OrganizationsDecisionDetail: {
      AllowedByOrganizations: organization.decision !== 'explicitDeny',
    },
    PermissionsBoundaryDecisionDetail: boundary
      ? { AllowedByPermissionsBoundary: boundary.decision === 'allowed' }
      : undefined,
  };
}

/** Where a matched statement lives: which policy list, and its 1-based place in it. */
function statementXml(statement: PolicyStatement, simulated: Simulated, world: World): XmlValue {
  const owner = `${simulated.kind}/${simulated.name}`;
  const { policies, boundary } = world.policiesOf(simulated.principal.policyArn);
  const lists: Array<[string, string, readonly PolicyStatement[]]> = [
    [owner, simulated.kind, policies],
    [`boundary/${owner}`, 'user-managed', boundary ?? []],
    ['organization/deny', 'none', world.organizationDeny()],
  ];

  for (const [id, type, list] of lists) {
    const index = list.indexOf(statement);
    if (index < 0) continue;
    const position = { Line: index + 1, Column: 1 };
    return {
      SourcePolicyId: id,
      SourcePolicyType: type,
      StartPosition: position,
      EndPosition: position,
    };
  }
  return { SourcePolicyId: owner, SourcePolicyType: simulated.kind };
}

/** `ContextEntries.member.N.ContextKeyName` / `.ContextKeyValues.member.M`. */
function readContextEntries(params: Map<string, string>): Record<string, string[]> {
  const context: Record<string, string[]> = {};
  for (let n = 1; params.has(`ContextEntries.member.${n}.ContextKeyName`); n++) {
    const name = params.get(`ContextEntries.member.${n}.ContextKeyName`)!;
    context[name] = memberList(params, `ContextEntries.member.${n}.ContextKeyValues`);
  }
  return context;
}

function invalidInput(message: string): AwsError {
  return new AwsError('InvalidInput', 400, message);
}

function noSuchEntity(kind: 'user' | 'role', name: string): AwsError {
  return new AwsError('NoSuchEntity', 404, `The ${kind} with name ${name} cannot be found.`);
}
