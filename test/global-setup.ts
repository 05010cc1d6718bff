/**
 * vitest globalSetup: brings the sandbox up once before any test file runs (`sandbox up` is
 * idempotent: with everything up it only checks). Needs root, and the bundles that
 * `npm test` builds first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../bin/rds-iam-canary.mjs', import.meta.url));
const bundle = fileURLToPath(new URL('../dist/cli.mjs', import.meta.url));

export default function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the tests need the sandbox, and `sandbox up` needs root: run `sudo npm test` (or as root)',
    );
  }
  if (!existsSync(bundle)) {
    throw new Error(`${bundle} is missing: run \`npm run build\` (npm test builds first)`);
  }

  const result = spawnSync(process.execPath, [cli, 'sandbox', 'up'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) {
    const why = result.stderr.trim().split('\n').at(-1) ?? result.error?.message ?? 'no output';
    throw new Error(`\`rds-iam-canary sandbox up\` failed (exit ${result.status}): ${why}`);
  }
}
