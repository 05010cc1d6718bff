/**
 * What a smoke run was asked to do, from the event that invoked the smoke function:
 *
 * - a direct invocation (`rds-iam-canary smoke`, a pipeline, the console): `{}` or
 *   `{ "targets": ["orders-primary", ...] }`; no payload at all means every target;
 * - EventBridge "CloudFormation Stack Status Change" (a stack named in `deploy.smokeOnStacks`
 *   reached CREATE_COMPLETE or UPDATE_COMPLETE): every target;
 * - an EventBridge scheduled event: every target.
 *
 * Anything else is refused with a UserInputError naming the field (`event.targets[1]`), before
 * a single check starts. Names the config lacks are refused by selectTargets
 * (shared/config/select-targets.ts) with path `event.targets`.
 */
import { UserInputError } from '#shared/errors.ts';

export interface SmokeRequest {
  /** Target names asked for; undefined: every target in the config. */
  targets?: string[];
  trigger: 'direct' | 'stack' | 'schedule';
  /** The stack whose status change triggered the run. */
  stack?: { name: string; status: string };
}

/** The stack statuses that mean "a deploy just finished": the ones the rule listens for. */
export const SMOKE_STACK_STATUSES = ['CREATE_COMPLETE', 'UPDATE_COMPLETE'] as const;

const MAX_NAMED_TARGETS = 1000;

export function parseSmokeEvent(event: unknown): SmokeRequest {
  if (event === undefined || event === null) return { trigger: 'direct' };
  if (typeof event !== 'object' || Array.isArray(event)) {
    throw new UserInputError(
      'event',
      `expected a JSON object such as {"targets": ["name"]}, got ${describe(event)}`,
    );
  }

  const record = event as Record<string, unknown>;
  if ('source' in record || 'detail-type' in record) return parseEventBridge(record);

  const unknown = Object.keys(record).filter((key) => key !== 'targets');
  if (unknown.length > 0) {
    throw new UserInputError(
      `event.${unknown[0]}`,
      'unknown key: a direct invocation takes only {"targets": ["name", ...]} (or nothing)',
    );
  }
  if (record.targets === undefined) return { trigger: 'direct' };
  return { trigger: 'direct', targets: parseTargetNames(record.targets) };
}

function parseEventBridge(event: Record<string, unknown>): SmokeRequest {
  const source = event.source;
  const detailType = event['detail-type'];

  if (source === 'aws.events' && detailType === 'Scheduled Event') return { trigger: 'schedule' };

  if (source !== 'aws.cloudformation' || detailType !== 'CloudFormation Stack Status Change') {
    throw new UserInputError(
      'event.detail-type',
      `an EventBridge event from ${describe(source)} of type ${describe(detailType)} does not ` +
        'start a smoke run: only "CloudFormation Stack Status Change" and scheduled events do',
    );
  }

  const detail = event.detail;
  if (typeof detail !== 'object' || detail === null) {
    throw new UserInputError('event.detail', 'missing: a stack status change carries detail');
  }
  const { 'stack-id': stackId, 'status-details': statusDetails } = detail as Record<
    string,
    unknown
  >;
  const stackName = typeof stackId === 'string' ? stackNameFromId(stackId) : undefined;
  if (!stackName) {
    throw new UserInputError(
      'event.detail.stack-id',
      `expected a stack ARN (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>), got ${describe(stackId)}`,
    );
  }
  const status =
    typeof statusDetails === 'object' && statusDetails !== null
      ? (statusDetails as Record<string, unknown>).status
      : undefined;
  if (!SMOKE_STACK_STATUSES.includes(status as (typeof SMOKE_STACK_STATUSES)[number])) {
    throw new UserInputError(
      'event.detail.status-details.status',
      `${describe(status)} does not start a smoke run: only ${SMOKE_STACK_STATUSES.join(' and ')} do`,
    );
  }

  return { trigger: 'stack', stack: { name: stackName, status: status as string } };
}

function parseTargetNames(value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw new UserInputError(
      'event.targets',
      `expected a list of target names, got ${describe(value)}`,
    );
  }
  if (value.length === 0) {
    throw new UserInputError(
      'event.targets',
      'the list is empty: leave it out to check every target',
    );
  }
  if (value.length > MAX_NAMED_TARGETS) {
    throw new UserInputError('event.targets', `at most ${MAX_NAMED_TARGETS} names`);
  }
  for (const [i, name] of value.entries()) {
    if (typeof name !== 'string' || name.length === 0 || name.length > 64) {
      throw new UserInputError(
        `event.targets[${i}]`,
        `expected a target name, got ${describe(name)}`,
      );
    }
  }
  return [...new Set(value as string[])];
}

function stackNameFromId(stackId: string): string | undefined {
  return /^arn:aws[\w-]*:cloudformation:[\w-]+:\d{12}:stack\/([A-Za-z][A-Za-z0-9-]*)\/.+$/.exec(
    stackId,
  )?.[1];
}

/** A short, safe description of a bad value (never the whole payload). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  }
  return `${typeof value} ${String(value)}`;
}
