import { existsSync } from 'node:fs';
import { loadFixture } from '#sandbox/fixture-schema.ts';
import { daemonStatus } from './daemon-process.ts';
import { mariadbStatus } from './mariadb-server.ts';
import { postgresStatus } from './postgres-server.ts';
import { instanceDirs } from './sandbox-down.ts';
import type { ServerStatus } from './server-context.ts';
import type { StatePaths } from './state-paths.ts';

/** One status per server in STATE (from the applied fixture, else the directories) + the daemon. */
export function sandboxStatus(paths: StatePaths): ServerStatus[] {
  const fixture = existsSync(paths.fixture) ? loadFixture(paths.fixture) : undefined;
  const instances = fixture
    ? fixture.instances.map((i) => ({ engine: i.engine, name: i.name }))
    : instanceDirs(paths);

  const servers = instances.map(({ engine, name }) =>
    engine === 'postgres' ? postgresStatus(paths, name) : mariadbStatus(paths, name),
  );
  return [...servers, daemonStatus(paths, fixture?.aws.port)];
}

/** The aligned lines `sandbox status` prints. */
export function formatStatus(statuses: ServerStatus[]): string[] {
  return statuses.map((s) =>
    [
      s.name.padEnd(12),
      s.engine.padEnd(9),
      String(s.port ?? '-').padEnd(6),
      `pid ${s.pid ?? '-'}`.padEnd(12),
      s.up ? 'up' : 'down',
    ].join(' '),
  );
}
