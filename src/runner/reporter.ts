import { setTimeout as wait } from 'node:timers/promises';

export type RunnerEvent =
  | { event: 'started' }
  | { event: 'progress'; percent: number; message?: string }
  | { event: 'finished' };

/**
 * Tells the server how a job is doing, over HTTP with the job's secret. Reports go out
 * one at a time and in order; progress that arrives while one is in flight replaces
 * the progress still waiting, so a process that reports in a tight loop costs a few
 * requests, not thousands. A server that cannot be reached loses progress reports
 * but not the end: the result is on shared storage for it to find.
 */
export class Reporter {
  private chain: Promise<void> = Promise.resolve();
  private waitingProgress: RunnerEvent | undefined;

  constructor(
    private readonly url: string,
    private readonly secret: string,
  ) {}

  started(): void {
    this.enqueue({ event: 'started' }, 3);
  }

  progress(percent: number, message?: string): void {
    if (!Number.isFinite(percent)) return;
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    const queued = this.waitingProgress !== undefined;
    this.waitingProgress = message === undefined ? { event: 'progress', percent: p } : { event: 'progress', percent: p, message };
    if (queued) return;
    this.chain = this.chain.then(async () => {
      const event = this.waitingProgress;
      this.waitingProgress = undefined;
      if (event) await this.post(event, 1);
    });
  }

  /** Reports the end after everything before it; resolves whether or not it got through. */
  async finished(): Promise<boolean> {
    let delivered = false;
    this.enqueue({ event: 'finished' }, 6, (ok) => (delivered = ok));
    await this.chain;
    return delivered;
  }

  private enqueue(event: RunnerEvent, attempts: number, done?: (ok: boolean) => void): void {
    this.chain = this.chain.then(async () => {
      const ok = await this.post(event, attempts);
      done?.(ok);
    });
  }

  private async post(event: RunnerEvent, attempts: number): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.secret}`, 'content-type': 'application/json' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        // 4xx: the server understood and refused (a finished job, a bad secret); retrying will not help.
        if (res.status < 500) return res.ok;
      } catch {
        // unreachable: try again after a pause
      }
      if (i < attempts - 1) await wait(200 * 2 ** i);
    }
    return false;
  }
}
