import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons (the sampler, SQLite) and real servers: separate processes are the honest isolation.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: timing-sensitive suites (attribution, end-to-end) must not fight each other for CPU.
    fileParallelism: false,
    reporters: ['default'],
  },
});
