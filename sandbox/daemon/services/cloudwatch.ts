import { AwsError } from '../aws-errors.ts';
import { parseJsonCall } from '../json-protocol.ts';
import type { AwsService, ParsedCall } from './service.ts';

/**
 * CloudWatch over JSON 1.0 (query-compatible errors): PutMetricData with the API's limits.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';

// PutMetricData's documented limits.
const MAX_METRIC_DATA = 1000;
const MAX_DIMENSIONS = 30;
const MAX_VALUES = 150;
const MAX_NAME_LENGTH = 255;
const MAX_DIMENSION_VALUE_LENGTH = 1024;
// Values CloudWatch rejects: above 2^360 in magnitude, or below 2^-260 (other than 0).
const MAX_MAGNITUDE = 2 ** 360;
const MIN_MAGNITUDE = 2 ** -260;
const NAMESPACE = /^[0-9A-Za-z.\-_/#: ]+$/;
const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

export const cloudWatchService: AwsService = {
  signingName: 'monitoring',
  protocol: 'json',

  parse: (body, header) =>
    parseJsonCall(body, header, TARGET_PREFIX, (name) => `com.amazon.coral.service#${name}`),

  handle(call: ParsedCall, context) {
    if (call.action !== 'PutMetricData') {
      throw new AwsError('UnknownOperationException', 400, '', {
        jsonType: 'com.amazon.coral.service#UnknownOperationException',
      });
    }
    checkPutMetricData(call.params as PutMetricDataInput);
    return {
      status: 200,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': context.requestId,
      },
      body: '{}',
    };
  },
};

interface MetricDatum {
  MetricName?: string;
  Dimensions?: Array<{ Name?: string; Value?: string }>;
  Value?: number | string;
  Values?: Array<number | string>;
  Counts?: Array<number | string>;
  StatisticValues?: Record<string, number | string>;
  Unit?: string;
  StorageResolution?: number;
}

interface PutMetricDataInput {
  Namespace?: string;
  MetricData?: MetricDatum[];
}

function checkPutMetricData(input: PutMetricDataInput): void {
  const namespace = input.Namespace;
  if (namespace === undefined) throw missing('Namespace');
  if (
    namespace.length === 0 ||
    namespace.length > MAX_NAME_LENGTH ||
    namespace.startsWith(':') ||
    namespace.startsWith('AWS/') ||
    !NAMESPACE.test(namespace)
  ) {
    throw invalid(`The value ${namespace} for parameter Namespace is invalid.`);
  }

  const data = input.MetricData;
  if (!Array.isArray(data) || data.length === 0) throw missing('MetricData');
  if (data.length > MAX_METRIC_DATA) {
    throw invalid(
      `The collection MetricData must not have a size greater than ${MAX_METRIC_DATA}.`,
    );
  }
  for (const [i, datum] of data.entries()) checkDatum(datum, `MetricData.member.${i + 1}`);
}

function checkDatum(datum: MetricDatum, where: string): void {
  if (!datum.MetricName) throw missing(`${where}.MetricName`);
  if (datum.MetricName.length > MAX_NAME_LENGTH) {
    throw invalid(
      `The parameter ${where}.MetricName must be shorter than ${MAX_NAME_LENGTH + 1} characters.`,
    );
  }

  const dimensions = datum.Dimensions ?? [];
  if (dimensions.length > MAX_DIMENSIONS) {
    throw invalid(
      `The collection ${where}.Dimensions must not have a size greater than ${MAX_DIMENSIONS}.`,
    );
  }
  const names = new Set<string>();
  dimensions.forEach((d, j) => {
    const at = `${where}.Dimensions.member.${j + 1}`;
    if (!d.Name) throw missing(`${at}.Name`);
    if (d.Value === undefined || d.Value === '') throw missing(`${at}.Value`);
    if (d.Name.length > MAX_NAME_LENGTH || d.Name.startsWith(':')) {
      throw invalid(`The value ${d.Name} for parameter ${at}.Name is invalid.`);
    }
    if (d.Value.length > MAX_DIMENSION_VALUE_LENGTH) {
      throw invalid(
        `The parameter ${at}.Value must be shorter than ` +
          `${MAX_DIMENSION_VALUE_LENGTH + 1} characters.`,
      );
    }
    if (names.has(d.Name))
      throw invalid(`The dimension ${d.Name} appears more than once in ${where}.`);
    names.add(d.Name);
  });

  if (datum.Value !== undefined && datum.StatisticValues !== undefined) {
    throw combination(
      `The parameters ${where}.Value and ${where}.StatisticValues are mutually exclusive ` +
        'and you have specified both.',
    );
  }
  if (datum.Value !== undefined && datum.Values !== undefined) {
    throw combination(
      `The parameters ${where}.Value and ${where}.Values are mutually exclusive ` +
        'and you have specified both.',
    );
  }
  if (datum.Value !== undefined) checkNumber(datum.Value, `${where}.Value`);
  if (datum.Values !== undefined) {
    if (datum.Values.length > MAX_VALUES) {
      throw invalid(
        `The collection ${where}.Values must not have a size greater than ${MAX_VALUES}.`,
      );
    }
    for (const [k, v] of datum.Values.entries()) checkNumber(v, `${where}.Values.member.${k + 1}`);
    if (datum.Counts !== undefined && datum.Counts.length !== datum.Values.length) {
      throw combination(
        `The parameters ${where}.Values and ${where}.Counts must be of the same size.`,
      );
    }
  }
  for (const [name, value] of Object.entries(datum.StatisticValues ?? {})) {
    checkNumber(value, `${where}.StatisticValues.${name}`);
  }

  if (datum.Unit !== undefined && !UNITS.has(datum.Unit)) {
    throw invalid(`The value ${datum.Unit} for parameter ${where}.Unit is invalid.`);
  }
  if (datum.StorageResolution !== undefined && ![1, 60].includes(datum.StorageResolution)) {
    throw invalid(
      `The value ${datum.StorageResolution} for parameter ${where}.StorageResolution is invalid.`,
    );
  }
}

function checkNumber(value: number | string, where: string): void {
  // The SDK sends NaN and the infinities as the strings "NaN", "Infinity", "-Infinity".
  const n = typeof value === 'number' ? value : Number.NaN;
  const magnitude = Math.abs(n);
  if (!Number.isFinite(n) || magnitude > MAX_MAGNITUDE || (n !== 0 && magnitude < MIN_MAGNITUDE)) {
    throw invalid(`The value ${String(value)} for parameter ${where} is invalid.`);
  }
}

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterValue', 400, message, {
    jsonType: 'com.amazonaws.cloudwatch#InvalidParameterValueException',
  });
}

function combination(message: string): AwsError {
  return new AwsError('InvalidParameterCombination', 400, message, {
    jsonType: 'com.amazonaws.cloudwatch#InvalidParameterCombinationException',
  });
}

function missing(parameter: string): AwsError {
  return new AwsError('MissingParameter', 400, `The parameter ${parameter} is required.`, {
    jsonType: 'com.amazonaws.cloudwatch#MissingRequiredParameterException',
  });
}
