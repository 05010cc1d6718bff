import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * STATE/secrets/master.key: 64 hex characters from which every sandbox secret is derived.
 * Created (0600, in a 0700 directory) when missing.
 */
export function loadOrCreateMasterKey(stateDir: string): string {
  const dir = join(stateDir, 'secrets');
  const path = join(dir, 'master.key');

  if (!existsSync(path)) {
    // STATE itself stays 0755 (the database servers' users reach STATE/run through it).
    mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
    } catch (error) {
      // Another process made it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }

  const key = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(key)) {
    throw new Error(`${path} does not hold 64 hex characters: remove it to have a new one made`);
  }
  return key.toLowerCase();
}
