import { readFile } from 'node:fs/promises';
import type { JobStore } from '../jobs/store.js';
import type { StatusPublisher } from './status-publisher.js';

const FINAL = /<wps:Process(Succeeded|Failed)\b/;

/**
 * Rewrites the status documents of finished jobs that still show an earlier state. A
 * job's row is committed first and its document written after; a process killed in
 * between leaves a job that has ended while its document says it runs, forever.
 * Looked at: the jobs finished since `since`, and the `newest` last finished (a lone
 * server restarted after a long stop finds its own among those). Rewriting is
 * idempotent, from the row, under the job's lock, so a write under way elsewhere is not
 * disturbed. A missing document is left alone: only retention removes one. Returns
 * how many were rewritten.
 */
export async function republishStaleDocuments(store: JobStore, publisher: StatusPublisher, since: Date, newest: number): Promise<number> {
  let rewritten = 0;
  for (const id of await store.recentlyFinished(since, newest)) {
    const xml = await readFile(publisher.statusPath(id), 'utf8').catch(() => undefined);
    if (xml === undefined || FINAL.test(xml)) continue;
    await publisher.publish(id);
    rewritten++;
  }
  return rewritten;
}
