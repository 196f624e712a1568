import type { Log } from '../log.js';
import type { JobInfo, QueuePlace, Scheduler } from './types.js';

export interface MonitorHealth {
  scheduler: string;
  ok: boolean;
  watching: number;
  /** The last failure of the scheduler's commands, while they keep failing. */
  outage?: { since: string; failures: number; error: string };
}

/** Consecutive "undetermined" answers before a job is given up as gone. */
const UNDETERMINED_LIMIT = 3;
const MAX_BACKOFF_MS = 60_000;
const BATCH = 200;

interface Watch {
  resolve: (info: JobInfo) => void;
  undetermined: number;
  /** Hears where a queued job stands, each round the batch system tells. */
  onWaiting: ((place: QueuePlace) => void) | undefined;
}

/**
 * Asks a scheduler about every job being watched, all in one query per round, and
 * tells each watcher once its job is no longer queued or running. A job the scheduler
 * does not know must stay unknown for three rounds before it counts as gone (records
 * lag behind, e.g. GridEngine's accounting). When the scheduler's commands fail, no
 * job is judged: the rounds back off and the outage shows in health() and the log.
 */
export class SchedulerMonitor {
  private readonly watched = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private failures = 0;
  private outage: MonitorHealth['outage'];

  constructor(
    readonly scheduler: Scheduler,
    private readonly intervalMs: number,
    private readonly log: Log,
  ) {
    // Where the scheduler can tell at once (the local one), look at once.
    scheduler.onFinished?.((id) => {
      if (this.watched.has(id)) this.schedule(0);
    });
  }

  /** Resolves with the scheduler's verdict once the job has left its queues. */
  watch(id: string, onWaiting?: (place: QueuePlace) => void): { verdict: Promise<JobInfo>; cancel: () => void } {
    let resolve!: (info: JobInfo) => void;
    const verdict = new Promise<JobInfo>((r) => (resolve = r));
    this.watched.set(id, { resolve, undetermined: 0, onWaiting });
    this.schedule(0);
    return { verdict, cancel: () => this.watched.delete(id) };
  }

  health(): MonitorHealth {
    const h: MonitorHealth = { scheduler: this.scheduler.name, ok: !this.outage, watching: this.watched.size };
    if (this.outage) h.outage = this.outage;
    return h;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.round(), delayMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    if (this.watched.size === 0) return;
    this.running = true;
    let next = this.intervalMs;
    try {
      const ids = [...this.watched.keys()];
      for (let i = 0; i < ids.length; i += BATCH) {
        const infos = await this.scheduler.status(ids.slice(i, i + BATCH));
        for (const [id, info] of infos) this.judge(id, info);
      }
      if (this.outage) this.log({ level: 'info', msg: 'scheduler answers again', scheduler: this.scheduler.name, after: this.outage.failures });
      this.failures = 0;
      this.outage = undefined;
    } catch (err) {
      this.failures++;
      const error = (err as Error).message;
      this.outage = { since: this.outage?.since ?? new Date().toISOString(), failures: this.failures, error };
      next = Math.min(MAX_BACKOFF_MS, this.intervalMs * 2 ** this.failures);
      this.log({ level: 'warn', msg: 'scheduler query failed; jobs are left as they are', scheduler: this.scheduler.name, failures: this.failures, retryInMs: next, error });
    } finally {
      this.running = false;
    }
    if (this.watched.size > 0) this.schedule(next);
  }

  private judge(id: string, info: JobInfo): void {
    const w = this.watched.get(id);
    if (!w) return;
    if (info.state === 'queued' || info.state === 'running') {
      w.undetermined = 0;
      if (info.waiting) w.onWaiting?.(info.waiting);
      return;
    }
    if (info.state === 'undetermined' && ++w.undetermined < UNDETERMINED_LIMIT) return;
    this.watched.delete(id);
    w.resolve(info);
  }
}
