/**
 * Logs in to sandbox instances the way an application does: tokens from the real
 * @aws-sdk/rds-signer (or presigned by hand to reach cases the signer will not produce),
 * connections with the real `pg` and `mysql2` drivers.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { Signer } from '@aws-sdk/rds-signer';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { readSandboxEnv, type SandboxInstance, sandboxCa } from './sandbox.ts';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What a token is signed for; each field left out is the instance's own value. */
export interface TokenTarget {
  hostname?: string;
  port?: number;
  region?: string;
  user: string;
}

/** The canary IAM user's long-term keys (from env.json). */
export function canaryCredentials(): SigningCredentials {
  const env = readSandboxEnv();
  return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
}

/** A token from @aws-sdk/rds-signer, as applications get them. */
export function signToken(
  target: SandboxInstance,
  what: TokenTarget,
  credentials: SigningCredentials = canaryCredentials(),
): Promise<string> {
  return new Signer({
    hostname: what.hostname ?? target.host,
    port: what.port ?? target.port,
    region: what.region ?? target.region,
    username: what.user,
    credentials,
  }).getAuthToken();
}

/** A token presigned at `signingDate` (e.g. in the past), the way rds-signer builds one. */
export async function presignToken(
  target: SandboxInstance,
  user: string,
  signingDate: Date,
  credentials: SigningCredentials = canaryCredentials(),
): Promise<string> {
  const signer = new SignatureV4({
    service: 'rds-db',
    region: target.region,
    credentials,
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: target.host,
    port: target.port,
    path: '/',
    query: { Action: 'connect', DBUser: user },
    headers: { host: `${target.host}:${target.port}` },
  });
  const signed = await signer.presign(request, { expiresIn: 900, signingDate });
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  return `${target.host}:${target.port}/?${query}`;
}

/** A token whose X-Amz-Signature no longer matches (its first hex digit changed). */
export function tamperSignature(token: string): string {
  return token.replace(/X-Amz-Signature=([0-9a-f])/, (_, digit: string) => {
    return `X-Amz-Signature=${digit === '0' ? '1' : '0'}`;
  });
}

export interface LoginResult {
  ok: boolean;
  /** pg: SQLSTATE (`28000`); mysql2: its `code` (`ER_ACCESS_DENIED_ERROR`, ...). */
  code?: string;
  /** mysql2 only: the server's errno (1045). */
  errno?: number;
  /** The driver's error, kept for failure messages. */
  error?: Error;
}

export interface LoginOptions {
  /** Verified TLS with the sandbox CA; false: a plain connection. Default true. */
  tls?: boolean;
  /** Connect to this host instead of the instance's endpoint name. */
  host?: string;
}

/** Logs in to a PostgreSQL instance, runs `SELECT 1` and closes; never throws. */
export async function loginPostgres(
  target: SandboxInstance,
  user: string,
  password: string,
  options: LoginOptions = {},
): Promise<LoginResult> {
  const host = options.host ?? target.host;
  const client = new pg.Client({
    host,
    port: target.port,
    user,
    password,
    database: 'postgres',
    ssl: options.tls === false ? false : { ca: sandboxCa(), servername: host },
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code, error: error as Error };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Logs in to a MariaDB instance, runs `SELECT 1` and closes; never throws. The driver is
 * allowed to send the token in clear text (mysql_clear_password) only inside TLS, unless
 * `forceCleartext` says otherwise (used only with a string that is not a token).
 */
export async function loginMysql(
  target: SandboxInstance,
  user: string,
  password: string,
  options: LoginOptions & { forceCleartext?: boolean } = {},
): Promise<LoginResult> {
  const tls = options.tls !== false;
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({
      host: options.host ?? target.host,
      port: target.port,
      user,
      password,
      connectTimeout: 10_000,
      ...(tls ? { ssl: { ca: sandboxCa() } } : {}),
      enableCleartextPlugin: tls || options.forceCleartext === true,
    });
    await connection.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    const e = error as { code?: string; errno?: number };
    return { ok: false, code: e.code, errno: e.errno, error: error as Error };
  } finally {
    await connection?.end().catch(() => {});
  }
}

/** Logs in to either engine. */
export function login(
  target: SandboxInstance,
  user: string,
  password: string,
  options: LoginOptions = {},
): Promise<LoginResult> {
  return target.engine === 'postgres'
    ? loginPostgres(target, user, password, options)
    : loginMysql(target, user, password, options);
}
