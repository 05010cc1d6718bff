/**
 * A local stand-in for the Lambda Invoke API on loopback, running handlers in-process:
 * `POST /2015-03-31/functions/<name>/invocations` with the payload as body, answered like
 * AWS Lambda (RequestResponse): 200 with the handler's result; 200 with
 * `X-Amz-Function-Error: Unhandled` and `{ errorType, errorMessage, trace }` when the
 * handler throws; 404 ResourceNotFoundException for an unknown function. Reach it with
 * `AWS_ENDPOINT_URL_LAMBDA`.
 * https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type LocalHandler = (event: unknown, context: unknown) => Promise<unknown>;

export interface Invocation {
  functionName: string;
  invocationType: string;
  payload: unknown;
  /** The request was SigV4-signed (an Authorization header of that scheme). */
  signed: boolean;
}

export interface LocalLambda {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  invocations: Invocation[];
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** Starts the server; `timeoutMs` is each invocation's getRemainingTimeInMillis budget. */
export async function startLocalLambda(
  handlers: Record<string, LocalHandler>,
  timeoutMs = 60_000,
): Promise<LocalLambda> {
  const invocations: Invocation[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      send(res, 500, { 'x-amzn-errortype': 'ServiceException' }, { message: String(error) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = INVOKE_PATH.exec(new URL(req.url ?? '/', 'http://local').pathname);
    if (req.method !== 'POST' || !match) {
      send(res, 404, { 'x-amzn-errortype': 'UnknownOperationException' }, { message: 'no route' });
      return;
    }

    const functionName = decodeURIComponent(match[1]!);
    const body = await readBody(req);
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const signed = String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ');
    let payload: unknown;
    try {
      payload = body.length === 0 ? {} : JSON.parse(body);
    } catch {
      send(
        res,
        400,
        { 'x-amzn-errortype': 'InvalidRequestContentException' },
        { Type: 'User', message: 'Could not parse request body into json' },
      );
      return;
    }
    invocations.push({ functionName, invocationType, payload, signed });

    const handler = handlers[functionName];
    if (!handler) {
      send(
        res,
        404,
        { 'x-amzn-errortype': 'ResourceNotFoundException' },
        {
          Type: 'User',
          message: `Function not found: arn:aws:lambda:eu-west-1:111111111111:function:${functionName}`,
        },
      );
      return;
    }

    const deadline = Date.now() + timeoutMs;
    const context = {
      functionName,
      awsRequestId: crypto.randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    try {
      const result = await handler(payload, context);
      send(res, 200, { 'x-amz-executed-version': '$LATEST' }, result ?? null);
    } catch (error) {
      const err = error as Error;
      send(
        res,
        200,
        { 'x-amz-executed-version': '$LATEST', 'x-amz-function-error': 'Unhandled' },
        {
          errorType: err?.name ?? 'Error',
          errorMessage: err?.message ?? String(error),
          trace: String(err?.stack ?? '').split('\n'),
        },
      );
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    invocations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
    ...headers,
  });
  res.end(text);
}
