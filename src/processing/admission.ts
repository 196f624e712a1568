import { unfinishedLimit, periodStart, type Quota } from '../auth/quotas.js';
import { OwsException } from '../exceptions.js';
import type { Admission, Usage } from '../jobs/store.js';

/** What one job holds against its owner's budget while unfinished. */
export interface Reservation {
  cores: number;
  wallTimeSeconds: number;
}

export const coreSeconds = (r: Reservation): number => r.cores * r.wallTimeSeconds;

/** The checks the insert makes for a user with this quota (undefined: none). */
export function admissionOf(quota: Quota | undefined, now = new Date()): Admission | undefined {
  if (!quota) return undefined;
  const maxUnfinished = unfinishedLimit(quota);
  if (maxUnfinished === undefined && quota.budget === undefined) return undefined;
  return { maxUnfinished, budget: quota.budget, periodStart: periodStart(quota.period, now) };
}

const hours = (seconds: number): string => (seconds / 3600).toFixed(seconds < 36 ? 3 : 2).replace(/\.?0+$/, '');

/**
 * Why a user's job was not admitted, with the limit, the use and the figure: ServerBusy
 * (503, try later) when their jobs fill their running and waiting limits, 403 when the
 * period's budget cannot hold the job. Undefined when their quota was not the reason.
 */
export function quotaRefusal(user: string, quota: Quota, usage: Usage, reservation: Reservation): OwsException | undefined {
  const maxUnfinished = unfinishedLimit(quota);
  if (maxUnfinished !== undefined && usage.unfinished >= maxUnfinished) {
    return new OwsException(
      'ServerBusy',
      `${usage.unfinished} of ${maxUnfinished} jobs running or waiting for ${user} (at most ${quota.running} running and ${quota.waiting} waiting); try again when one has ended`,
    );
  }
  const needed = coreSeconds(reservation);
  if (quota.budget !== undefined && usage.holding + usage.spent + needed > quota.budget) {
    return new OwsException(
      'NoApplicableCode',
      `${user} has used ${hours(usage.spent + usage.holding)} of ${quota.coreHours} core-hours ${quota.period === 'day' ? 'today' : `this ${quota.period}`} ` +
        `(${hours(usage.spent)} by ended jobs, ${hours(usage.holding)} held by unfinished ones); ` +
        `this job would hold ${hours(needed)} (${reservation.cores} cores × ${reservation.wallTimeSeconds} s)`,
      undefined,
      403,
    );
  }
  return undefined;
}
