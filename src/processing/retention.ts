import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobStore } from '../jobs/store.js';
import type { JobFiles } from '../storage/job-files.js';
import { statusDocumentName } from '../storage/output-store.js';

export interface RetentionDeps {
  store: JobStore;
  files: JobFiles;
  outputDir: string;
  retentionMs: number;
}

/**
 * Removes what finished jobs leave behind once the retention period has passed:
 * status document, outputs, job directory, and last the row (so a sweep cut short
 * is finished by the next one). Returns how many jobs were removed.
 */
export async function sweepExpiredJobs(d: RetentionDeps, now = Date.now()): Promise<number> {
  let removed = 0;
  for (;;) {
    const ids = await d.store.finishedBefore(new Date(now - d.retentionMs));
    if (ids.length === 0) return removed;
    for (const id of ids) {
      await rm(join(d.outputDir, statusDocumentName(id)), { force: true });
      await rm(join(d.outputDir, id), { recursive: true, force: true });
      await d.files.remove(id);
    }
    await d.store.removeMany(ids);
    removed += ids.length;
  }
}
