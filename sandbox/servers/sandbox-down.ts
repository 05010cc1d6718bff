import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Fixture } from '#sandbox/fixture-schema.ts';
import { stopDaemon } from './daemon-process.ts';
import { removeHostsBlock } from './hosts-file.ts';
import { stopMariadb } from './mariadb-server.ts';
import { removePamServices } from './pam-module.ts';
import { stopPostgres } from './postgres-server.ts';
import { requireRoot } from './preflight.ts';
import type { StatePaths } from './state-paths.ts';

/** The instance directories under STATE/pg and STATE/mysql. */
export function instanceDirs(paths: StatePaths): { engine: 'postgres' | 'mysql'; name: string }[] {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return [
    ...list(join(paths.root, 'pg')).map((name) => ({ engine: 'postgres' as const, name })),
    ...list(join(paths.root, 'mysql')).map((name) => ({ engine: 'mysql' as const, name })),
  ];
}

async function stopServer(paths: StatePaths, engine: 'postgres' | 'mysql', name: string) {
  return engine === 'postgres' ? stopPostgres(paths, name) : stopMariadb(paths, name);
}

/** Stops servers in STATE that the fixture no longer lists; returns their names. */
export async function stopOrphanServers(paths: StatePaths, fixture: Fixture): Promise<string[]> {
  const stopped: string[] = [];
  for (const { engine, name } of instanceDirs(paths)) {
    if (fixture.instances.some((i) => i.name === name && i.engine === engine)) continue;
    if (await stopServer(paths, engine, name)) stopped.push(name);
  }
  return stopped;
}

/**
 * `sandbox down`: stops the processes whose pid files are in STATE (and only those), removes
 * the hosts block and the PAM service files; with `purge`, deletes STATE as well.
 */
export async function sandboxDown(
  paths: StatePaths,
  purge: boolean,
  log: (line: string) => void,
): Promise<void> {
  requireRoot();
  if (await stopDaemon(paths)) log('daemon: stopped');
  for (const { engine, name } of instanceDirs(paths)) {
    if (await stopServer(paths, engine, name)) log(`${name}: ${engine} stopped`);
  }
  if (removeHostsBlock()) log('hosts: sandbox names removed from /etc/hosts');
  for (const file of removePamServices()) log(`pam: removed ${file}`);
  if (purge && existsSync(paths.root)) {
    rmSync(paths.root, { recursive: true, force: true });
    log(`removed ${paths.root}`);
  }
}
