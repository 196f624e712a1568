import { lstat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { mediaTypeFor } from '../storage/media-types.js';
import { wantedPart } from './byte-ranges.js';
import { directoryReachedWithoutLink, openRegularFile } from '../storage/open-regular-file.js';
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
export function outputsEndpoint(store: OutputStore, opts: { private: boolean } = { private: false }) {
  const cache = new Map<string, Cached>();

  const notFound: HttpAnswer = { status: 404, contentType: 'text/plain; charset=utf-8', body: 'Not found\n' };

  /**
   * The answer for a file found: whole, a range of it, or "not modified". `bytes`
   * gives the bytes from `start` to `end` inclusive (a slice of a cached copy, or a
   * stream of the opened file); `release` closes what was opened when no body is sent.
   */
  const found = (
    rel: string,
    file: string,
    info: BigIntStats,
    headers: IncomingHttpHeaders,
    bytes: (start: number, end: number) => Buffer | Readable,
    release: () => void = () => undefined,
  ): HttpAnswer => {
    const size = Number(info.size);
    const etag = `"${info.ino.toString(36)}-${info.size.toString(36)}-${info.mtimeNs.toString(36)}"`;
    const common: Record<string, string> = {
      etag,
      'last-modified': info.mtime.toUTCString(),
      'accept-ranges': 'bytes',
      // Status documents (one path segment) change while a job runs; outputs never change.
      // Kept for their owners, they are for no shared cache.
      'cache-control': rel.includes('/') ? `${opts.private ? 'private' : 'public'}, max-age=3600` : 'no-cache',
    };
    if (opts.private) common.vary = 'authorization';
    const contentType = mediaTypeFor(file);
    const wanted = wantedPart(headers, etag, size);
    switch (wanted.kind) {
      case 'not-modified':
        release();
        return { status: 304, contentType, body: '', headers: common };
      case 'unsatisfiable':
        release();
        return { status: 416, contentType: 'text/plain; charset=utf-8', body: 'Range not satisfiable\n', headers: { ...common, 'content-range': `bytes */${size}` } };
      case 'range':
        return {
          status: 206,
          contentType,
          body: bytes(wanted.start, wanted.end),
          headers: { ...common, 'content-length': String(wanted.end - wanted.start + 1), 'content-range': `bytes ${wanted.start}-${wanted.end}/${size}` },
        };
      case 'whole':
        return { status: 200, contentType, body: size === 0 ? Buffer.alloc(0) : bytes(0, size - 1), headers: { ...common, 'content-length': String(size) } };
    }
  };

  /** `path` is the request's path, still percent-encoded. */
  return async (path: string, headers: IncomingHttpHeaders = {}): Promise<HttpAnswer> => {
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
    if (hit && hit.version === versionOf(current) && (await directoryReachedWithoutLink(store.dir, file))) {
      const body = hit.body;
      return found(rel, file, current, headers, (start, end) => body.subarray(start, end + 1));
    }

    const handle = await openRegularFile(store.dir, file);
    if (!handle) return notFound;
    const info = await handle.stat({ bigint: true });
    // The stream closes the file when it ends or is destroyed (a HEAD, a client gone).
    if (info.size > SMALL_FILE) {
      return found(rel, file, info, headers, (start, end) => handle.createReadStream({ start, end, autoClose: true }), () => void handle.close());
    }
    let body: Buffer;
    try {
      body = await handle.readFile();
    } finally {
      await handle.close();
    }
    cache.delete(file);
    cache.set(file, { version: versionOf(info), body });
    if (cache.size > CACHED_FILES) cache.delete(cache.keys().next().value!);
    return found(rel, file, info, headers, (start, end) => body.subarray(start, end + 1));
  };
}
