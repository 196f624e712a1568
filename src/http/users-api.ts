import type { Context } from 'koa';
import type { Authenticator } from '../auth/authenticate.js';
import { isAnonymous, needsIdentity, type Caller } from '../auth/caller.js';
import { periodStart, quotaOf } from '../auth/quotas.js';
import type { QuotasConfig } from '../config.js';
import type { JobStore } from '../jobs/store.js';

export const USERS_ME_PATH = '/users/me';

const coreHours = (seconds: number): number => Math.round((seconds / 3600) * 1000) / 1000;

/**
 * GET /users/me: who the server takes the caller for, their limits and what they use
 * now (jobs unfinished and running, core-hours held by those and used this period).
 */
export function usersApi(auth: Authenticator, quotas: QuotasConfig | undefined, store: JobStore) {
  return async (ctx: Context, caller: Caller): Promise<void> => {
    if (isAnonymous(caller)) throw needsIdentity();
    const quota = quotaOf(quotas, caller.user, caller.groups);
    const body: Record<string, unknown> = { user: caller.user ?? null, groups: caller.groups, admin: caller.admin, authentication: auth.on, quota: null, usage: null };
    if (caller.user !== undefined) {
      const since = periodStart(quota?.period ?? 'month');
      const usage = await store.usageOf(caller.user, since);
      body.usage = { jobsUnfinished: usage.unfinished, jobsRunning: usage.running, coreHoursHeld: coreHours(usage.holding), coreHoursUsed: coreHours(usage.spent), since: since.toISOString() };
      if (quota) body.quota = { running: quota.running ?? null, waiting: quota.waiting ?? null, coreHours: quota.coreHours ?? null, period: quota.period };
    }
    ctx.body = body;
  };
}
