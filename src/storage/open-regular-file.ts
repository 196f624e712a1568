import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Opens a file to serve it, only if it is a regular file reached without a symbolic
 * link: neither the file itself nor its directory under `root` may be one. A process
 * or a job that leaves a link to /etc/shadow among its outputs or logs gets a 404,
 * not the file. Undefined for anything else, missing files included.
 */
export async function openRegularFile(root: string, path: string): Promise<FileHandle | undefined> {
  if (!(await directoryReachedWithoutLink(root, path))) return undefined;
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) return undefined;
  const info = await handle.stat().catch(() => undefined);
  if (info?.isFile()) return handle;
  await handle.close();
  return undefined;
}

/** Whether `path`'s directory is `root` itself, or a real directory below it (not a link). */
export async function directoryReachedWithoutLink(root: string, path: string): Promise<boolean> {
  const dir = dirname(path);
  return dir === root || (await lstat(dir).then((s) => s.isDirectory(), () => false));
}
