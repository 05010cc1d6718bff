import type { FixtureRole } from '#sandbox/fixture-schema.ts';
import { type AuthorizationOutcome, authorizePrincipal, principalContext } from '../authorize.ts';
import { AwsError, awsErrors, type WireResponse } from '../aws-errors.ts';
import { evaluatePolicy } from '../evaluate-policy.ts';
import {
  accountOfArn,
  assumedRoleArn,
  type Principal,
  principalArns,
  type SessionTag,
} from '../principal.ts';
import { memberList, memberPairs, parseQueryCall, queryResponse } from '../query-protocol.ts';
import type { AwsService, ServiceContext } from './service.ts';

/**
 * STS over the query protocol: AssumeRole (trust policy, sts:ExternalId, sts:TagSession
 * for session tags, duration limits, role chaining) and GetCallerIdentity.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 */

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

// AssumeRole's documented limits.
const MIN_DURATION_SECONDS = 900;
const DEFAULT_DURATION_SECONDS = 3600;
// A role session assuming another role (role chaining) gets at most one hour.
const ROLE_CHAINING_MAX_SECONDS = 3600;
const MAX_SESSION_TAGS = 50;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const ROLE_ARN = /^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

export const stsService: AwsService = {
  signingName: 'sts',
  protocol: 'query',
  xmlNamespace: NAMESPACE,

  parse: parseQueryCall,

  handle(call, context) {
    const params = new Map(Object.entries(call.params as Record<string, string>));
    switch (call.action) {
      case 'AssumeRole':
        return assumeRole(params, context);
      case 'GetCallerIdentity':
        return getCallerIdentity(context);
      default:
        throw awsErrors.invalidAction(call.action);
    }
  },
};

function getCallerIdentity(context: ServiceContext): WireResponse {
  const principal = context.caller.principal;
  const userId =
    principal.kind === 'role-session'
      ? `${context.credentials.uniqueId(principal.policyArn)}:${principal.sessionName}`
      : context.credentials.uniqueId(principal.arn);
  return queryResponse(
    'GetCallerIdentity',
    NAMESPACE,
    { Arn: principal.arn, UserId: userId, Account: principal.account },
    context.requestId,
  );
}

interface AssumeRoleInput {
  roleArn: string;
  sessionName: string;
  externalId?: string;
  durationSeconds?: number;
  tags: SessionTag[];
  transitiveTagKeys: string[];
}

function assumeRole(params: Map<string, string>, context: ServiceContext): WireResponse {
  // TODO: session policies (Policy, PolicyArns.member.N) are not applied: a session
  // assumed with one gets the role's whole permissions, where AWS would intersect them.
  const input = readAssumeRoleInput(params);
  const caller = context.caller.principal;
  const role = context.world.role(input.roleArn);
  const denied = (action: string) =>
    new AwsError(
      'AccessDenied',
      403,
      `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${input.roleArn}`,
    );

  // An unknown role is refused like a forbidden one: AWS does not reveal which it is.
  if (!role) throw denied('sts:AssumeRole');

  const inherited = inheritedTransitiveTags(caller);
  const tags = mergeTags(inherited, input.tags);
  const requestContext: Record<string, string> = {};
  if (input.externalId !== undefined) requestContext['sts:ExternalId'] = input.externalId;
  for (const tag of input.tags) requestContext[`aws:RequestTag/${tag.Key}`] = tag.Value;

  if (!mayAssume(context, caller, role, 'sts:AssumeRole', requestContext)) {
    throw denied('sts:AssumeRole');
  }
  // Tags passed on from a chained session count as session tags too.
  const tagging = tags.length > 0 || input.transitiveTagKeys.length > 0;
  if (tagging && !mayAssume(context, caller, role, 'sts:TagSession', requestContext)) {
    throw denied('sts:TagSession');
  }

  const durationSeconds = checkDuration(input, role, caller);
  const expiration = new Date(Math.floor(context.nowMs / 1000) * 1000 + durationSeconds * 1000);
  const transitiveTagKeys = [
    ...new Set([...inherited.map((t) => t.Key), ...input.transitiveTagKeys]),
  ];
  const credentials = context.credentials.issue(
    {
      kind: 'role-session',
      policyArn: role.arn,
      sessionName: input.sessionName,
      tags,
      transitiveTagKeys,
      sourcePrincipal: caller.arn,
    },
    expiration,
  );

  const roleId = context.credentials.uniqueId(role.arn);
  const arn = assumedRoleArn(role.arn, input.sessionName);
  return queryResponse(
    'AssumeRole',
    NAMESPACE,
    {
      Credentials: {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: credentials.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      AssumedRoleUser: { AssumedRoleId: `${roleId}:${input.sessionName}`, Arn: arn },
      // The share of the packed session policy and tags limit used, in percent.
      PackedPolicySize: tags.length > 0 ? Math.min(100, 1 + tags.length * 2) : undefined,
    },
    context.requestId,
  );
}

/**
 * The caller's side and the role's trust policy must both allow `action`, except that in
 * the role's own account a trust policy naming the caller's ARN is enough.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
 */
function mayAssume(
  context: ServiceContext,
  caller: Principal,
  role: FixtureRole,
  action: string,
  requestContext: Record<string, string>,
): boolean {
  const trust = evaluatePolicy(role.trust, {
    action,
    resource: role.arn,
    principal: { arns: principalArns(caller), account: caller.account },
    context: { ...principalContext(caller), ...requestContext },
  });
  if (trust.decision !== 'allowed') return false;

  const identity: AuthorizationOutcome = authorizePrincipal(
    context.world,
    caller,
    action,
    role.arn,
    requestContext,
  ).outcome;
  if (identity === 'allowed') return true;
  if (identity !== 'implicitDeny') return false;

  const sameAccount = caller.account === accountOfArn(role.arn);
  const namesCaller = trust.matched.some((statement) => {
    const named = statement.Principal === '*' ? [] : [statement.Principal?.AWS ?? []].flat();
    return named.some((entry) => principalArns(caller).includes(entry));
  });
  return sameAccount && namesCaller;
}

function readAssumeRoleInput(params: Map<string, string>): AssumeRoleInput {
  const roleArn = params.get('RoleArn');
  const sessionName = params.get('RoleSessionName');
  if (roleArn === undefined)
    throw validation(
      `Value null at 'roleArn' failed to satisfy constraint: Member must not be null`,
    );
  if (sessionName === undefined) {
    throw validation(
      `Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (roleArn.length < 20 || roleArn.length > 2048 || !ROLE_ARN.test(roleArn)) {
    throw validation(
      `Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must be a role ARN`,
    );
  }
  if (!SESSION_NAME.test(sessionName)) {
    throw validation(
      `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: ` +
        'Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2 to 64',
    );
  }

  const externalId = params.get('ExternalId');
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) {
    throw validation(
      `Value at 'externalId' failed to satisfy constraint: Member must satisfy regular ` +
        'expression pattern: [\\w+=,.@:\\/-]* and have length 2 to 1224',
    );
  }

  const durationText = params.get('DurationSeconds');
  let durationSeconds: number | undefined;
  if (durationText !== undefined) {
    durationSeconds = Number(durationText);
    if (
      !Number.isInteger(durationSeconds) ||
      durationSeconds < MIN_DURATION_SECONDS ||
      durationSeconds > 43200
    ) {
      throw validation(
        `Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: ` +
          'Member must have value between 900 and 43200',
      );
    }
  }

  const tags = memberPairs(params, 'Tags');
  const transitiveTagKeys = memberList(params, 'TransitiveTagKeys');
  checkTags(tags, transitiveTagKeys);
  return { roleArn, sessionName, externalId, durationSeconds, tags, transitiveTagKeys };
}

function checkTags(tags: SessionTag[], transitiveTagKeys: string[]): void {
  if (tags.length > MAX_SESSION_TAGS) {
    throw validation(
      "Value at 'tags' failed to satisfy constraint: " +
        `Member must have length less than or equal to ${MAX_SESSION_TAGS}`,
    );
  }
  const seen = new Set<string>();
  for (const [i, tag] of tags.entries()) {
    if (!TAG_KEY.test(tag.Key) || !TAG_VALUE.test(tag.Value)) {
      throw validation(
        `Value at 'tags.${i + 1}' failed to satisfy constraint: ` +
          'tag key 1-128, value 0-256 characters',
      );
    }
    if (seen.has(tag.Key.toLowerCase())) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
      );
    }
    seen.add(tag.Key.toLowerCase());
  }
  for (const key of transitiveTagKeys) {
    if (!seen.has(key.toLowerCase())) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        'The specified transitive tag key must be included in the requested tags.',
      );
    }
  }
}

function checkDuration(input: AssumeRoleInput, role: FixtureRole, caller: Principal): number {
  const requested = input.durationSeconds ?? DEFAULT_DURATION_SECONDS;
  if (caller.kind === 'role-session' && requested > ROLE_CHAINING_MAX_SECONDS) {
    throw validation(
      'The requested DurationSeconds exceeds the 1 hour session limit ' +
        'for roles assumed by role chaining.',
    );
  }
  if (requested > role.maxSessionDuration) {
    throw validation(
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  }
  return requested;
}

/** Transitive tags of a calling role session pass on to the session it assumes. */
function inheritedTransitiveTags(caller: Principal): SessionTag[] {
  if (caller.kind !== 'role-session') return [];
  const keys = new Set(caller.transitiveTagKeys.map((k) => k.toLowerCase()));
  return caller.tags.filter((t) => keys.has(t.Key.toLowerCase()));
}

function mergeTags(inherited: SessionTag[], requested: SessionTag[]): SessionTag[] {
  const inheritedKeys = new Set(inherited.map((t) => t.Key.toLowerCase()));
  for (const tag of requested) {
    if (inheritedKeys.has(tag.Key.toLowerCase())) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        `Transitive tag key ${tag.Key} cannot be set again in a role chain.`,
      );
    }
  }
  return [...inherited, ...requested];
}

function validation(message: string): AwsError {
  const prefix = message.startsWith('Value ') ? '1 validation error detected: ' : '';
  return new AwsError('ValidationError', 400, `${prefix}${message}`);
}
