import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
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
      await makeOwnDirectory(path);
      await writeFile(tmp, data);
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Moves a file to `path` (its directory made if missing, never its parents, as
 * writeFileAtomic), or copies it with `keepOriginal`. Across file systems it is copied
 * beside the target first and then renamed, so a reader never sees part of it, and
 * the original is removed.
 */
export async function moveFileInto(file: string, path: string, { keepOriginal = false } = {}): Promise<void> {
  if (keepOriginal) {
    await copyInto(file, path).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await makeOwnDirectory(path);
      await copyInto(file, path);
    });
    return;
  }
  try {
    await rename(file, path);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await makeOwnDirectory(path);
      try {
        await rename(file, path);
        return;
      } catch (again) {
        if ((again as NodeJS.ErrnoException).code !== 'EXDEV') throw again;
      }
    } else if (code !== 'EXDEV') {
      throw err;
    }
  }
  await copyInto(file, path);
  await unlink(file);
}

/** Copies beside the target, then renames: a reader never sees part of it. */
async function copyInto(file: string, path: string): Promise<void> {
  const tmp = temporaryPathFor(path);
  try {
    await copyFile(file, tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Makes the directory `path` goes in, never its parents (a tree removed on purpose stays removed). */
async function makeOwnDirectory(path: string): Promise<void> {
  await mkdir(dirname(path)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}
