/**
 * Writes config.schema.json from the config's zod definition:
 *   npx tsx scripts/generate-config-schema.ts
 * test/unit/config-json-schema.test.ts fails when the checked-in file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { renderConfigJsonSchema } from '#shared/config/config-json-schema.ts';

const target = new URL('../config.schema.json', import.meta.url);
writeFileSync(target, renderConfigJsonSchema());
process.stdout.write(`wrote ${target.pathname}\n`);
