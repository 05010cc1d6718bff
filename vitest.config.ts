import { defineConfig } from 'vitest/config';

// CI sets this to get a machine-readable copy of the results (.ci/run prints the totals
// line from it) while running the README's test command unchanged.
const jsonReport = process.env.CANARY_TEST_REPORT;

export default defineConfig({
  test: {
    reporters: jsonReport ? ['default', 'json'] : ['default'],
    ...(jsonReport ? { outputFile: { json: jsonReport } } : {}),
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests share one sandbox (its servers, its hosts entries): run files one
    // at a time so a test that changes the sandbox's state cannot race another file.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
