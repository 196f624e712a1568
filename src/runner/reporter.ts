import { setTimeout as wait } from 'node:timers/promises';

import type { RunnerEvent } from '../runner-contract.js';

/** Delivers one report; resolves whether it got through. */
export type ReportChannel = (event: RunnerEvent, attempts: number) => Promise<boolean>;

/** Progress goes out at most this often; the latest value waits for its turn. */
const PROGRESS_INTERVAL_MS = 100;
/** A job that ends sooner than this never reports its start: its end says it all. */
const START_DELAY_MS = 50;

/**
 * Tells the server how a job is doing, over HTTP with the job's secret. Reports go out
 * one at a time and in order. Progress is sent at most every 100 ms, the latest value
 * replacing one still waiting, so a process that reports in a tight loop costs a few
 * requests, not thousands; the end makes progress still waiting moot. A server that
 * cannot be reached loses progress reports but not the end: the result is on shared
 * storage for it to find.
 */
export class Reporter {
  private chain: Promise<void> = Promise.resolve();
  private waitingProgress: RunnerEvent | undefined;
  private lastProgressAt = 0;
  private ended = false;
  /** Cuts a progress pause short when the end comes. */
  private readonly ending = new AbortController();

  private readonly deliver: ReportChannel;
  private readonly http: ReportChannel;

  /**
   * Reports go over HTTP with the job's secret, or first over another channel (a warm
   * runner's IPC), falling back to HTTP when that one is gone (its server died).
   */
  constructor(url: string, secret: string, channel?: ReportChannel) {
    const http = httpChannel(url, secret);
    this.http = http;
    this.deliver = channel ? async (event, attempts) => (await channel(event, attempts)) || http(event, attempts) : http;
  }

  started(): void {
    // The start counts as news: a job shorter than the interval sends no progress at all.
    this.lastProgressAt = Date.now() + START_DELAY_MS;
    this.chain = this.chain.then(async () => {
      await wait(START_DELAY_MS, undefined, { signal: this.ending.signal }).catch(() => undefined);
      if (!this.ended) await this.deliver({ event: 'started' }, 3);
    });
  }

  progress(percent: number, message?: string): void {
    if (!Number.isFinite(percent)) return;
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    const queued = this.waitingProgress !== undefined;
    this.waitingProgress = message === undefined ? { event: 'progress', percent: p } : { event: 'progress', percent: p, message };
    if (queued) return;
    this.chain = this.chain.then(async () => {
      const pause = this.lastProgressAt + PROGRESS_INTERVAL_MS - Date.now();
      if (pause > 0) await wait(pause, undefined, { signal: this.ending.signal }).catch(() => undefined);
      const event = this.waitingProgress;
      this.waitingProgress = undefined;
      if (!event || this.ended) return;
      this.lastProgressAt = Date.now();
      await this.deliver(event, 1);
    });
  }

  /**
   * Tells where a session's application listens, after everything before it, and
   * resolves whether the server took it (it refuses an address outside its pools or held
   * by another session). Over HTTP always: only there the answer comes back.
   */
  session(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.chain = this.chain.then(async () => resolve(await this.http({ event: 'session', host, port }, 6)));
    });
  }

  /** Reports the end after everything before it; resolves whether or not it got through. */
  async finished(): Promise<boolean> {
    this.ended = true;
    this.ending.abort();
    let delivered = false;
    this.enqueue({ event: 'finished' }, 6, (ok) => (delivered = ok));
    await this.chain;
    return delivered;
  }

  private enqueue(event: RunnerEvent, attempts: number, done?: (ok: boolean) => void): void {
    this.chain = this.chain.then(async () => {
      const ok = await this.deliver(event, attempts);
      done?.(ok);
    });
  }
}

function httpChannel(url: string, secret: string): ReportChannel {
  return async (event, attempts) => {
    for (let i = 0; i < attempts; i++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
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
  };
}
