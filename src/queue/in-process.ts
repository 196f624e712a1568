import type { JobQueue } from './types.js';

/** The queue of a single server: job ids in memory, handled in order of arrival. */
export class InProcessQueue implements JobQueue {
  readonly name = 'in-process';
  private readonly waiting: string[] = [];
  private readonly known = new Set<string>();
  private handler: ((jobId: string) => Promise<void>) | undefined;
  private concurrency = 1;
  private active = 0;
  private closed = false;

  async add(jobId: string): Promise<void> {
    if (this.known.has(jobId)) return;
    this.known.add(jobId);
    this.waiting.push(jobId);
    this.pump();
  }

  consume(handler: (jobId: string) => Promise<void>, concurrency: number): void {
    this.handler = handler;
    this.concurrency = concurrency;
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private pump(): void {
    while (!this.closed && this.handler && this.active < this.concurrency && this.waiting.length > 0) {
      const jobId = this.waiting.shift()!;
      this.active++;
      this.handler(jobId)
        .catch(() => undefined)
        .finally(() => {
          this.active--;
          this.known.delete(jobId);
          this.pump();
        });
    }
  }
}
