/**
 * Reads the canary config for packaging: the resolved targets, through the canary's own
 * loader (so the deployment sees exactly what the Lambda will check), and the top-level
 * `deploy:` block, which the canary validates but only the deployment reads:
 *
 * ```yaml
 * deploy:
 *   smokeOnStacks: [orders-db, payments-network]   # CloudFormation stack names
 * ```
 * When one of these stacks reaches CREATE_COMPLETE or UPDATE_COMPLETE, the smoke function
 * runs every target.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type CanaryConfig, loadConfig } from '#shared/config/load-config.ts';
import { deploySchema } from '#shared/config/schema.ts';

export interface DeploySettings {
  /** Stack names; empty: no EventBridge rule. */
  smokeOnStacks: string[];
}

export interface DeployConfig extends CanaryConfig {
  deploy: DeploySettings;
}

/**
 * Loads `path` (YAML or JSON) for packaging. `env` supplies the fallback region
 * (AWS_REGION: the deployment's region). Throws ConfigError naming the field.
 */
export function readDeployConfig(
  path: string,
  env: Record<string, string | undefined>,
): DeployConfig {
  // Validates the whole file, `deploy:` included, with the loader's error messages.
  const config = loadConfig(path, env);

  const raw = parseDocument(readFileSync(config.path, 'utf8')).toJS({ maxAliasCount: 50 });
  const block = typeof raw === 'object' && raw !== null ? raw.deploy : undefined;
  const deploy = deploySchema.parse(block ?? {});

  return { ...config, deploy: { smokeOnStacks: deploy.smokeOnStacks ?? [] } };
}
