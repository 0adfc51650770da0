import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real servers (the embedded broker, child processes); give them room on a 2-core box.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Conformance files may target one shared external server (real Pulsar); keep files isolated.
    pool: 'forks',
  },
});
