import { fileURLToPath } from 'node:url';

/**
 * This install's compiled CLI: what schedulers run for a job, and what the server
 * starts its helper processes with (warm runners, the embedded database). Under the
 * test runner this module is loaded from source; the children still run the built one.
 */
export const MAIN_SCRIPT = import.meta.url.endsWith('.ts')
  ? fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url))
  : fileURLToPath(new URL('./cli/main.js', import.meta.url));
