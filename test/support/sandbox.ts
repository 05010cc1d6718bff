/**
 * What integration tests know about the running sandbox: STATE/env.json (written by
 * `sandbox up`, which test/global-setup.ts runs) and its admin API.
 */
import { readFileSync } from 'node:fs';
import type { SandboxEnv, SandboxInstance } from '#sandbox/servers/env-file.ts';
import { STATE_DIR, statePaths } from '#sandbox/servers/state-paths.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';

export type { SandboxEnv, SandboxInstance };

let cached: SandboxEnv | undefined;

/** STATE/env.json, parsed once per test file. */
export function readSandboxEnv(stateDir = STATE_DIR): SandboxEnv {
  cached ??= JSON.parse(readFileSync(statePaths(stateDir).envFile, 'utf8')) as SandboxEnv;
  return cached;
}

/** One instance of the sandbox by name; throws when the fixture has no such instance. */
export function instance(name: string): SandboxInstance {
  const found = readSandboxEnv().instances.find((i) => i.name === name);
  if (!found) throw new Error(`the sandbox has no instance "${name}"`);
  return found;
}

/** The private CA that signed every sandbox server certificate (PEM). */
export function sandboxCa(): string {
  return readFileSync(readSandboxEnv().caPath, 'utf8');
}

/**
 * Calls the admin API: `path` is relative to `/_sandbox` (e.g. `/decisions?since=...`).
 * A JSON `body` object is serialised. Throws when the answer is not 2xx.
 */
export async function sandboxFetch<T = unknown>(
  path: string,
  init: Omit<RequestInit, 'body'> & { body?: unknown } = {},
): Promise<T> {
  const { body, ...rest } = init;
  const response = await fetch(`${readSandboxEnv().adminUrl}${path}`, {
    ...rest,
    headers: { 'content-type': 'application/json', ...rest.headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`admin API ${path}: HTTP ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** One line of STATE/log/decisions.jsonl (sandbox/DESIGN.md). */
export interface Decision {
  time: string;
  instance: string;
  user: string;
  decision: 'ALLOW' | 'DENY';
  reason: string | null;
  detail?: string;
  principal?: string;
  accessKeyId?: string;
  resource?: string;
  signedHost?: string;
  region?: string;
  tokenLength?: number;
}

/** Decisions for `instance` logged at or after `since` (ISO), oldest first. */
export function decisionsSince(instanceName: string, since: string): Promise<Decision[]> {
  const query = new URLSearchParams({ since, instance: instanceName });
  return sandboxFetch<Decision[]>(`/decisions?${query}`);
}

/** Temporary credentials the daemon mints for any fixture principal (any expiry). */
export interface MintedCredentials {
  arn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

export function mintCredentials(arn: string, expiresInSeconds = 3600): Promise<MintedCredentials> {
  return sandboxFetch<MintedCredentials>('/credentials', {
    method: 'POST',
    body: { arn, expiresInSeconds },
  });
}

/** A target for a sandbox instance (every default applied), with overrides. */
export function sandboxTarget(
  instanceName: string,
  name: string,
  overrides: Partial<ResolvedTarget> = {},
): ResolvedTarget {
  const db = instance(instanceName);
  const host = overrides.host ?? db.host;
  const port = overrides.port ?? db.port;
  return {
    name,
    engine: db.engine,
    host,
    port,
    database: instanceName,
    user: 'canary_iam',
    region: db.region,
    signingHost: host,
    signingPort: port,
    roles: [],
    expect: 'connect',
    query: 'SELECT 1',
    timeoutMs: 5000,
    tls: { ca: readSandboxEnv().caPath },
    tags: {},
    ...overrides,
  };
}
