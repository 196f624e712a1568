import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobStore } from '../jobs/store.js';
import { filesIn } from '../storage/leftovers.js';
import { STATUS_DOCUMENT_NAME, statusDocumentName } from '../storage/output-store.js';

/** Ids looked up in the store at once. */
const CHUNK = 1000;

/**
 * Removes status documents that have no job: a submission writes its document and its
 * row at the same time, and a server that dies between the two can leave the document
 * alone. Nobody was told its location, so it can go; but only once it was written
 * before `writtenBefore`, so a submission still under way, on this server or another
 * sharing the storage, keeps its document. Returns how many were removed.
 */
export async function removeOrphanDocuments(store: JobStore, outputDir: string, writtenBefore: Date): Promise<number> {
  let removed = 0;
  let ids: string[] = [];
  const settle = async () => {
    const known = await store.existing(ids);
    for (const id of ids) {
      if (known.has(id)) continue;
      const path = join(outputDir, statusDocumentName(id));
      const info = await stat(path).catch(() => undefined);
      if (!info || info.mtimeMs >= writtenBefore.getTime()) continue;
      // Looked up again just before: the row may have been committed since the first look.
      if ((await store.existing([id])).has(id)) continue;
      await rm(path, { force: true });
      removed++;
    }
    ids = [];
  };
  for await (const name of filesIn(outputDir)) {
    const id = STATUS_DOCUMENT_NAME.exec(name)?.[1];
    if (!id) continue;
    ids.push(id);
    if (ids.length >= CHUNK) await settle();
  }
  await settle();
  return removed;
}
