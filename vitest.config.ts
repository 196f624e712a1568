import { defineConfig } from 'vitest/config';
import HeaviestFirst from './test/setup/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The deployment's own run: `npm run test:deploy` (vitest.deploy.config.ts).
    exclude: ['test/deploy/**', '**/node_modules/**'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A worker imports the sources once rather than once per file; no test relies on
    // fresh module state.
    isolate: false,
    // Files in parallel, as many as keep both cores busy (docs/architecture.md has the
    // measurements): more workers only slow each file down.
    maxWorkers: 3,
    // The heaviest files first, so the short ones fill in beside them.
    sequence: { sequencer: HeaviestFirst },
    // Runners started by test servers log into the test output; keep only errors there.
    env: { WPS_LOG_LEVEL: 'error' },
  },
});
