/**
 * AWS errors and their wire shapes, so that the SDK raises an exception whose `name` is
 * the AWS error code, exactly as it does against AWS.
 *
 * - query protocol (STS, SNS): XML `<ErrorResponse><Error><Type/><Code/><Message/>...`
 * - JSON 1.0 with awsQueryCompatible (CloudWatch): `{"__type": ..., "message": ...}` and
 *   the header `x-amzn-query-error: <Code>;<Sender|Receiver>`, which the SDK reads first.
 * - JSON 1.1 (CloudWatch Logs): `{"__type": ..., "message": ...}` alone.
 */

export type WireProtocol = 'query' | 'json' | 'json-1.1';

export class AwsError extends Error {
  override name = 'AwsError';
  readonly code: string;
  readonly status: number;
  /** Sender (the caller's fault) or Receiver (the service's). */
  readonly type: 'Sender' | 'Receiver';
  /** Shape name for JSON protocols when it differs from the code (`...Exception`). */
  readonly jsonType: string | undefined;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { jsonType?: string; type?: 'Sender' | 'Receiver' } = {},
  ) {
    super(message);
    this.code = code;
    this.status = status;
    this.type = options.type ?? (status >= 500 ? 'Receiver' : 'Sender');
    this.jsonType = options.jsonType;
  }
}

// Errors of AWS's common front end, with the shapes JSON services give them.
export const awsErrors = {
  invalidClientTokenId: () =>
    new AwsError(
      'InvalidClientTokenId',
      403,
      'The security token included in the request is invalid.',
      { jsonType: 'com.amazon.coral.service#UnrecognizedClientException' },
    ),
  signatureDoesNotMatch: (message?: string) =>
    new AwsError(
      'SignatureDoesNotMatch',
      403,
      message ??
        'The request signature we calculated does not match the signature you provided. ' +
          'Check your AWS Secret Access Key and signing method. ' +
          'Consult the service documentation for details.',
      { jsonType: 'com.amazon.coral.service#InvalidSignatureException' },
    ),
  expiredToken: () =>
    new AwsError('ExpiredToken', 400, 'The security token included in the request is expired', {
      jsonType: 'com.amazon.coral.service#ExpiredTokenException',
    }),
  missingAuthenticationToken: () =>
    new AwsError('MissingAuthenticationToken', 403, 'Request is missing Authentication Token', {
      jsonType: 'com.amazon.coral.service#MissingAuthenticationTokenException',
    }),
  incompleteSignature: (message: string) =>
    new AwsError('IncompleteSignature', 400, message, {
      jsonType: 'com.amazon.coral.service#IncompleteSignatureException',
    }),
  invalidAction: (action: string) =>
    new AwsError('InvalidAction', 400, `Could not find operation ${action} for version`, {
      jsonType: 'com.amazon.coral.service#UnknownOperationException',
    }),
  unknownOperation: () =>
    new AwsError('UnknownOperationException', 400, '', {
      jsonType: 'com.amazon.coral.service#UnknownOperationException',
    }),
  internalFailure: () =>
    new AwsError(
      'InternalFailure',
      500,
      'The request processing has failed because of an unknown error, exception or failure.',
      {
        jsonType: 'com.amazon.coral.service#InternalFailure',
      },
    ),
  throttling: () =>
    new AwsError('Throttling', 400, 'Rate exceeded', {
      jsonType: 'com.amazon.coral.availability#ThrottlingException',
    }),
};

/** The error an injected fault answers with, by HTTP status. */
export function faultError(status: number): AwsError {
  if (status === 500) return awsErrors.internalFailure();
  if (status === 400 || status === 429) {
    const error = awsErrors.throttling();
    return status === 400
      ? error
      : new AwsError(error.code, 429, error.message, { jsonType: error.jsonType });
  }
  if (status === 503) {
    return new AwsError('ServiceUnavailable', 503, 'Service is unavailable', {
      jsonType: 'com.amazon.coral.availability#ServiceUnavailableException',
    });
  }
  return new AwsError(status >= 500 ? 'InternalFailure' : 'BadRequest', status, 'Injected fault');
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function renderError(
  error: AwsError,
  protocol: WireProtocol,
  requestId: string,
  xmlNamespace?: string,
): WireResponse {
  if (protocol === 'json' || protocol === 'json-1.1') {
    const headers: Record<string, string> =
      protocol === 'json'
        ? {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-query-error': `${error.code};${error.type}`,
          }
        : { 'content-type': 'application/x-amz-json-1.1' };
    return {
      status: error.status,
      headers: { ...headers, 'x-amzn-requestid': requestId },
      body: JSON.stringify({ __type: error.jsonType ?? error.code, message: error.message }),
    };
  }

  const ns = xmlNamespace ? ` xmlns="${xmlNamespace}"` : '';
  return {
    status: error.status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body:
      `<ErrorResponse${ns}>\n  <Error>\n    <Type>${error.type}</Type>\n` +
      `    <Code>${escapeXml(error.code)}</Code>\n` +
      `    <Message>${escapeXml(error.message)}</Message>\n` +
      `  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
  };
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === "'" ? '&apos;' : '&quot;',
  );
}
