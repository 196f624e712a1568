import type { JobLifecycle } from './job-lifecycle.js';

/**
 * Applies one report from a runner. Anything malformed is refused (returns false);
 * a report the state machine no longer accepts (a late one) changes nothing. A session's
 * address is the exception: one the server does not take (outside the pools, held by
 * another session, or a job no longer running) is 'refused', for the runner to stop.
 */
export async function applyRunnerEvent(lifecycle: JobLifecycle, id: string, event: unknown): Promise<boolean | 'refused'> {
  const e = event as Partial<Record<'event' | 'percent' | 'message' | 'host' | 'port', unknown>> | null;
  switch (e?.event) {
    case 'session': {
      if (typeof e.host !== 'string' || typeof e.port !== 'number' || !Number.isInteger(e.port)) return false;
      return (await lifecycle.sessionReady(id, e.host, e.port)) ? true : 'refused';
    }
    case 'started':
      await lifecycle.started(id);
      return true;
    case 'progress': {
      const percent = Number(e.percent);
      if (typeof e.percent === 'boolean' || !Number.isFinite(percent)) return false;
      const message = typeof e.message === 'string' ? e.message.slice(0, 1000) : undefined;
      await lifecycle.progress(id, Math.max(0, Math.min(100, Math.round(percent))), message);
      return true;
    }
    case 'finished':
      // The result is on shared storage; if it is not visible yet, the dispatcher settles the job.
      await lifecycle.finishFromResult(id, 3);
      return true;
    default:
      return false;
  }
}
