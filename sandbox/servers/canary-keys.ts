import { deriveUserKeys } from '#sandbox/daemon/credentials.ts';
import type { Fixture } from '#sandbox/fixture-schema.ts';
import type { AccessKeys } from './env-file.ts';

/**
 * The long-term access key of the fixture's first IAM user (the canary's own credentials),
 * derived from the master key exactly as the daemon derives it.
 */
export function canaryAccessKeys(fixture: Fixture, masterKeyHex: string): AccessKeys {
  const user = fixture.users[0];
  if (!user) return { accessKeyId: '', secretAccessKey: '' };
  const keys = deriveUserKeys(masterKeyHex, user.arn);
  return { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey };
}
