import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Fixture } from '#sandbox/fixture-schema.ts';
import { SandboxError } from './sandbox-error.ts';
import type { StatePaths } from './state-paths.ts';

/** One database instance as tests and the demo see it. */
export interface SandboxInstance {
  name: string;
  engine: 'postgres' | 'mysql';
  host: string;
  port: number;
  region: string;
  account: string;
  resourceId: string;
  /** Password of the instance's superuser `sandbox_admin` (scram / native, over TLS). */
  adminPassword: string;
}

/** STATE/env.json, as described in sandbox/DESIGN.md. */
export interface SandboxEnv {
  AWS_ENDPOINT_URL: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_REGION: string;
  caPath: string;
  stateDir: string;
  adminUrl: string;
  instances: SandboxInstance[];
}

export interface AccessKeys {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The environment for a fixture: the keys are those of its first IAM user (the canary). */
export function buildSandboxEnv(
  fixture: Fixture,
  paths: StatePaths,
  keys: AccessKeys,
  adminPassword: (instance: string) => string,
): SandboxEnv {
  const endpoint = `http://127.0.0.1:${fixture.aws.port}`;
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_REGION: fixture.instances[0]!.region,
    caPath: paths.caCert,
    stateDir: paths.root,
    adminUrl: `${endpoint}/_sandbox`,
    instances: fixture.instances.map((i) => ({
      name: i.name,
      engine: i.engine,
      host: i.host,
      port: i.port,
      region: i.region,
      account: i.account,
      resourceId: i.resourceId,
      adminPassword: adminPassword(i.name),
    })),
  };
}

/** Writes env.json (0600: it holds a secret key and the admin passwords). */
export function writeSandboxEnv(paths: StatePaths, env: SandboxEnv): void {
  writeFileSync(paths.envFile, `${JSON.stringify(env, null, 2)}\n`, { mode: 0o600 });
}

export function readSandboxEnvFile(paths: StatePaths): SandboxEnv {
  if (!existsSync(paths.envFile)) {
    throw new SandboxError(
      'SANDBOX_NOT_UP',
      `${paths.envFile} does not exist`,
      'run `rds-iam-canary sandbox up` first (as root)',
    );
  }
  try {
    return JSON.parse(readFileSync(paths.envFile, 'utf8')) as SandboxEnv;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    throw new SandboxError(
      'SANDBOX_ENV_UNREADABLE',
      `${paths.envFile} is readable by root only (it holds a secret key)`,
      'run it with sudo',
    );
  }
}

/** The `export K=V` lines of `sandbox env`: the AWS settings plus the CA bundle's path. */
export function exportLines(env: SandboxEnv): string[] {
  const vars: Record<string, string> = {
    AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: env.AWS_REGION,
    RDS_IAM_CANARY_SANDBOX_CA: env.caPath,
  };
  return Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
