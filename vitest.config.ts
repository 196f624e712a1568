import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Runners started by test servers log into the test output; keep only errors there.
    env: { WPS_LOG_LEVEL: 'error' },
  },
});
