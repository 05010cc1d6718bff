import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigJsonSchema } from '#shared/config/config-json-schema.ts';

describe('config.schema.json', () => {
  it('is current with the zod definition (npx tsx scripts/generate-config-schema.ts)', () => {
    const checkedIn = readFileSync(new URL('../../config.schema.json', import.meta.url), 'utf8');

    expect(checkedIn).toBe(renderConfigJsonSchema());
  });

  it('refuses unknown keys for editors too', () => {
    const schema = JSON.parse(renderConfigJsonSchema());

    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.targets.items.additionalProperties).toBe(false);
    expect(schema.properties.targets.items.required).toEqual(['name', 'host']);
  });
});
