/**
 * Lambda bundle size and cold init time: each function's bundle built as serverless.yml
 * builds it (esbuild, ESM, minified with names kept, AWS SDK bundled, code splitting so that
 * the drivers and diagnosis clients are chunks loaded on first use, the plugins of
 * scripts/esbuild-lean.cjs) next to a naive bundle of the same dependencies (one file, not
 * minified, no lean plugins, pg, mysql2 and the SDK clients imported eagerly at init).
 *
 * "The bundle" is what a cold start loads: the handler file plus every chunk it imports
 * statically (from esbuild's metafile), not the handler file alone. The whole package (every
 * file in the function's zip, lazily loaded chunks included) is reported beside it.
 * Init time: a fresh `node` process imports the handler file, which creates the handler;
 * median of RUNS processes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';
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

interface Built {
  /** The handler file. */
  entry: string;
  /** Output files (absolute) loaded at init: the handler file and its static imports. */
  atInit: string[];
  /** Every output file: what the function's zip holds besides the config. */
  all: string[];
  metafile: Metafile;
}

interface Measured {
  /** Loaded at init. */
  bytes: number;
  /** Every file of the package. */
  packageBytes: number;
  /** Every file of the package, deflated as in the zip. */
  deflated: number;
  initMs: number[];
}

async function bundle(name: string, entry: string, lean: boolean): Promise<Built> {
  const outdir = join(OUT, `${name}-${lean ? 'lean' : 'naive'}`);
  rmSync(outdir, { recursive: true, force: true });
  let entryPoint = join(ROOT, entry);
  if (!lean) {
    // Same handler, but every driver and client evaluated at init, as a hand-rolled
    // bundle with static imports would.
    entryPoint = join(OUT, `${name}-naive-entry.ts`);
    const imports = EAGER.map((m) => `import '${m}';`).join('\n');
    writeFileSync(entryPoint, `${imports}\nexport { handler } from '${join(ROOT, entry)}';\n`);
  }
  const result = await build({
    entryPoints: [entryPoint],
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: lean,
    // As serverless.yml custom.esbuild: names kept (errorType), lazy imports split off.
    keepNames: lean,
    splitting: lean,
    banner,
    plugins: lean ? leanPlugins : [],
    metafile: true,
    logLevel: 'error',
    absWorkingDir: ROOT,
    nodePaths: [join(ROOT, 'node_modules')],
  });
  const { outputs } = result.metafile;
  const entryOutput = relative(ROOT, join(outdir, `${basename(entryPoint, '.ts')}.mjs`));
  if (!outputs[entryOutput]) throw new Error(`no output ${entryOutput} for ${entry}`);
  // Static imports are evaluated at init; dynamic ones (drivers, diagnosis) on first use.
  const atInit = new Set<string>();
  const pending = [entryOutput];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (atInit.has(file)) continue;
    atInit.add(file);
    for (const imported of outputs[file]!.imports) {
      if (imported.kind === 'import-statement' && outputs[imported.path])
        pending.push(imported.path);
    }
  }
  const absolute = (file: string) => join(ROOT, file);
  return {
    entry: absolute(entryOutput),
    atInit: [...atInit].map(absolute),
    all: Object.keys(outputs).map(absolute),
    metafile: result.metafile,
  };
}

/** The packages (or project folders) with the most bytes among the files loaded at init. */
function biggestAtInit(built: Built, count: number): string {
  const byPackage = new Map<string, number>();
  for (const file of built.atInit) {
    const output = built.metafile.outputs[relative(ROOT, file)]!;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/')[0]!;
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([pkg, bytes]) => `${pkg} ${kb(bytes)} kB`)
    .join(', ');
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

function measure(built: Built): Measured {
  const size = (files: string[]) => files.reduce((sum, f) => sum + readFileSync(f).length, 0);
  const deflated = built.all.reduce(
    (sum, f) => sum + deflateRawSync(readFileSync(f), { level: 9 }).length,
    0,
  );
  const initMs: number[] = [];
  for (let i = 0; i < RUNS; i++) initMs.push(initTime(built.entry));
  return { bytes: size(built.atInit), packageBytes: size(built.all), deflated, initMs };
}

const kb = (bytes: number) => (bytes / 1000).toFixed(0);
const ms = (value: number) => value.toFixed(1);

export default async function bundleBench(): Promise<BenchSection> {
  mkdirSync(OUT, { recursive: true });
  const rows: (string | number)[][] = [];
  const results: Record<string, Measured> = {};
  let canaryBuilt: Built | undefined;

  for (const [name, entry] of [
    ['canary', 'functions/canary.ts'],
    ['smoke', 'functions/smoke.ts'],
  ] as const) {
    for (const lean of [true, false]) {
      const built = await bundle(name, entry, lean);
      if (name === 'canary' && lean) canaryBuilt = built;
      const m = measure(built);
      const variant = lean ? 'as deployed' : 'naive';
      results[`${name}-${variant}`] = m;
      rows.push([
        name,
        variant,
        kb(m.bytes),
        kb(m.packageBytes),
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
      'Each function bundled as serverless.yml does (esbuild ESM, minified with names kept, ' +
      'AWS SDK v3 clients bundled, code splitting: drivers and diagnosis clients are chunks ' +
      'loaded on first use, scripts/esbuild-lean.cjs) and naively (one file, same ' +
      'dependencies, not minified, no lean plugins, pg, mysql2 and the SDK clients imported ' +
      'at init). "Loaded at init" is the handler file plus every chunk it imports statically ' +
      '(esbuild metafile); "package" is every file of the function, chunks loaded later ' +
      'included; "deflated" is the package compressed as in the deployment zip. Init: a ' +
      'fresh node process imports the handler file (which creates the handler), median and ' +
      `p90 of ${RUNS} processes.`,
    columns: [
      'function',
      'bundle',
      'loaded at init (kB)',
      'package (kB)',
      'package deflated (kB)',
      'init median (ms)',
      'init p90 (ms)',
    ],
    rows,
    notes: [
      `Canary bundle under 1.0 MB: ${under(canary.bytes)} for what a cold start loads ` +
        `(${kb(canary.bytes)} kB, handler file and its static chunks); ` +
        `${under(canary.packageBytes)} for the whole package (${kb(canary.packageBytes)} kB, ` +
        `with the chunks loaded on first use); ${under(canary.deflated)} for what is uploaded ` +
        `(${kb(canary.deflated)} kB deflated).`,
      `Against the naive bundle: ${(naive.bytes / canary.bytes).toFixed(1)}x less loaded at ` +
        `init, init ${ms(median(naive.initMs))} -> ${ms(median(canary.initMs))} ms at the median.`,
      `Biggest parts loaded at init by the canary: ${biggestAtInit(canaryBuilt!, 6)}. ` +
        'Loaded on first use instead: mysql2 (with iconv-lite and the RDS CA bundle), pg, ' +
        'and the RDS, IAM and CloudWatch Logs clients of diagnosis.',
      `Measured with ${process.version} on this machine; Lambda's arm64 cold start adds the ` +
        'runtime start and differs in absolute terms.',
    ],
  };
}
