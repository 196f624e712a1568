import type { Job } from '../jobs/store.js';
import type { JobQueue } from './types.js';

/**
 * Jobs beyond this many waiting are kept as ids only and read again at dispatch: under a
 * long backlog the memory stays bounded (30,000 waiting jobs held whole took ~100 MB).
 */
const KEPT_WHOLE = 1000;

/** The queue of a single server: job ids in memory, handled in order of arrival. */
export class InProcessQueue implements JobQueue {
  readonly name = 'in-process';
  private readonly waiting: [string, Job | undefined][] = [];
  private readonly known = new Set<string>();
  private handler: ((jobId: string, known?: Job) => Promise<void>) | undefined;
  private concurrency = 1;
  private active = 0;
  private closed = false;
  private pumpScheduled = false;

  async add(jobId: string, job?: Job): Promise<void> {
    if (this.known.has(jobId)) return;
    this.known.add(jobId);
    this.waiting.push([jobId, this.waiting.length < KEPT_WHOLE ? job : undefined]);
    // After the current turn: the submitter's answer goes out before dispatch work starts.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  consume(handler: (jobId: string, known?: Job) => Promise<void>, concurrency: number): void {
    this.handler = handler;
    this.concurrency = concurrency;
    this.pump();
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('the queue is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private pump(): void {
    while (!this.closed && this.handler && this.active < this.concurrency && this.waiting.length > 0) {
      const [jobId, job] = this.waiting.shift()!;
      this.active++;
      this.handler(jobId, job)
        .catch(() => undefined)
        .finally(() => {
          this.active--;
          this.known.delete(jobId);
          this.pump();
        });
    }
  }
}
