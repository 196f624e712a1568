import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !info?.isFile()) {
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
    ctx.body = ctx.method === 'HEAD' ? null : createReadStream(file);
  };
}
