import type { JobLifecycle } from './job-lifecycle.js';

/**
 * Applies one report from a runner. Anything malformed is refused (returns false);
 * a report the state machine no longer accepts (a late one) changes nothing.
 */
export async function applyRunnerEvent(lifecycle: JobLifecycle, id: string, event: unknown): Promise<boolean> {
  const e = event as Partial<Record<'event' | 'percent' | 'message', unknown>> | null;
  switch (e?.event) {
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
