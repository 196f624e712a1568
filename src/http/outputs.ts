import { lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BigIntStats } from 'node:fs';
import type { Readable } from 'node:stream';
import { mediaTypeFor } from '../storage/media-types.js';
import { openRegularFile } from '../storage/open-regular-file.js';
import type { OutputStore } from '../storage/output-store.js';
import type { HttpAnswer } from './send.js';

export const OUTPUTS_PATH = '/outputs/';

/** Files up to this size are read whole (and remembered); larger ones are streamed. */
const SMALL_FILE = 256 * 1024;
const CACHED_FILES = 512;

interface Cached {
  /** Inode, change time in nanoseconds and size: a replaced file differs in at least one. */
  version: string;
  body: Buffer;
}

const versionOf = (s: BigIntStats): string => `${s.ino}:${s.ctimeNs}:${s.size}`;

/**
 * Serves stored outputs and status documents. Only paths the store hands out are
 * served; anything else, traversal included, is a plain 404.
 *
 * Status documents are replaced (renamed over) while clients poll them. A file is
 * always read through one open handle and its length taken from that handle, so a
 * response is one whole version. Small files are remembered with the identity of
 * the version read (inode, change time, size): one stat tells whether the copy is still
 * the current file.
 */
export function outputsEndpoint(store: OutputStore) {
  const cache = new Map<string, Cached>();

  const notFound: HttpAnswer = { status: 404, contentType: 'text/plain; charset=utf-8', body: 'Not found\n' };

  const found = (rel: string, file: string, info: BigIntStats, body: Buffer | Readable): HttpAnswer => ({
    status: 200,
    contentType: mediaTypeFor(file),
    body,
    headers: {
      'content-length': String(info.size),
      'last-modified': info.mtime.toUTCString(),
      // Status documents (one path segment) change while a job runs; outputs never change.
      'cache-control': rel.includes('/') ? 'public, max-age=3600' : 'no-cache',
    },
  });

  /** `path` is the request's path, still percent-encoded. */
  return async (path: string): Promise<HttpAnswer> => {
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(OUTPUTS_PATH.length));
    } catch {
      rel = '';
    }
    const file = store.pathOf(rel);
    if (!file) return notFound;

    // Only regular files reached without a symbolic link (openRegularFile): lstat
    // here, so that a link is not even a cache hit.
    const current = await lstat(file, { bigint: true }).catch(() => undefined);
    if (!current?.isFile()) return notFound;
    const hit = cache.get(file);
    if (hit && hit.version === versionOf(current) && (dirname(file) === store.dir || (await isDirectory(dirname(file))))) {
      return found(rel, file, current, hit.body);
    }

    const handle = await openRegularFile(store.dir, file);
    if (!handle) return notFound;
    const info = await handle.stat({ bigint: true });
    // The stream closes the file when it ends or is destroyed (a HEAD, a client gone).
    if (info.size > SMALL_FILE) return found(rel, file, info, handle.createReadStream({ autoClose: true }));
    let body: Buffer;
    try {
      body = await handle.readFile();
    } finally {
      await handle.close();
    }
    cache.delete(file);
    cache.set(file, { version: versionOf(info), body });
    if (cache.size > CACHED_FILES) cache.delete(cache.keys().next().value!);
    return found(rel, file, info, body);
  };
}

const isDirectory = (path: string): Promise<boolean> =>
  lstat(path).then((s) => s.isDirectory(), () => false);
