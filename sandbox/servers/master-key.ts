import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SandboxError } from './sandbox-error.ts';

/**
 * The sandbox's one secret: 32 random bytes (64 hex chars) from which the daemon derives
 * every access key. Generated on the first `up`, then kept (0600, root) so that keys stay
 * stable across restarts.
 */
export function ensureMasterKey(path: string): string {
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(key)) {
      throw new SandboxError(
        'SANDBOX_MASTER_KEY_INVALID',
        `${path} is not 64 hex characters`,
        'delete it (every sandbox key changes) or run `sandbox down --purge`',
      );
    }
    return key;
  }

  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
