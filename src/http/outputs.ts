import { open, type FileHandle } from 'node:fs/promises';
import type { Context } from 'koa';
import { mediaTypeFor } from '../storage/media-types.js';
import type { OutputStore } from '../storage/output-store.js';

export const OUTPUTS_PATH = '/outputs/';

/**
 * Serves stored outputs and status documents. Only paths the store hands out are
 * served; anything else, traversal included, is a plain 404.
 */
export function outputsEndpoint(store: OutputStore) {
  return async (ctx: Context): Promise<void> => {
    let rel: string;
    try {
      rel = decodeURIComponent(ctx.path.slice(OUTPUTS_PATH.length));
    } catch {
      rel = '';
    }
    const file = store.pathOf(rel);
    // Open first, then ask the open file its size: a status document renamed into place
    // meanwhile must not be served with the old one's length.
    const handle: FileHandle | undefined = file ? await open(file, 'r').catch(() => undefined) : undefined;
    const info = handle ? await handle.stat() : undefined;
    if (!file || !handle || !info?.isFile()) {
      await handle?.close();
      ctx.status = 404;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'Not found\n';
      return;
    }
    ctx.type = mediaTypeFor(file);
    ctx.length = info.size;
    ctx.lastModified = info.mtime;
    // Status documents (one path segment) change while a job runs; outputs never change.
    ctx.set('cache-control', rel.includes('/') ? 'public, max-age=3600' : 'no-cache');
    // Koa writes no body for HEAD and destroys the stream (closing the file) when the response ends.
    ctx.body = handle.createReadStream({ autoClose: true });
  };
}
