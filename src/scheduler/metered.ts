import type { Metrics } from '../metrics.js';
import type { Scheduler } from './types.js';

/** The same scheduler, with every command timed and every failure counted. */
export function metered(scheduler: Scheduler, metrics: Metrics): Scheduler {
  const time = async <T>(command: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } catch (err) {
      metrics.schedulerFailures.inc([scheduler.name, command]);
      throw err;
    } finally {
      metrics.schedulerSeconds.observe([scheduler.name, command], (performance.now() - started) / 1000);
    }
  };
  const wrapped: Scheduler = {
    name: scheduler.name,
    submit: (t) => time('submit', () => scheduler.submit(t)),
    status: (ids) => time('status', () => scheduler.status(ids)),
    terminate: (id, as) => time('terminate', () => scheduler.terminate(id, as)),
    find: (t) => time('find', () => scheduler.find(t)),
    close: () => scheduler.close(),
  };
  if (scheduler.idIsJobId) Object.assign(wrapped, { idIsJobId: true });
  if (scheduler.holdsAhead) Object.assign(wrapped, { holdsAhead: scheduler.holdsAhead });
  if (scheduler.queueLimits) wrapped.queueLimits = (queue) => time('limits', () => scheduler.queueLimits!(queue));
  if (scheduler.usedCoreSeconds) wrapped.usedCoreSeconds = (id, jobName) => time('accounting', () => scheduler.usedCoreSeconds!(id, jobName));
  if (scheduler.onFinished) wrapped.onFinished = (listener) => scheduler.onFinished!(listener);
  if (scheduler.onReport) wrapped.onReport = (listener) => scheduler.onReport!(listener);
  return wrapped;
}
