#!/usr/bin/env node
// The CLI is bundled into dist/ by `npm run build` (the demo and test scripts run it).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  console.error('rds-iam-canary: dist/cli.mjs is missing: run `npm run build` first');
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
