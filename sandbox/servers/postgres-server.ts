import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { FixtureInstance } from '#sandbox/fixture-schema.ts';
import { deriveAdminPassword, digestOf, ensureOwnedDir, writeOwnedFile } from './owned-files.ts';
import { pamServiceName } from './pam-module.ts';
import { ownedPid, stopProcess } from './processes.ts';
import { runCommand } from './run-command.ts';
import { SandboxError } from './sandbox-error.ts';
import type { ServerContext, ServerStatus } from './server-context.ts';
import type { StatePaths } from './state-paths.ts';

/** The superuser of every sandbox server; its password is in env.json. */
export const ADMIN_USER = 'sandbox_admin';

/** The newest PostgreSQL server installed, e.g. /usr/lib/postgresql/15/bin. */
export function findPostgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(base, versions[0], 'bin');
}

function layout(paths: StatePaths, name: string) {
  const dir = paths.pgDir(name);
  return {
    dir,
    data: join(dir, 'data'),
    socketDir: join(dir, 'run'),
    log: join(dir, 'postgres.log'),
    pidFile: join(dir, 'data', 'postmaster.pid'),
    conf: join(dir, 'data', 'sandbox.conf'),
    hba: join(dir, 'data', 'pg_hba.conf'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    applied: join(dir, 'applied.sha256'),
  };
}

/** The pid of the instance's postmaster when it runs (and is ours). */
export function runningPostgresPid(paths: StatePaths, name: string): number | undefined {
  const files = layout(paths, name);
  return ownedPid(files.pidFile, files.data);
}

/** The port the instance was last configured with, from the config `up` wrote. */
export function configuredPostgresPort(paths: StatePaths, name: string): number | undefined {
  const { conf } = layout(paths, name);
  if (!existsSync(conf)) return undefined;
  const match = /^port = (\d+)$/m.exec(readFileSync(conf, 'utf8'));
  return match ? Number(match[1]) : undefined;
}

export function postgresStatus(paths: StatePaths, name: string): ServerStatus {
  const pid = runningPostgresPid(paths, name);
  const port = configuredPostgresPort(paths, name);
  return { name, engine: 'postgres', port, pid, up: pid !== undefined };
}

function serverConfig(instance: FixtureInstance, files: ReturnType<typeof layout>): string {
  return [
    '# Written by `rds-iam-canary sandbox up` on every run.',
    "listen_addresses = '127.0.0.1'",
    `port = ${instance.port}`,
    `unix_socket_directories = '${files.socketDir}'`,
    'ssl = on',
    `ssl_cert_file = '${files.cert}'`,
    `ssl_key_file = '${files.key}'`,
    "password_encryption = 'scram-sha-256'",
    // A sandbox: small and fast beats durable.
    'max_connections = 60',
    "shared_buffers = '16MB'",
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    "dynamic_shared_memory_type = 'mmap'",
    'log_connections = off',
    '',
  ].join('\n');
}

function hbaConfig(instance: FixtureInstance): string {
  const iam = pamServiceName(instance.name, 'required');
  const noTls = pamServiceName(instance.name, 'absent');
  return [
    '# Written by `rds-iam-canary sandbox up` on every run.',
    '# Members of rds_iam log in only through the token verifier (PAM), as on RDS; over a',
    '# connection without TLS they reach the verifier with tls=absent, which refuses them.',
    `local   all  ${ADMIN_USER}  scram-sha-256`,
    `hostssl all  +rds_iam       127.0.0.1/32  pam pamservice=${iam}`,
    `host    all  +rds_iam       127.0.0.1/32  pam pamservice=${noTls}`,
    'hostssl all  all            127.0.0.1/32  scram-sha-256',
    'host    all  all            127.0.0.1/32  scram-sha-256',
    '',
  ].join('\n');
}

/**
 * Brings one private PostgreSQL cluster to the fixture's state: initdb on first use, its own
 * config (port, socket dir, TLS, pg_hba), started (or reloaded when its config changed), and
 * the fixture's roles, databases and grants applied when they changed.
 */
export async function ensurePostgres(
  instance: FixtureInstance,
  binDir: string,
  ctx: ServerContext,
): Promise<void> {
  const files = layout(ctx.paths, instance.name);
  const adminPassword = deriveAdminPassword(ctx.masterKey, instance.name);
  ensureOwnedDir(ctx.paths.root, 'root', 0o755);
  ensureOwnedDir(files.dir, 'postgres', 0o700);
  ensureOwnedDir(files.socketDir, 'postgres', 0o755);

  if (!existsSync(join(files.data, 'PG_VERSION'))) {
    await initCluster(files, binDir, adminPassword);
    ctx.log(`${instance.name}: created a PostgreSQL cluster in ${files.data}`);
  }

  const tlsChanged = [
    writeOwnedFile(files.cert, readFileSync(ctx.paths.serverCert, 'utf8'), 'postgres', 0o644),
    writeOwnedFile(files.key, readFileSync(ctx.paths.serverKey, 'utf8'), 'postgres', 0o600),
  ].some(Boolean);
  const confChanged = writeOwnedFile(files.conf, serverConfig(instance, files), 'postgres', 0o600);
  const hbaChanged = writeOwnedFile(files.hba, hbaConfig(instance), 'postgres', 0o600);
  includeSandboxConf(files.data);

  const pid = runningPostgresPid(ctx.paths, instance.name);
  const pgCtl = join(binDir, 'pg_ctl');
  if (pid === undefined) {
    await runCommand(pgCtl, ['-D', files.data, '-l', files.log, '-w', '-t', '30', '-s', 'start'], {
      user: 'postgres',
    }).catch((error) => {
      throw withLogTail(error, files.log);
    });
    ctx.onStarted(`postgres ${instance.name}`, async () => {
      await stopPostgres(ctx.paths, instance.name);
    });
    ctx.log(`${instance.name}: PostgreSQL started on 127.0.0.1:${instance.port}`);
  } else if (confChanged) {
    await runCommand(
      pgCtl,
      ['-D', files.data, '-l', files.log, '-w', '-t', '30', '-s', 'restart'],
      {
        user: 'postgres',
      },
    );
    ctx.log(`${instance.name}: PostgreSQL restarted with its new config`);
  } else if (hbaChanged || tlsChanged || ctx.certificateChanged) {
    await runCommand(pgCtl, ['-D', files.data, '-s', 'reload'], { user: 'postgres' });
    ctx.log(`${instance.name}: PostgreSQL reloaded its config`);
  }

  const digest = digestOf({ instance, adminPassword });
  if (existsSync(files.applied) && readFileSync(files.applied, 'utf8') === digest) return;
  await applyFixture(instance, files.socketDir, adminPassword).catch((error: unknown) => {
    const code = (error as { code?: string }).code;
    throw new SandboxError(
      'SANDBOX_APPLY_FAILED',
      `${instance.name}: PostgreSQL refused the fixture: ${(error as Error).message} (${code})`,
      "fix that instance's users or databases in the fixture",
      { cause: error },
    );
  });
  writeFileSync(files.applied, digest);
  ctx.log(`${instance.name}: roles, databases and grants applied`);
}

async function initCluster(files: ReturnType<typeof layout>, binDir: string, password: string) {
  // initdb refuses a non-empty directory: a half-made one from a failed run goes first.
  rmSync(files.data, { recursive: true, force: true });
  rmSync(files.applied, { force: true });
  const pwFile = join(files.dir, 'initdb.pw');
  writeOwnedFile(pwFile, `${password}\n`, 'postgres', 0o600);
  try {
    await runCommand(
      join(binDir, 'initdb'),
      [
        '-D',
        files.data,
        '-U',
        ADMIN_USER,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
        '--no-sync',
      ],
      { user: 'postgres' },
    );
  } finally {
    rmSync(pwFile, { force: true });
  }
}

function includeSandboxConf(dataDir: string): void {
  const main = join(dataDir, 'postgresql.conf');
  const text = readFileSync(main, 'utf8');
  if (!text.includes("include 'sandbox.conf'")) {
    writeFileSync(main, `${text}\n# rds-iam-canary sandbox\ninclude 'sandbox.conf'\n`);
  }
}

function withLogTail(error: unknown, log: string): unknown {
  if (!(error instanceof SandboxError) || !existsSync(log)) return error;
  const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-2).join(' / ');
  return new SandboxError(error.code, `${error.message} (log: ${tail})`, error.remedy, {
    cause: error,
  });
}

async function applyFixture(instance: FixtureInstance, socketDir: string, password: string) {
  const admin = new pg.Client({
    host: socketDir,
    port: instance.port,
    user: ADMIN_USER,
    password,
    database: 'postgres',
  });
  await admin.connect();
  try {
    await admin.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        CREATE ROLE rds_iam NOLOGIN;
      END IF;
    END $$`);

    for (const user of instance.users) {
      const role = admin.escapeIdentifier(user.name);
      const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user.name]);
      if (exists.rowCount === 0) await admin.query(`CREATE ROLE ${role} LOGIN`);
      const secret = !user.iam && user.password ? admin.escapeLiteral(user.password) : 'NULL';
      await admin.query(`ALTER ROLE ${role} LOGIN PASSWORD ${secret}`);
      await admin.query(
        `${user.iam ? 'GRANT' : 'REVOKE'} rds_iam ${user.iam ? 'TO' : 'FROM'} ${role}`,
      );
    }

    for (const database of instance.databases) {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) {
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
      }
      for (const user of instance.users) {
        await admin.query(
          `GRANT CONNECT ON DATABASE ${admin.escapeIdentifier(database)} TO ${admin.escapeIdentifier(user.name)}`,
        );
      }
      await grantSchemaUsage(instance, socketDir, password, database);
    }
  } finally {
    await admin.end();
  }
}

async function grantSchemaUsage(
  instance: FixtureInstance,
  socketDir: string,
  password: string,
  database: string,
) {
  if (instance.users.length === 0) return;
  const client = new pg.Client({
    host: socketDir,
    port: instance.port,
    user: ADMIN_USER,
    password,
    database,
  });
  await client.connect();
  try {
    const roles = instance.users.map((u) => client.escapeIdentifier(u.name)).join(', ');
    await client.query(`GRANT USAGE ON SCHEMA public TO ${roles}`);
  } finally {
    await client.end();
  }
}

/** Stops the instance's postmaster if it runs and is ours (fast shutdown). */
export async function stopPostgres(paths: StatePaths, name: string): Promise<boolean> {
  const pid = runningPostgresPid(paths, name);
  if (pid === undefined) return false;
  // SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, no recovery needed later.
  await stopProcess(pid, 'SIGINT', 30_000);
  return true;
}
