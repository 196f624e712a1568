import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { isTerminal } from '../jobs/states.js';
import type { Job, JobStore } from '../jobs/store.js';
import type { JobEvents } from '../processing/job-events.js';
import { STATUS } from '../ogcapi/status-info.js';

/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

interface Follower {
  stream: PassThrough;
  /** The last version sent (the event id). */
  last: number;
}

/**
 * `GET /jobs/{id}` as Server-Sent Events (`Accept: text/event-stream`): the job's
 * statusInfo now, then once per change (state, progress, message), until it ends. Event
 * ids are the row's versions, so a client that reconnects with Last-Event-ID gets the
 * job as it is now if it changed since. Changes are heard from the job events (over Redis
 * with several servers); one row read serves every follower of a job.
 */
export class JobStreams {
  private readonly followers = new Map<string, Set<Follower>>();
  /** Jobs whose row is being read for their followers; a change meanwhile reads it again. */
  private readonly reading = new Map<string, boolean>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: JobStore,
    events: JobEvents,
    private readonly describe: (job: Job) => Promise<Record<string, unknown>>,
  ) {
    this.unsubscribe = events.onChanged((id) => {
      if (this.followers.has(id)) void this.refresh(id);
    });
    this.heartbeat = setInterval(() => {
      for (const set of this.followers.values()) for (const f of set) f.stream.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.unsubscribe();
    for (const set of this.followers.values()) for (const f of set) f.stream.end();
    this.followers.clear();
  }

  /** Answers the request with the job's stream. */
  async follow(ctx: Context, job: Job): Promise<void> {
    const given = Number(ctx.get('last-event-id'));
    const follower: Follower = { stream: new PassThrough(), last: Number.isInteger(given) && ctx.get('last-event-id') !== '' ? given : -1 };
    const socket = ctx.req.socket;
    socket.setTimeout(0);
    socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('cache-control', 'no-cache');
    // nginx would otherwise hold the events back.
    ctx.set('x-accel-buffering', 'no');
    ctx.body = follower.stream;
    let set = this.followers.get(job.id);
    if (!set) this.followers.set(job.id, (set = new Set()));
    set.add(follower);
    const leave = () => {
      const s = this.followers.get(job.id);
      s?.delete(follower);
      if (s?.size === 0) this.followers.delete(job.id);
    };
    follower.stream.once('close', leave);
    ctx.req.once('close', () => follower.stream.end());
    await this.send(job.id, [follower], job);
    // An ended job the client has seen to its end: nothing more will come.
    if (isTerminal(job.state)) follower.stream.end();
  }

  /** Reads the job once for all its followers, again if it changed while being read. */
  private async refresh(id: string): Promise<void> {
    if (this.reading.has(id)) {
      this.reading.set(id, true);
      return;
    }
    this.reading.set(id, false);
    try {
      do {
        this.reading.set(id, false);
        const job = await this.store.get(id).catch(() => undefined);
        const set = this.followers.get(id);
        if (job && set) await this.send(id, [...set], job);
      } while (this.reading.get(id));
    } finally {
      this.reading.delete(id);
    }
  }

  private async send(id: string, to: readonly Follower[], job: Job): Promise<void> {
    const due = to.filter((f) => job.version > f.last);
    if (due.length === 0) return;
    const event = `id: ${job.version}\nevent: ${STATUS[job.state]}\ndata: ${JSON.stringify(await this.describe(job))}\n\n`;
    for (const f of due) {
      f.last = job.version;
      f.stream.write(event);
      if (isTerminal(job.state)) f.stream.end();
    }
    if (isTerminal(job.state)) this.followers.delete(id);
  }
}
