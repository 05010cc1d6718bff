import * as z from 'zod/mini';
import { configFileSchema } from './schema.ts';

/**
 * config.schema.json, for editors (YAML language server, VS Code): generated from the same
 * zod definition the loader validates with, as the input shape (defaults optional). Draft 7
 * is the draft editors support best. Rules a JSON Schema cannot say (unique names, region
 * inference) are checked by the loader only.
 */
export function renderConfigJsonSchema(): string {
  const schema = z.toJSONSchema(configFileSchema, { io: 'input', target: 'draft-7' });
  const { $schema, ...rest } = schema;
  const document = {
    $schema,
    title: 'rds-iam-canary configuration',
    description:
      'Targets the canary logs in to with IAM database authentication. See the Configuration section of README.md.',
    ...rest,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
