import { defineConfig } from 'vitest/config';

// `npm run test:deploy`: the docker compose deployment, built and run (test/deploy/).
export default defineConfig({
  test: {
    include: ['test/deploy/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 30 * 60_000,
    // One stack at a time: its tests follow one another (the scheduler changes, the server is killed).
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
