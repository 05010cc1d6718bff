import { existsSync } from 'node:fs';
import type { Fixture } from '#sandbox/fixture-schema.ts';
import { runningDaemonPid } from './daemon-process.ts';
import {
  configuredMariadbPort,
  MARIADB_CLIENT,
  MARIADB_INSTALL_DB,
  MARIADBD,
  runningMariadbPid,
} from './mariadb-server.ts';
import { isPortFree } from './ports.ts';
import {
  configuredPostgresPort,
  findPostgresBinDir,
  runningPostgresPid,
} from './postgres-server.ts';
import { SandboxError } from './sandbox-error.ts';
import type { StatePaths } from './state-paths.ts';

/** Stops `up` before it starts anything when the caller is not root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new SandboxError(
      'SANDBOX_NOT_ROOT',
      'sandbox up, down and status must run as root (servers, /etc/hosts, PAM files, pid files)',
      'run it again with sudo',
    );
  }
}

/** Checks that every program the sandbox runs is installed; returns PostgreSQL's bin dir. */
export function requireBinaries(fixture: Fixture): string {
  const wanted = ['/usr/bin/openssl', '/usr/bin/gcc', '/usr/include/security/pam_modules.h'];
  if (fixture.instances.some((i) => i.engine === 'mysql')) {
    wanted.push(MARIADBD, MARIADB_INSTALL_DB, MARIADB_CLIENT);
  }
  const missing = wanted.filter((file) => !existsSync(file));
  const binDir = findPostgresBinDir();
  if (!binDir && fixture.instances.some((i) => i.engine === 'postgres')) {
    missing.push('/usr/lib/postgresql/<version>/bin/postgres');
  }
  if (missing.length > 0) {
    throw new SandboxError(
      'SANDBOX_BINARIES_MISSING',
      `missing ${missing.join(', ')}`,
      'install postgresql, mariadb-server, openssl, gcc, libc6-dev and libpam0g-dev with apt-get',
    );
  }
  return binDir ?? '';
}

/**
 * Every port the fixture needs must be free, unless the sandbox's own server already holds
 * it. Checked before anything starts, so a conflict leaves nothing half-started.
 */
export async function requireFreePorts(fixture: Fixture, paths: StatePaths): Promise<void> {
  const wanted: { port: number; owner: string; ours: boolean }[] = fixture.instances.map((i) => {
    const ours =
      i.engine === 'postgres'
        ? runningPostgresPid(paths, i.name) !== undefined &&
          configuredPostgresPort(paths, i.name) === i.port
        : runningMariadbPid(paths, i.name) !== undefined &&
          configuredMariadbPort(paths, i.name) === i.port;
    return { port: i.port, owner: `instances ${i.name}`, ours };
  });
  wanted.push({
    port: fixture.aws.port,
    owner: 'aws.port',
    ours: runningDaemonPid(paths) !== undefined,
  });

  for (const { port, owner, ours } of wanted) {
    if (ours || (await isPortFree(port))) continue;
    throw new SandboxError(
      'SANDBOX_PORT_IN_USE',
      `port ${port} (${owner}) is already in use by another program`,
      'stop that program or give the fixture another port (sandbox up --fixture FILE)',
    );
  }
}
