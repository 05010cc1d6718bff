import { createHash, createHmac } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { lookupUser } from './run-command.ts';

/** Creates a directory (and parents) and gives it to `owner` with `mode`. */
export function ensureOwnedDir(path: string, owner: string, mode: number): void {
  const { uid, gid } = lookupUser(owner);
  mkdirSync(path, { recursive: true });
  chownSync(path, uid, gid);
  chmodSync(path, mode);
}

/**
 * Writes `content` to `path` owned by `owner` with `mode`, unless it already holds exactly
 * that. Returns true when the content changed (so a running server knows to reload).
 */
export function writeOwnedFile(path: string, content: string, owner: string, mode: number) {
  const changed = !existsSync(path) || readFileSync(path, 'utf8') !== content;
  if (changed) writeFileSync(path, content, { mode });
  const { uid, gid } = lookupUser(owner);
  chownSync(path, uid, gid);
  chmodSync(path, mode);
  return changed;
}

/**
 * The password of an instance's `sandbox_admin`, derived from the master key so that it is
 * stable across `up` runs without being stored anywhere but env.json.
 */
export function deriveAdminPassword(masterKeyHex: string, instance: string): string {
  return createHmac('sha256', Buffer.from(masterKeyHex, 'hex'))
    .update(`sandbox_admin:${instance}`)
    .digest('base64url')
    .slice(0, 32);
}

/** A short digest of what was applied to a server, to skip re-applying the same thing. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
