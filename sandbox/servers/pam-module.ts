import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { FixtureInstance } from '#sandbox/fixture-schema.ts';
import { runCommand } from './run-command.ts';
import type { StatePaths } from './state-paths.ts';

const PAM_DIR = '/etc/pam.d';
const SERVICE_PREFIX = 'rds-iam-canary-';
// The first line of every service file `up` writes: `down` removes only files that have it.
const MARKER = '# Written by `rds-iam-canary sandbox up`; `sandbox down` removes it.';

/** The PAM service an instance's IAM logins go through (over TLS). */
export function pamServiceName(instance: string, tls: 'required' | 'absent' = 'required'): string {
  return `${SERVICE_PREFIX}${instance}${tls === 'absent' ? '-notls' : ''}`;
}

/**
 * Compiles sandbox/pam/pam_rds_iam_canary.c into STATE/lib when the .so is missing or older
 * than its source. STATE/lib is root-owned 0755: PAM modules must not sit anywhere a database
 * user could replace them. Returns true when it compiled.
 */
export async function buildPamModule(source: string, paths: StatePaths): Promise<boolean> {
  mkdirSync(paths.libDir, { recursive: true, mode: 0o755 });
  chmodSync(paths.libDir, 0o755);
  if (
    existsSync(paths.pamModule) &&
    statSync(paths.pamModule).mtimeMs >= statSync(source).mtimeMs
  ) {
    return false;
  }

  const tmp = `${paths.pamModule}.tmp`;
  await runCommand('gcc', [
    '-shared',
    '-fPIC',
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-o',
    tmp,
    source,
    '-lpam',
  ]);
  chmodSync(tmp, 0o755);
  // rename, not overwrite: a running server may have the old module mapped.
  await runCommand('mv', ['-f', tmp, paths.pamModule]);
  return true;
}

/** The service files one instance needs: postgres gets a second, `-notls`, one. */
export function pamServiceFiles(instance: FixtureInstance, paths: StatePaths): Map<string, string> {
  const modes: ('required' | 'absent')[] =
    instance.engine === 'postgres' ? ['required', 'absent'] : ['required'];
  const files = new Map<string, string>();
  for (const tls of modes) {
    const args = `socket=${paths.verifierSocket} instance=${instance.name} tls=${tls}`;
    files.set(
      join(PAM_DIR, pamServiceName(instance.name, tls)),
      `${MARKER}\nauth required ${paths.pamModule} ${args}\naccount required pam_permit.so\n`,
    );
  }
  return files;
}

/** Writes the PAM service files of every instance; returns the paths it created anew. */
export function writePamServices(instances: FixtureInstance[], paths: StatePaths): string[] {
  const created: string[] = [];
  for (const instance of instances) {
    for (const [file, text] of pamServiceFiles(instance, paths)) {
      const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (existing === text) continue;
      if (existing === undefined) created.push(file);
      writeFileSync(file, text, { mode: 0o644 });
    }
  }
  return created;
}

/** Removes every PAM service file the sandbox wrote (those carrying its marker line). */
export function removePamServices(): string[] {
  if (!existsSync(PAM_DIR)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(PAM_DIR)) {
    if (!name.startsWith(SERVICE_PREFIX)) continue;
    const file = join(PAM_DIR, name);
    if (readFileSync(file, 'utf8').startsWith(MARKER)) {
      rmSync(file);
      removed.push(file);
    }
  }
  return removed;
}
