import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The deployment's own run: `npm run test:deploy` (vitest.deploy.config.ts).
    exclude: ['test/deploy/**', '**/node_modules/**'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Files in parallel: most of a file's time is spent waiting on servers, batch systems
    // and child processes, not on this 2-core machine's CPU. One at a time (vitest's
    // default here) took 325 s, three at once 134-144 s, four 130 s.
    maxWorkers: 3,
    // Runners started by test servers log into the test output; keep only errors there.
    env: { WPS_LOG_LEVEL: 'error' },
  },
});
