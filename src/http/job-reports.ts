import type { Context } from 'koa';
import { JOB_ID_PATTERN } from '../job-id.js';
import type { JobStore } from '../jobs/store.js';
import { hashSecret, reportPath } from '../runner-contract.js';
import { sameHash } from '../secrets.js';
import type { JobLifecycle } from '../processing/job-lifecycle.js';
import { applyRunnerEvent } from '../processing/runner-events.js';
import { readBody } from './read-body.js';

export const REPORT_PATH = new RegExp(`^${reportPath(`(${JOB_ID_PATTERN})`)}$`);

/**
 * Where runners report a job's start, progress and end. Each report carries the job's
 * secret; only its hash is stored, and it is compared in constant time.
 */
export function jobReportsEndpoint(store: JobStore, lifecycle: JobLifecycle) {
  // Secret hashes seen lately: a job reports several times, its hash changes only when
  // it is dispatched again (then the stored one is read anew).
  const known = new Map<string, string>();
  const remember = (id: string, hash: string) => {
    known.set(id, hash);
    if (known.size > 10_000) known.delete(known.keys().next().value!);
  };
  return async (ctx: Context, id: string): Promise<void> => {
    const reply = (status: number, body: Record<string, unknown>) => {
      ctx.status = status;
      ctx.body = body;
    };
    if (ctx.method !== 'POST') return reply(405, { error: 'POST a report' });
    const token = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    const offered = token ? hashSecret(token) : undefined;
    const cached = known.get(id);
    if (!offered || !cached || !sameHash(offered, cached)) {
      const job = await store.get(id);
      if (!job) return reply(404, { error: 'no such job' });
      if (!offered || !job.secretHash || !sameHash(offered, job.secretHash)) {
        return reply(401, { error: 'the job secret does not match' });
      }
      remember(id, job.secretHash);
    }
    let event: unknown;
    try {
      event = JSON.parse((await readBody(ctx.req, 64 * 1024)).toString('utf8')) as unknown;
    } catch {
      return reply(400, { error: 'the report is not JSON' });
    }
    const applied = await applyRunnerEvent(lifecycle, id, event);
    if (applied === 'refused') return reply(409, { error: 'the session address is not taken' });
    if (!applied) return reply(400, { error: 'not a report: started, progress with a numeric percent, session with host and port, or finished' });
    // A report the state machine refused (a late one) is still received: nothing to retry.
    reply(200, { received: (event as { event: string }).event });
  };
}

