import { randomUUID } from 'node:crypto';
import { AwsError, awsErrors } from '../aws-errors.ts';
import { parseQueryCall, queryResponse } from '../query-protocol.ts';
import type { AwsService, ServiceContext } from './service.ts';

/**
 * SNS over the query protocol: Publish to any topic ARN in a fixture account.
 * https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
 */

const NAMESPACE = 'http://sns.amazonaws.com/doc/2010-03-31/';

// Publish's documented limits.
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_SUBJECT_LENGTH = 100;
const MAX_MESSAGE_ATTRIBUTES = 10;
const TOPIC_ARN = /^arn:aws:sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([\w-]{1,256}(?:\.fifo)?)$/;
// A subject is printable ASCII without line breaks and starts with a letter, digit or
// punctuation mark.
const SUBJECT = /^[!-~][ -~]*$/;
const ATTRIBUTE_NAME = /^[\w.-]{1,256}$/;

export const snsService: AwsService = {
  signingName: 'sns',
  protocol: 'query',
  xmlNamespace: NAMESPACE,

  parse: parseQueryCall,

  handle(call, context) {
    if (call.action !== 'Publish') throw awsErrors.invalidAction(call.action);
    return publish(new Map(Object.entries(call.params as Record<string, string>)), context);
  },
};

function publish(params: Map<string, string>, context: ServiceContext) {
  const topicArn = params.get('TopicArn') ?? params.get('TargetArn');
  if (!topicArn) {
    throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter');
  }
  const topic = TOPIC_ARN.exec(topicArn);
  if (!topic || topic[1] !== context.region) throw invalidParameter('TopicArn');
  if (!context.world.isFixtureAccount(topic[2]!)) {
    throw new AwsError('NotFound', 404, 'Topic does not exist');
  }

  const message = params.get('Message');
  if (message === undefined || message === '') throw invalidParameter('Empty message');
  const subject = params.get('Subject');
  if (subject !== undefined && (subject.length > MAX_SUBJECT_LENGTH || !SUBJECT.test(subject))) {
    throw invalidParameter('Subject');
  }
  if (params.get('MessageStructure') === 'json') checkJsonStructure(message);

  const attributesBytes = checkMessageAttributes(params);
  if (Buffer.byteLength(message) + attributesBytes > MAX_MESSAGE_BYTES) {
    throw invalidParameter('Message too long');
  }

  const fifo = topic[3]!.endsWith('.fifo');
  if (fifo && !params.get('MessageGroupId')) {
    throw invalidParameter('The MessageGroupId parameter is required for FIFO topics');
  }

  return queryResponse(
    'Publish',
    NAMESPACE,
    {
      MessageId: randomUUID(),
      SequenceNumber: fifo ? String(context.nowMs).padStart(20, '0') : undefined,
    },
    context.requestId,
  );
}

function checkJsonStructure(message: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    throw invalidParameter('Message Structure - JSON message body failed to parse');
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    typeof (parsed as { default?: unknown }).default !== 'string'
  ) {
    throw invalidParameter('Message Structure - No default entry in JSON message body');
  }
}

/** Validates MessageAttributes.entry.N.*; returns their size, which counts toward 256 KB. */
function checkMessageAttributes(params: Map<string, string>): number {
  let bytes = 0;
  let n = 1;
  for (; params.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const prefix = `MessageAttributes.entry.${n}`;
    const name = params.get(`${prefix}.Name`)!;
    const type = params.get(`${prefix}.Value.DataType`);
    const stringValue = params.get(`${prefix}.Value.StringValue`);
    const binaryValue = params.get(`${prefix}.Value.BinaryValue`);

    if (!ATTRIBUTE_NAME.test(name) || name.startsWith('AWS.') || name.startsWith('Amazon.')) {
      throw invalidParameterValue(`The message attribute name '${name}' is invalid.`);
    }
    if (!type || !/^(String|Number|Binary|String\.Array)(\.[\w.-]+)?$/.test(type)) {
      throw invalidParameterValue(
        `The message attribute '${name}' has an invalid message attribute type, ` +
          'the set of supported type prefixes is Binary, Number, and String.',
      );
    }
    const value = type.startsWith('Binary') ? binaryValue : stringValue;
    if (value === undefined || value === '') {
      throw invalidParameterValue(
        `The message attribute '${name}' must contain non-empty message attribute value ` +
          `for message attribute type '${type}'.`,
      );
    }
    if (type.startsWith('Number') && !Number.isFinite(Number(value))) {
      throw invalidParameterValue(
        `The message attribute '${name}' with type 'Number' must use field 'String'.`,
      );
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(type) + Buffer.byteLength(value);
  }
  if (n - 1 > MAX_MESSAGE_ATTRIBUTES) {
    throw invalidParameterValue(
      `Number of message attributes [${n - 1}] exceeds ` +
        `the allowed maximum [${MAX_MESSAGE_ATTRIBUTES}].`,
    );
  }
  return bytes;
}

function invalidParameter(what: string): AwsError {
  return new AwsError('InvalidParameter', 400, `Invalid parameter: ${what}`);
}

function invalidParameterValue(message: string): AwsError {
  return new AwsError('InvalidParameterValue', 400, message);
}
