import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { isTerminal, type JobState } from '../jobs/states.js';

/**
 * "Job X has finished" and "job X changed", heard by whoever waits for them: in this
 * process directly, and across servers and dispatchers through Redis when there is one.
 * A dispatcher also polls, so a lost message only costs a monitor interval; an event
 * stream's client resumes with Last-Event-ID.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();
  private readonly pub: Redis | undefined;
  private readonly sub: Redis | undefined;
  private readonly channel: string;
  private readonly changedChannel: string;

  constructor(redisUrl?: string, namespace = 'wps') {
    this.emitter.setMaxListeners(0);
    this.channel = `${namespace}:job-finished`;
    this.changedChannel = `${namespace}:job-changed`;
    if (redisUrl) {
      this.pub = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
      this.sub = new Redis(redisUrl, { lazyConnect: false });
      for (const c of [this.pub, this.sub]) c.on('error', () => undefined);
      void this.sub.subscribe(this.channel, this.changedChannel).catch(() => undefined);
      // "<id> <state>"; a bare id (from an older server) says only that the job ended.
      // "<id> <version>" on the other channel: the row changed.
      this.sub.on('message', (channel: string, message: string) => {
        const [id, word] = message.split(' ');
        if (channel === this.changedChannel) this.emitter.emit('changed', id, Number(word));
        else this.emitter.emit('finished', id, isTerminal(word as JobState) ? word : undefined);
      });
    }
  }

  finished(id: string, state: JobState): void {
    this.emitter.emit('finished', id, state);
    this.pub?.publish(this.channel, `${id} ${state}`).catch(() => undefined);
  }

  /** Job X's row changed (started, progressed, ended): its new version. */
  changed(id: string, version: number): void {
    this.emitter.emit('changed', id, version);
    this.pub?.publish(this.changedChannel, `${id} ${version}`).catch(() => undefined);
  }

  onChanged(listener: (id: string, version: number) => void): () => void {
    this.emitter.on('changed', listener);
    return () => this.emitter.off('changed', listener);
  }

  /** `state` is the job's final state, when the news carries it. */
  onFinished(listener: (id: string, state: JobState | undefined) => void): () => void {
    this.emitter.on('finished', listener);
    return () => this.emitter.off('finished', listener);
  }

  async close(): Promise<void> {
    this.pub?.disconnect();
    this.sub?.disconnect();
  }
}
