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
 * The directory is created when it is missing (not checked on every write). A write
 * that fails leaves no temporary file behind (on a full disk it would keep the space).
 */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const dir = dirname(path);
  const tmp = temporaryPathFor(path);
  try {
    try {
      await writeFile(tmp, data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dir, { recursive: true });
      await writeFile(tmp, data);
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
