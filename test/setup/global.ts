import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/jobs/db.js';
import { migrate } from '../../src/jobs/migrations.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated PGlite data directory to copy: creating one costs seconds, copying it milliseconds. */
    pgliteTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'wps-pglite-template-'));
  const db = await openDatabase({ pgliteDir: dir });
  await migrate(db);
  await db.destroy();
  project.provide('pgliteTemplate', dir);
  return () => rm(dir, { recursive: true, force: true });
}
