import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { runCommand } from './run-command.ts';
import { SandboxError } from './sandbox-error.ts';

/**
 * What the sandbox needs from Debian: the two database servers, openssl for the private
 * CA, and gcc with the PAM headers for the PAM module.
 */
export const REQUIRED_PACKAGES = [
  'postgresql',
  'mariadb-server',
  'openssl',
  'gcc',
  'libc6-dev',
  'libpam0g-dev',
] as const;

// While apt-get runs, a policy-rc.d that exits 101 keeps package scripts from starting
// (or restarting) services: the system PostgreSQL and MariaDB must stay untouched.
const POLICY_RC = '/usr/sbin/policy-rc.d';

/** The packages of `names` that dpkg does not report as installed. */
export async function findMissingPackages(names: readonly string[]): Promise<string[]> {
  // dpkg-query exits 1 when a name is unknown to it, and still lists the others.
  const result = await runCommand(
    'dpkg-query',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    ['-W', '-f=${Package} ${Status}\\n', ...names],
    { timeoutMs: 30_000, okExitCodes: [0, 1] },
  );

  const installed = new Set(
    result.stdout
      .split('\n')
      .filter((line) => line.endsWith(' install ok installed'))
      .map((line) => line.split(' ')[0]),
  );
  return names.filter((name) => !installed.has(name));
}

/**
 * Installs the missing packages (apt-get update once, then install without recommends),
 * with services kept from starting. A machine that has them all installs nothing.
 * Returns the names installed.
 */
export async function ensurePackages(log: (line: string) => void): Promise<string[]> {
  const missing = await findMissingPackages(REQUIRED_PACKAGES);
  if (missing.length === 0) return [];

  log(`installing ${missing.join(', ')} with apt-get`);
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) writeFileSync(POLICY_RC, '#!/bin/sh\nexit 101\n', { mode: 0o755 });

  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await runCommand('apt-get', ['update'], { env, timeoutMs: 300_000 });
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      env,
      timeoutMs: 600_000,
    });
  } catch (error) {
    throw new SandboxError(
      'SANDBOX_PACKAGES_MISSING',
      `cannot install ${missing.join(', ')}`,
      `install them with apt-get (${(error as Error).message})`,
      { cause: error },
    );
  } finally {
    if (ownPolicy) unlinkSync(POLICY_RC);
  }
  return missing;
}
