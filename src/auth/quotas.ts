import type { QuotaPeriod, QuotasConfig } from '../config.js';

/** One user's limits, resolved: the user's own entry over their groups' over the default. */
export interface Quota {
  running: number | undefined;
  waiting: number | undefined;
  /** Core-seconds per period. */
  budget: number | undefined;
  coreHours: number | undefined;
  period: QuotaPeriod;
}

/**
 * Each limit on its own: the user's entry if it names it, else the most generous of
 * their groups' entries that name it, else the default. Undefined when nothing limits
 * the user (no quotas configured, or a caller without a user name).
 */
export function quotaOf(quotas: QuotasConfig | undefined, user: string | undefined, groups: readonly string[]): Quota | undefined {
  if (!quotas || user === undefined) return undefined;
  // Own keys only: a user called "constructor" is no entry of the map.
  const own = (Object.hasOwn(quotas.users, user) ? quotas.users[user] : undefined) ?? {};
  const ofGroups = groups.filter((g) => Object.hasOwn(quotas.groups, g)).map((g) => quotas.groups[g]!);
  const pick = (key: 'running' | 'waiting' | 'coreHours'): number | undefined => {
    if (own[key] !== undefined) return own[key];
    const named = ofGroups.map((q) => q[key]).filter((n): n is number => n !== undefined);
    return named.length > 0 ? Math.max(...named) : quotas.default[key];
  };
  const running = pick('running');
  const waiting = pick('waiting');
  const coreHours = pick('coreHours');
  if (running === undefined && waiting === undefined && coreHours === undefined) return undefined;
  const period = own.period ?? ofGroups.find((q) => q.period)?.period ?? quotas.default.period ?? 'month';
  return { running, waiting, coreHours, budget: coreHours === undefined ? undefined : Math.floor(coreHours * 3600), period };
}

/** Jobs a user may have unfinished at once (running and waiting), if limited. */
export function unfinishedLimit(q: Quota): number | undefined {
  // A limit on running alone lets any number wait; on waiting alone, any number run.
  if (q.running === undefined || q.waiting === undefined) return undefined;
  return q.running + q.waiting;
}

/** When the current period began, in UTC: midnight, Monday midnight, or the first of the month. */
export function periodStart(period: QuotaPeriod, now = new Date()): Date {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  if (period === 'day') return new Date(day);
  if (period === 'week') return new Date(day - ((now.getUTCDay() + 6) % 7) * 86_400_000);
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}
