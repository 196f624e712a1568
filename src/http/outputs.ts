import { open, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { Context } from 'koa';
import { mediaTypeFor } from '../storage/media-types.js';
import type { OutputStore } from '../storage/output-store.js';

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

  const notFound = (ctx: Context) => {
    ctx.status = 404;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = 'Not found\n';
  };

  const headers = (ctx: Context, rel: string, file: string, info: BigIntStats) => {
    ctx.type = mediaTypeFor(file);
    ctx.length = Number(info.size);
    ctx.lastModified = info.mtime;
    // Status documents (one path segment) change while a job runs; outputs never change.
    ctx.set('cache-control', rel.includes('/') ? 'public, max-age=3600' : 'no-cache');
  };

  return async (ctx: Context): Promise<void> => {
    let rel: string;
    try {
      rel = decodeURIComponent(ctx.path.slice(OUTPUTS_PATH.length));
    } catch {
      rel = '';
    }
    const file = store.pathOf(rel);
    if (!file) return notFound(ctx);

    const current = await stat(file, { bigint: true }).catch(() => undefined);
    if (!current?.isFile()) return notFound(ctx);
    const hit = cache.get(file);
    if (hit && hit.version === versionOf(current)) {
      headers(ctx, rel, file, current);
      ctx.body = hit.body;
      return;
    }

    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return notFound(ctx);
    const info = await handle.stat({ bigint: true });
    headers(ctx, rel, file, info);
    if (info.size > SMALL_FILE) {
      // Koa writes no body for HEAD and destroys the stream (closing the file) when the response ends.
      ctx.body = handle.createReadStream({ autoClose: true });
      return;
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
    ctx.body = body;
  };
}
