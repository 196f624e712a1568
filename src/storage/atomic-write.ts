import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Where an atomic write of `path` puts its data first: `.<name>.<12 hex>.tmp` beside it. */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The names `temporaryPathFor` gives (to find those a killed process left). */
export const TEMPORARY_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Writes a file so that a reader sees either the old content or the new one, never a
 * mix: the data goes to a temporary file beside the target, which is then renamed.
 * A write that fails leaves no temporary file behind (on a full disk it would keep the space).
 *
 * With `createDirectory`, the file's own directory is made when it is missing (found
 * out by the write, not checked first), never its parents: a storage tree removed on
 * purpose is not brought back by a write that arrives late. Without it, the directory
 * must exist (a job's files go only where the dispatcher made the job's directory).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, { createDirectory = false } = {}): Promise<void> {
  const tmp = temporaryPathFor(path);
  try {
    try {
      await writeFile(tmp, data);
    } catch (err) {
      if (!createDirectory || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(path)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      await writeFile(tmp, data);
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
