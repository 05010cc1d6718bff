import { z } from 'zod';
import { statementSchema } from '#sandbox/fixture-schema.ts';
import type { WireResponse } from './aws-errors.ts';
import type { DaemonContext } from './context.ts';
import { WorldError } from './world.ts';

/**
 * The admin API under /_sandbox (tests and the demo only; loopback, no auth), as
 * sandbox/DESIGN.md lists it. Answers are JSON; errors are `{ error, message }`.
 */

const instancePatch = z
  .object({
    iamAuth: z.boolean().optional(),
    maxIamConnectionsPerSecond: z.number().int().positive().nullable().optional(),
  })
  .strict();

const principalPatch = z
  .object({
    arn: z.string(),
    policies: z.array(statementSchema).optional(),
    boundary: z.array(statementSchema).nullable().optional(),
    trust: z.array(statementSchema).optional(),
  })
  .strict();

const credentialsRequest = z
  .object({
    arn: z.string(),
    /** Negative for credentials that have already expired. Default one hour. */
    expiresInSeconds: z.number().int().default(3600),
    sessionName: z
      .string()
      .regex(/^[\w+=,.@-]{2,64}$/)
      .default('sandbox-admin'),
    tags: z.array(z.object({ Key: z.string(), Value: z.string() })).default([]),
    /** Users only: their long-term AKIA key instead of temporary credentials. */
    longTerm: z.boolean().default(false),
  })
  .strict();

const faultRequest = z
  .object({
    service: z.string().min(1),
    status: z.number().int().min(400).max(599),
    count: z.number().int().min(0).default(1),
  })
  .strict();

class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function handleAdmin(
  method: string,
  url: URL,
  body: string,
  context: DaemonContext,
): WireResponse {
  try {
    return json(200, route(method, url, body, context));
  } catch (error) {
    if (error instanceof AdminError) {
      return json(error.status, { error: error.code, message: error.message });
    }
    if (error instanceof WorldError) {
      return json(error.code === 'NOT_FOUND' ? 404 : 400, {
        error: error.code,
        message: error.message,
      });
    }
    throw error;
  }
}

function route(method: string, url: URL, body: string, context: DaemonContext): unknown {
  const path = url.pathname.replace(/\/+$/, '');
  const query = url.searchParams;
  const since = query.get('since') ?? undefined;

  if (method === 'GET' && path === '/_sandbox/health') return { ok: true };

  if (method === 'GET' && path === '/_sandbox/calls') {
    const service = query.get('service');
    const action = query.get('action');
    return context.callLog.read(
      since,
      (r) => (!service || r.service === service) && (!action || r.action === action),
    );
  }

  if (method === 'GET' && path === '/_sandbox/decisions') {
    const instance = query.get('instance');
    return context.decisionLog.read(since, (r) => !instance || r.instance === instance);
  }

  const instanceMatch = /^\/_sandbox\/instances\/([^/]+)$/.exec(path);
  if (method === 'PATCH' && instanceMatch) {
    const patch = parseBody(instancePatch, body);
    return context.world.patchInstance(decodeURIComponent(instanceMatch[1]!), patch);
  }

  if (
    (method === 'PATCH' && path === '/_sandbox/principals') ||
    (method === 'PUT' && path === '/_sandbox/roles')
  ) {
    return context.world.patchPrincipal(parseBody(principalPatch, body));
  }

  if (method === 'POST' && path === '/_sandbox/credentials') {
    return mintCredentials(parseBody(credentialsRequest, body), context);
  }

  if (method === 'POST' && path === '/_sandbox/reset') {
    context.world.reset();
    context.throttle.reset();
    context.faults.reset();
    return { ok: true };
  }

  if (method === 'POST' && path === '/_sandbox/faults') {
    const fault = parseBody(faultRequest, body);
    context.faults.set(fault.service, fault.status, fault.count);
    return { ok: true, ...fault };
  }

  throw new AdminError(404, 'NOT_FOUND', `no admin route ${method} ${path}`);
}

function mintCredentials(request: z.infer<typeof credentialsRequest>, context: DaemonContext) {
  const { world, credentials } = context;
  const user = world.user(request.arn);
  const role = world.role(request.arn);
  if (!user && !role) throw new AdminError(404, 'NOT_FOUND', `no user or role "${request.arn}"`);

  if (request.longTerm) {
    if (!user) throw new AdminError(400, 'INVALID', 'longTerm: only users have long-term keys');
    return { arn: user.arn, ...credentials.userKeys(user.arn) };
  }

  const expiration = new Date(context.now() + request.expiresInSeconds * 1000);
  const issued = user
    ? credentials.issue({ kind: 'user', userArn: user.arn }, expiration)
    : credentials.issue(
        {
          kind: 'role-session',
          policyArn: role!.arn,
          sessionName: request.sessionName,
          tags: request.tags,
          transitiveTagKeys: [],
          sourcePrincipal: 'sandbox-admin',
        },
        expiration,
      );
  const resolved = credentials.resolve(issued.accessKeyId, issued.sessionToken);
  return {
    arn: resolved?.principal.arn ?? request.arn,
    accessKeyId: issued.accessKeyId,
    secretAccessKey: issued.secretAccessKey,
    sessionToken: issued.sessionToken,
    expiration: issued.expiration.toISOString(),
  };
}

function parseBody<T extends z.ZodType>(schema: T, body: string): z.infer<T> {
  let raw: unknown;
  try {
    raw = body ? JSON.parse(body) : {};
  } catch {
    throw new AdminError(400, 'INVALID', 'the body is not JSON');
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new AdminError(400, 'INVALID', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  }
  return result.data;
}

function json(status: number, value: unknown): WireResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  };
}
