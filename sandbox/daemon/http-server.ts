import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { handleAdmin } from './admin-api.ts';
import {
  AwsError,
  awsErrors,
  faultError,
  renderError,
  type WireProtocol,
  type WireResponse,
} from './aws-errors.ts';
import type { CallRecord, DaemonContext } from './context.ts';
import { redactSecrets } from './redact.ts';
import type { AwsService, ParsedCall } from './services/service.ts';
import { headerValues, readAuthorization, verifyRequest } from './verify-request.ts';

/**
 * The local AWS endpoint: one HTTP server on loopback. The service is chosen by the
 * credential scope's service name; every request is SigV4-verified and recorded in
 * STATE/log/aws-calls.jsonl. Paths under /_sandbox are the admin API.
 */

// PutMetricData takes up to 1 MB, SNS messages up to 256 KB; leave room for encoding.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export function createAwsHttpServer(context: DaemonContext, services: AwsService[]): Server {
  const bySigningName = new Map(services.map((s) => [s.signingName, s]));

  return createServer((req, res) => {
    readBody(req)
      .then((body) => {
        const response = handleRequest(req, body, context, bySigningName);
        send(res, response);
      })
      .catch((error: unknown) => {
        const aws = error instanceof AwsError ? error : awsErrors.internalFailure();
        send(res, renderError(aws, 'query', randomUUID()));
      });
  });
}

function handleRequest(
  req: IncomingMessage,
  body: Buffer,
  context: DaemonContext,
  services: Map<string, AwsService>,
): WireResponse {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname.startsWith('/_sandbox')) {
    return handleAdmin(req.method ?? 'GET', url, body.toString('utf8'), context);
  }

  const started = performance.now();
  const requestId = randomUUID();
  const auth = readAuthorization(req.rawHeaders);
  const service = auth ? services.get(auth.scope.service) : undefined;
  const protocol: WireProtocol = service?.protocol ?? guessProtocol(req.rawHeaders);
  const record: CallRecord = {
    time: new Date(context.now()).toISOString(),
    requestId,
    service: auth?.scope.service ?? 'unknown',
    action: 'unknown',
    params: {},
    outcome: 'ok',
    status: 200,
    durationMs: 0,
  };

  let response: WireResponse;
  try {
    response = callService(req, body, context, service, requestId, record);
  } catch (error) {
    const aws = error instanceof AwsError ? error : awsErrors.internalFailure();
    response = renderError(aws, protocol, requestId, service?.xmlNamespace);
    Object.assign(record, {
      outcome: 'error',
      errorCode: aws.code,
      errorMessage: aws.message,
    });
    if (!(error instanceof AwsError)) {
      process.stderr.write(`sandbox-daemon: ${requestId}: ${(error as Error).stack}\n`);
    }
  }

  record.status = response.status;
  record.durationMs = Math.round((performance.now() - started) * 100) / 100;
  context.callLog.append(record);
  return response;
}

function callService(
  req: IncomingMessage,
  rawBody: Buffer,
  context: DaemonContext,
  service: AwsService | undefined,
  requestId: string,
  record: CallRecord,
): WireResponse {
  const header = (name: string) => headerValues(req.rawHeaders, name)[0];
  const body = decodeBody(rawBody, header('content-encoding'));

  // Parse first, so that even a refused call is recorded with its action and parameters.
  let call: ParsedCall | undefined;
  if (service) {
    call = service.parse(body.toString('utf8'), header);
    record.action = call.action;
    record.params = redactSecrets(call.params);
  } else {
    record.action = actionOf(header('x-amz-target'), body.toString('utf8'));
  }

  const nowMs = context.now();
  const caller = verifyRequest(
    { method: req.method ?? 'GET', url: req.url ?? '/', rawHeaders: req.rawHeaders, body: rawBody },
    context.credentials,
    nowMs,
  );
  Object.assign(record, {
    principal: caller.creds.principal.arn,
    accessKeyId: caller.creds.accessKeyId,
    region: caller.scope.region,
  });

  if (!service || !call) throw unknownOperation(req.rawHeaders, record.action);

  const fault = context.faults.take(service.signingName);
  if (fault !== undefined) throw faultError(fault);

  return service.handle(call, {
    world: context.world,
    credentials: context.credentials,
    caller: caller.creds,
    decisionLog: context.decisionLog,
    region: caller.scope.region,
    requestId,
    nowMs,
  });
}

function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  if (!encoding || encoding === 'identity') return body;
  if (encoding === 'gzip') {
    try {
      return gunzipSync(body);
    } catch {
      throw new AwsError('InvalidParameterValue', 400, 'The request body is not valid gzip.');
    }
  }
  throw new AwsError(
    'InvalidParameterValue',
    400,
    `Content-Encoding ${encoding} is not supported.`,
  );
}

function guessProtocol(rawHeaders: string[]): WireProtocol {
  const type = headerValues(rawHeaders, 'content-type')[0] ?? '';
  return type.includes('x-amz-json') || headerValues(rawHeaders, 'x-amz-target').length > 0
    ? 'json'
    : 'query';
}

function unknownOperation(rawHeaders: string[], action: string): AwsError {
  return guessProtocol(rawHeaders) === 'json'
    ? awsErrors.unknownOperation()
    : awsErrors.invalidAction(action);
}

function actionOf(target: string | undefined, body: string): string {
  if (target) return target.slice(target.lastIndexOf('.') + 1);
  return new URLSearchParams(body).get('Action') ?? 'unknown';
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AwsError('RequestEntityTooLarge', 413, 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, response: WireResponse): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(response.body);
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': String(body.length),
    date: new Date().toUTCString(),
  });
  res.end(body);
}
