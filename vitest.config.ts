import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

// CI asks for a machine-readable summary beside the usual console report.
const resultsFile = process.env.DUET_TEST_RESULTS;

export default defineConfig({
  // Tests and examples import the package by name, as users do; here it is the source.
  resolve: { alias: { 'duet-tf': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    reporters: resultsFile ? ['default', 'json'] : ['default'],
    outputFile: resultsFile ? { json: resultsFile } : undefined,
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // tfjs kernels are CPU-bound: two forks match the 2-core CI machine.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
