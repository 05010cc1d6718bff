/**
 * esbuild plugins for the Lambda bundles (serverless.yml `custom.esbuild.plugins`): leave
 * out code the canary never runs but that esbuild cannot tree-shake, because it is reached
 * through CommonJS requires or a namespace object.
 *
 * - iconv-lite's double-byte code pages (Shift_JIS, EUC-JP, GBK, Big5, EUC-KR tables,
 *   ~400 KB): mysql2 decodes through iconv-lite only for columns in those character sets.
 *   The canary's own query (`SELECT 1`) never returns one; a custom `query` that does gets
 *   a clear "encoding not recognized" QUERY_ERROR instead of wrong text.
 * - zod's translated error messages (every language but English, ~100 KB): the config
 *   loader reports in English.
 *
 * And with code splitting on (serverless.yml `splitting: true`), a function's chunks go in
 * `<dir>/<entry name>.chunks/`: serverless-esbuild's per-function zip leaves out every file
 * named after another function's bundle (`functions/smoke.*` from canary.zip), so each zip
 * holds its own chunks only.
 *
 * `npm run bench` (bench/bundle.bench.ts) measures the bundles with and without these.
 */
'use strict';

const path = require('node:path');

const chunksBesideEntry = {
  name: 'chunks-beside-entry',
  setup(build) {
    const options = build.initialOptions;
    const entries = Array.isArray(options.entryPoints) ? options.entryPoints : [];
    if (!options.splitting || options.chunkNames || entries.length !== 1) return;
    const entry = typeof entries[0] === 'string' ? entries[0] : entries[0].in;
    const name = path.basename(entry, path.extname(entry));
    options.chunkNames = `${name}.chunks/[name]-[hash]`;
  },
};

const leanIconv = {
  name: 'lean-iconv-lite',
  setup(build) {
    build.onResolve({ filter: /^\.\/dbcs-data$/ }, (args) =>
      /[\\/]iconv-lite[\\/]encodings$/.test(args.resolveDir)
        ? { path: 'iconv-lite-dbcs-data', namespace: 'lean-stub' }
        : undefined,
    );
    build.onLoad({ filter: /^iconv-lite-dbcs-data$/, namespace: 'lean-stub' }, () => ({
      contents: 'module.exports = {};',
      loader: 'js',
    }));
  },
};

const leanZodLocales = {
  name: 'lean-zod-locales',
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/][\w-]+\.js$/ }, (args) => {
      if (/[\\/](en|index)\.js$/.test(args.path)) return undefined;
      return {
        contents: 'export default function () { return { localeError: () => undefined }; }',
        loader: 'js',
      };
    });
  },
};

module.exports = [leanIconv, leanZodLocales, chunksBesideEntry];
