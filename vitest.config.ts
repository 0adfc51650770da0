import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real servers (the embedded broker, child processes); give them room on a 2-core box.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Conformance files may target one shared external server (real Pulsar); keep files isolated.
    pool: 'forks',
    // CI also writes a JSON report, which .ci/run turns into a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
