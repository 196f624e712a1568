import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'koa';
import type { Services } from '../services.js';

const within = <T>(ms: number, p: Promise<T>): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

async function writable(dir: string): Promise<void> {
  const probe = join(dir, `.ready-${randomBytes(4).toString('hex')}`);
  await writeFile(probe, 'ok');
  await rm(probe, { force: true });
}

/**
 * /health: liveness (the process answers), with the schedulers' state for a person.
 * /ready: whether this server can take jobs now: database, queue, schedulers, storage.
 */
export function healthEndpoints(s: Services) {
  const schedulers = () => [...s.monitors.values()].map((m) => m.health());
  return {
    health(ctx: Context): void {
      const list = schedulers();
      ctx.body = { status: list.every((h) => h.ok) ? 'ok' : 'degraded', schedulers: list };
    },
    async ready(ctx: Context): Promise<void> {
      const check = async (run: () => Promise<void>) => {
        try {
          await within(2000, run());
          return { ok: true };
        } catch (err) {
          return { ok: false, error: (err as Error).message };
        }
      };
      const checks = {
        database: await check(() => s.store.ping()),
        queue: await check(() => s.queue.ping()),
        storage: await check(async () => {
          await writable(s.config.storageDir);
          await writable(s.config.jobsDir);
        }),
        schedulers: await check(async () => {
          const down = schedulers().filter((h) => !h.ok);
          if (down.length > 0) throw new Error(down.map((h) => `${h.scheduler}: ${h.outage?.error}`).join('; '));
        }),
      };
      const ok = Object.values(checks).every((c) => c.ok);
      ctx.status = ok ? 200 : 503;
      ctx.body = { status: ok ? 'ready' : 'not ready', checks };
    },
  };
}
