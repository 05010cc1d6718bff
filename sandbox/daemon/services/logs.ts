import { createHash } from 'node:crypto';
import type { FixtureInstance } from '#sandbox/fixture-schema.ts';
import { formatAuthErrorMessage } from '../auth-error-message.ts';
import { AwsError } from '../aws-errors.ts';
import { parseJsonCall } from '../json-protocol.ts';
import type { Decision } from '../verify-token.ts';
import { requirePermission } from './require-permission.ts';
import type { AwsService, ParsedCall, ServiceContext } from './service.ts';

/**
 * CloudWatch Logs over JSON 1.1: FilterLogEvents on each instance's IAM authentication
 * error log, `/aws/rds/instance/<identifier>/iam-db-auth-error` (clusters:
 * `/aws/rds/cluster/<identifier>/...`), served from the decision log's DENY lines in one
 * stream named after the instance identifier.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
 *
 * filterPattern: only terms (words, or "quoted phrases") that must all appear in the
 * message, case-sensitive, as CloudWatch Logs matches unstructured events.
 */

const TARGET_PREFIX = 'Logs_20140328.';
const LOG_GROUP = /^\/aws\/rds\/(instance|cluster)\/([^/]+)\/iam-db-auth-error$/;
const LOG_GROUP_ARN = /^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:([^:]+)(?::\*)?$/;

// FilterLogEvents' documented limit range and default.
const MAX_LIMIT = 10_000;

interface FilterLogEventsInput {
  logGroupName?: string;
  logGroupIdentifier?: string;
  logStreamNames?: string[];
  logStreamNamePrefix?: string;
  startTime?: number;
  endTime?: number;
  filterPattern?: string;
  nextToken?: string;
  limit?: number;
}

export const logsService: AwsService = {
  signingName: 'logs',
  protocol: 'json-1.1',

  parse: (body, header) => parseJsonCall(body, header, TARGET_PREFIX, (name) => name),

  handle(call: ParsedCall, context) {
    if (call.action !== 'FilterLogEvents') {
      throw new AwsError('UnknownOperationException', 400, '', {
        jsonType: 'UnknownOperationException',
      });
    }
    return filterLogEvents(call.params as FilterLogEventsInput, context);
  },
};

function filterLogEvents(input: FilterLogEventsInput, context: ServiceContext) {
  const groupName = logGroupNameOf(input);
  const account = context.caller.principal.account;
  const groupArn = `arn:aws:logs:${context.region}:${account}:log-group:${groupName}:*`;
  requirePermission(context, 'logs:FilterLogEvents', groupArn, {
    code: 'AccessDeniedException',
    status: 400,
  });
  const limit = checkLimit(input.limit);

  const instance = instanceOfGroup(groupName, context);
  if (!instance) {
    throw new AwsError(
      'ResourceNotFoundException',
      400,
      'The specified log group does not exist.',
      {
        jsonType: 'ResourceNotFoundException',
      },
    );
  }
  const stream = instance.identifier.toLowerCase();
  const streamWanted =
    (input.logStreamNames === undefined || input.logStreamNames.includes(stream)) &&
    (input.logStreamNamePrefix === undefined || stream.startsWith(input.logStreamNamePrefix));

  const terms = patternTerms(input.filterPattern);
  const events = streamWanted
    ? readDenials(context, instance, input)
        .map((decision) => ({
          logStreamName: stream,
          timestamp: Date.parse(decision.time),
          message: formatAuthErrorMessage(decision),
          ingestionTime: Date.parse(decision.time),
          eventId: eventIdOf(decision),
        }))
        .filter((e) => terms.every((t) => e.message.includes(t)))
    : [];

  const offset = readNextToken(input.nextToken);
  const page = events.slice(offset, offset + limit);
  const more = offset + limit < events.length;
  return {
    status: 200,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': context.requestId,
    },
    body: JSON.stringify({
      events: page,
      searchedLogStreams: streamWanted ? [{ logStreamName: stream, searchedCompletely: true }] : [],
      ...(more ? { nextToken: Buffer.from(`offset:${offset + limit}`).toString('base64') } : {}),
    }),
  };
}

function logGroupNameOf(input: FilterLogEventsInput): string {
  const { logGroupName, logGroupIdentifier } = input;
  if ((logGroupName === undefined) === (logGroupIdentifier === undefined)) {
    throw invalidParameter('Exactly one of logGroupName or logGroupIdentifier must be given.');
  }
  if (logGroupName !== undefined) return logGroupName;
  return LOG_GROUP_ARN.exec(logGroupIdentifier!)?.[1] ?? logGroupIdentifier!;
}

/** The instance (in the caller's account and region) whose auth-error log this group is. */
function instanceOfGroup(groupName: string, context: ServiceContext): FixtureInstance | undefined {
  const match = LOG_GROUP.exec(groupName);
  if (!match) return undefined;
  const [, kind, identifier] = match;
  return context.world.fixture.instances.find(
    (i) =>
      i.identifier.toLowerCase() === identifier &&
      i.account === context.caller.principal.account &&
      i.region === context.region &&
      (kind === 'cluster') === i.resourceId.startsWith('cluster-'),
  );
}

/** DENY decisions of `instance` between startTime and endTime (both included), oldest first. */
function readDenials(
  context: ServiceContext,
  instance: FixtureInstance,
  input: FilterLogEventsInput,
): Decision[] {
  const since = input.startTime === undefined ? undefined : String(input.startTime);
  return context.decisionLog.read(
    since,
    (d) =>
      d.instance === instance.name &&
      d.decision === 'DENY' &&
      (input.endTime === undefined || Date.parse(d.time) <= input.endTime),
  );
}

/** Stable for one decision whatever the query: its time and a digest of its line. */
function eventIdOf(decision: Decision): string {
  const digest = createHash('sha256').update(JSON.stringify(decision)).digest();
  return `${Date.parse(decision.time)}${digest.readBigUInt64BE().toString().padStart(20, '0')}`;
}

function patternTerms(pattern: string | undefined): string[] {
  if (!pattern?.trim()) return [];
  if (/^\s*[{[]/.test(pattern)) {
    throw invalidParameter('JSON and space-delimited filter patterns are not supported here.');
  }
  return [...pattern.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw invalidParameter(
      `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: ` +
        `Member must have value between 1 and ${MAX_LIMIT}`,
    );
  }
  return limit;
}

function readNextToken(token: string | undefined): number {
  if (token === undefined) return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
  if (!match) throw invalidParameter('The specified nextToken is not valid.');
  return Number(match[1]);
}

function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterException', 400, message, {
    jsonType: 'InvalidParameterException',
  });
}
