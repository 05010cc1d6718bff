import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FixtureInstance } from '#sandbox/fixture-schema.ts';
import { deriveAdminPassword, digestOf, ensureOwnedDir, writeOwnedFile } from './owned-files.ts';
import { pamServiceName } from './pam-module.ts';
import { ADMIN_USER } from './postgres-server.ts';
import { ownedPid, processCommandLine, stopProcess, waitFor } from './processes.ts';
import { runCommand } from './run-command.ts';
import { SandboxError } from './sandbox-error.ts';
import type { ServerContext, ServerStatus } from './server-context.ts';
import type { StatePaths } from './state-paths.ts';

export const MARIADBD = '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB = '/usr/bin/mariadb-install-db';
export const MARIADB_CLIENT = '/usr/bin/mariadb';
// The v1 PAM plugin runs PAM inside mariadbd (as the mysql user). The v2 plugin needs the
// setuid auth_pam_tool, which some images lack; the verifier is a socket away, so v1 is
// enough and needs no root.
const PAM_PLUGIN = 'auth_pam_v1.so';

function layout(paths: StatePaths, name: string) {
  const dir = paths.mysqlDir(name);
  return {
    dir,
    data: join(dir, 'data'),
    config: join(dir, 'my.cnf'),
    socket: join(dir, 'mysqld.sock'),
    pidFile: join(dir, 'mysqld.pid'),
    log: join(dir, 'error.log'),
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    applied: join(dir, 'applied.sha256'),
  };
}

/** The pid of the instance's mariadbd when it runs (and is ours). */
export function runningMariadbPid(paths: StatePaths, name: string): number | undefined {
  const files = layout(paths, name);
  return ownedPid(files.pidFile, files.config);
}

/** The port the instance was last configured with, from the my.cnf `up` wrote. */
export function configuredMariadbPort(paths: StatePaths, name: string): number | undefined {
  const { config } = layout(paths, name);
  if (!existsSync(config)) return undefined;
  const match = /^port=(\d+)$/m.exec(readFileSync(config, 'utf8'));
  return match ? Number(match[1]) : undefined;
}

export function mariadbStatus(paths: StatePaths, name: string): ServerStatus {
  const pid = runningMariadbPid(paths, name);
  const port = configuredMariadbPort(paths, name);
  return { name, engine: 'mysql', port, pid, up: pid !== undefined };
}

function serverConfig(instance: FixtureInstance, files: ReturnType<typeof layout>): string {
  return [
    '# Written by `rds-iam-canary sandbox up`. Read with --defaults-file only: the system',
    '# configuration in /etc/mysql is never read.',
    '[mariadbd]',
    'user=mysql',
    `datadir=${files.data}`,
    `port=${instance.port}`,
    'bind-address=127.0.0.1',
    `socket=${files.socket}`,
    `pid-file=${files.pidFile}`,
    `log-error=${files.log}`,
    'skip-name-resolve',
    `ssl-ca=${files.ca}`,
    `ssl-cert=${files.cert}`,
    `ssl-key=${files.key}`,
    `plugin-load-add=${PAM_PLUGIN}`,
    // Read-only once the server runs: it must be set here. It makes the server ask the
    // client for mysql_clear_password, which drivers send as is (RDS does the same).
    'pam-use-cleartext-plugin=ON',
    // A sandbox: small buffers, no binary log, no performance schema.
    'innodb-buffer-pool-size=16M',
    'innodb-log-file-size=16M',
    'innodb-flush-log-at-trx-commit=2',
    'innodb-use-native-aio=0',
    'key-buffer-size=1M',
    'max-connections=60',
    'performance-schema=OFF',
    'skip-log-bin',
    '',
  ].join('\n');
}

/**
 * Brings one private mariadbd to the fixture's state: datadir created on first use, its own
 * my.cnf (port, socket, TLS, PAM plugin), started detached as the mysql user, the fixture's
 * users, databases and grants applied when they changed.
 */
export async function ensureMariadb(instance: FixtureInstance, ctx: ServerContext): Promise<void> {
  const files = layout(ctx.paths, instance.name);
  const adminPassword = deriveAdminPassword(ctx.masterKey, instance.name);
  ensureOwnedDir(ctx.paths.root, 'root', 0o755);
  ensureOwnedDir(files.dir, 'mysql', 0o750);

  const tlsChanged = [
    writeOwnedFile(files.ca, readFileSync(ctx.paths.caCert, 'utf8'), 'mysql', 0o644),
    writeOwnedFile(files.cert, readFileSync(ctx.paths.serverCert, 'utf8'), 'mysql', 0o644),
    writeOwnedFile(files.key, readFileSync(ctx.paths.serverKey, 'utf8'), 'mysql', 0o600),
  ].some(Boolean);
  const confChanged = writeOwnedFile(files.config, serverConfig(instance, files), 'root', 0o644);

  let pid = runningMariadbPid(ctx.paths, instance.name);
  if (pid !== undefined && confChanged) {
    await stopMariadb(ctx.paths, instance.name);
    pid = undefined;
  }

  if (!existsSync(join(files.data, 'mysql'))) {
    await installDatadir(files);
    ctx.log(`${instance.name}: created a MariaDB datadir in ${files.data}`);
  }

  if (pid === undefined) {
    await startMariadb(files);
    ctx.onStarted(`mariadb ${instance.name}`, async () => {
      await stopMariadb(ctx.paths, instance.name);
    });
    ctx.log(`${instance.name}: MariaDB started on 127.0.0.1:${instance.port}`);
  } else if (tlsChanged || ctx.certificateChanged) {
    await runSql(files.socket, 'FLUSH SSL;');
    ctx.log(`${instance.name}: MariaDB reloaded its certificate`);
  }

  const digest = digestOf({ instance, adminPassword });
  if (existsSync(files.applied) && readFileSync(files.applied, 'utf8') === digest) return;
  await runSql(files.socket, fixtureSql(instance, adminPassword)).catch((error: unknown) => {
    // The client's message names the failing statement's error, never the statement itself.
    const firstLine = (error as Error).message.split(' / ')[0]?.split(': ').at(-1);
    throw new SandboxError(
      'SANDBOX_APPLY_FAILED',
      `${instance.name}: MariaDB refused the fixture: ${firstLine}`,
      "fix that instance's users or databases in the fixture",
      { cause: error },
    );
  });
  writeFileSync(files.applied, digest);
  ctx.log(`${instance.name}: users, databases and grants applied`);
}

async function installDatadir(files: ReturnType<typeof layout>) {
  rmSync(files.data, { recursive: true, force: true });
  rmSync(files.applied, { force: true });
  await runCommand(MARIADB_INSTALL_DB, [
    `--defaults-file=${files.config}`,
    '--user=mysql',
    '--skip-test-db',
    '--auth-root-authentication-method=socket',
  ]);
}

async function startMariadb(files: ReturnType<typeof layout>) {
  rmSync(files.pidFile, { force: true });
  const child = spawn(MARIADBD, [`--defaults-file=${files.config}`], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.unref();

  const ready = await waitFor(async () => {
    if (exited) return true;
    if (!existsSync(files.socket) || !existsSync(files.pidFile)) return false;
    return runSql(files.socket, 'SELECT 1;').then(
      () => true,
      () => false,
    );
  }, 30_000);
  if (ready && !exited) return;

  if (child.pid && processCommandLine(child.pid)) await stopProcess(child.pid, 'SIGKILL', 5_000);
  const tail = existsSync(files.log)
    ? readFileSync(files.log, 'utf8').trim().split('\n').slice(-2).join(' / ')
    : 'no log';
  throw new SandboxError(
    'SANDBOX_SERVER_START_FAILED',
    `mariadbd for ${files.config} did not start (${tail})`,
    `read ${files.log}`,
  );
}

/** Runs SQL as root over the instance's socket (unix_socket authentication: we are root). */
function runSql(socket: string, sql: string) {
  return runCommand(
    MARIADB_CLIENT,
    ['--no-defaults', `--socket=${socket}`, '--user=root', '--batch', '--skip-ssl'],
    { input: sql, timeoutMs: 30_000 },
  );
}

function literal(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

function identifier(value: string): string {
  return `\`${value.replaceAll('`', '``')}\``;
}

/** The statements that make the server match the fixture; safe to run again. */
export function fixtureSql(instance: FixtureInstance, adminPassword: string): string {
  const service = pamServiceName(instance.name);
  const lines = [
    `CREATE OR REPLACE USER ${literal(ADMIN_USER)}@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${literal(adminPassword)});`,
    `GRANT ALL PRIVILEGES ON *.* TO ${literal(ADMIN_USER)}@'%' WITH GRANT OPTION;`,
  ];
  for (const database of instance.databases) {
    lines.push(`CREATE DATABASE IF NOT EXISTS ${identifier(database)};`);
  }
  for (const user of instance.users) {
    const account = `${literal(user.name)}@'%'`;
    if (user.iam) {
      lines.push(
        `CREATE OR REPLACE USER ${account} IDENTIFIED VIA pam USING ${literal(service)} REQUIRE SSL;`,
      );
    } else {
      const password = user.password ? `USING PASSWORD(${literal(user.password)})` : '';
      lines.push(
        `CREATE OR REPLACE USER ${account} IDENTIFIED VIA mysql_native_password ${password};`,
      );
    }
    for (const database of instance.databases) {
      lines.push(`GRANT SELECT ON ${identifier(database)}.* TO ${account};`);
    }
  }
  lines.push('FLUSH PRIVILEGES;', '');
  return lines.join('\n');
}

/** Stops the instance's mariadbd if it runs and is ours (SIGTERM: a clean shutdown). */
export async function stopMariadb(paths: StatePaths, name: string): Promise<boolean> {
  const pid = runningMariadbPid(paths, name);
  if (pid === undefined) return false;
  await stopProcess(pid, 'SIGTERM', 30_000);
  return true;
}
