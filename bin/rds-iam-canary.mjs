#!/usr/bin/env node
// The CLI is bundled into dist/ by `npm run build` (the demo and test scripts run it).
import { existsSync } from 'node:fs';

// The AWS SDK warns on every run under Node 20 that future releases will need Node 22; the
// Lambda runtime is nodejs22.x, so on a laptop that notice is noise. Other warnings print.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (!`${warning.name} ${warning.message}`.includes('NodeVersionSupportWarning'))
    process.stderr.write(`${warning.stack ?? warning}\n`);
});

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  console.error('rds-iam-canary: dist/cli.mjs is missing: run `npm run build` first');
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
