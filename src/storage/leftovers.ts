import { opendir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMPORARY_NAME } from './atomic-write.js';

/**
 * Removes temporary files that a process killed in the middle of a write left in `dir`
 * (its top level: where status documents live; those under a job's own directories go
 * with the job at retention). Only files older than `olderThanMs` are taken, so a write
 * still under way, by this server or another sharing the storage, is never touched.
 * Returns how many were removed.
 */
export async function removeStaleTemporaryFiles(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for await (const name of filesIn(dir)) {
    if (!TEMPORARY_NAME.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info || now - info.mtimeMs < olderThanMs) continue;
    await rm(path, { force: true });
    removed++;
  }
  return removed;
}

/**
 * Removes the directories in `dir` not changed for `olderThanMs`: synchronous runs'
 * working directories a killed server left (a run in progress changes its own).
 * Returns how many were removed.
 */
export async function removeStaleDirectories(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for await (const name of entriesIn(dir, true)) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info || now - info.mtimeMs < olderThanMs) continue;
    await rm(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** The names of the files at the top of `dir`, read as they come; none if it does not exist. */
export const filesIn = (dir: string): AsyncGenerator<string> => entriesIn(dir, false);

async function* entriesIn(dir: string, directories: boolean): AsyncGenerator<string> {
  let entries;
  try {
    entries = await opendir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for await (const entry of entries) if (directories ? entry.isDirectory() : entry.isFile()) yield entry.name;
}
