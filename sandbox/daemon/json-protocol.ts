import { AwsError } from './aws-errors.ts';
import type { ParsedCall } from './services/service.ts';

/**
 * An AWS JSON-protocol request (CloudWatch's JSON 1.0, CloudWatch Logs' 1.1): the action is
 * the `X-Amz-Target` header after the service's prefix, the parameters the JSON body.
 * `errorType` shapes the `__type` of the error for a body that is not JSON, as each service
 * names it.
 */
export function parseJsonCall(
  body: string,
  header: (name: string) => string | undefined,
  targetPrefix: string,
  errorType: (name: string) => string,
): ParsedCall {
  const target = header('x-amz-target') ?? '';
  const action = target.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : target;
  try {
    return { action, params: body ? JSON.parse(body) : {} };
  } catch {
    throw new AwsError('SerializationException', 400, 'The request body is not valid JSON', {
      jsonType: errorType('SerializationException'),
    });
  }
}
