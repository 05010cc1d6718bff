/**
 * serverless.yml reads the parts it takes from the canary config through this file:
 *
 *   role statements, alarms, dashboard: ${file(./scripts/iam-from-config.cjs):resources}
 *   the smoke trigger:                  ${file(./scripts/iam-from-config.cjs):smokeEvents}
 *   VPC settings:                       ${file(./scripts/iam-from-config.cjs):vpc}
 *   files to package:                   ${file(./scripts/iam-from-config.cjs):packagePatterns}
 *
 * The Serverless Framework (osls, v3 variables) `require`s only `.js` and `.cjs` files and
 * calls an exported function with `{ resolveConfigurationProperty, resolveVariable }`. The
 * logic lives in TypeScript (scripts/deploy/deploy-plan.ts), bundled here with esbuild into
 * a temporary CommonJS file and required; it reads only local files, so packaging works
 * offline and without AWS credentials.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/**
 * Loads a TypeScript module from this CommonJS file: bundled (its npm dependencies
 * included) into a temporary .cjs file, required, then removed.
 */
async function requireTypeScript(entry) {
  const esbuild = require('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rds-iam-canary-deploy-'));
  const outfile = path.join(dir, 'module.cjs');
  try {
    await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'error',
    });
    return require(outfile);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One plan per process (each variable above asks for its own piece). */
let planPromise;

async function loadPlan({ resolveConfigurationProperty }) {
  if (!planPromise) {
    planPromise = (async () => {
      const [service, stage, region, params] = await Promise.all([
        resolveConfigurationProperty(['service']),
        resolveConfigurationProperty(['provider', 'stage']),
        resolveConfigurationProperty(['provider', 'region']),
        resolveConfigurationProperty(['custom', 'canary']),
      ]);
      const { buildDeployPlan } = await requireTypeScript(
        path.join(__dirname, 'deploy/deploy-plan.ts'),
      );
      const serviceDir = path.resolve(__dirname, '..');
      const configFile = path.resolve(serviceDir, params.configFile);
      if (!fs.existsSync(configFile)) {
        throw Object.assign(
          new Error(
            `${params.configFile} does not exist: copy examples/canary.example.yaml to ` +
              'canary.yaml and edit it, or pass --param="configFile=PATH" (relative to serverless.yml)',
          ),
          { code: 'INVALID_INPUT' },
        );
      }
      return buildDeployPlan({
        ...params,
        service,
        stage,
        region,
        serviceDir,
        configFile,
      });
    })();
  }
  try {
    return await planPromise;
  } catch (error) {
    // Never keep a failure: osls asks again once a variable the plan depends on (a param)
    // can be resolved (MISSING_VARIABLE_DEPENDENCY on the first pass).
    planPromise = undefined;
    if (error && error.code === 'MISSING_VARIABLE_DEPENDENCY') throw error;
    // One clear line for a config problem (it names the field and the fix), not a stack.
    if (error && error.code === 'INVALID_INPUT') {
      const where = error.file ? ` ${path.relative(process.cwd(), error.file)}` : '';
      const clear = new Error(`canary config${where}: ${error.message}`);
      clear.stack = clear.message;
      throw clear;
    }
    throw error;
  }
}

module.exports = {
  resources: async (ctx) => (await loadPlan(ctx)).resources,
  smokeEvents: async (ctx) => (await loadPlan(ctx)).smokeEvents,
  vpc: async (ctx) => (await loadPlan(ctx)).vpc,
  packagePatterns: async (ctx) => (await loadPlan(ctx)).packagePatterns,
};
