// Bundles the CLI and the sandbox daemon into dist/ with esbuild (about 100 ms).
import { build } from 'esbuild';

const banner = {
  // pg and mysql2 are CommonJS and call require(); give the ESM bundle one.
  js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
};

await build({
  entryPoints: {
    cli: 'shared/cli/main.ts',
    'sandbox-daemon': 'sandbox/daemon/main.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  banner,
  sourcemap: 'linked',
  logLevel: 'warning',
  // Optional native add-ons of pg that the canary never uses.
  external: ['pg-native', 'cloudflare:sockets'],
});
