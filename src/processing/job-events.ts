import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { isTerminal, type JobState } from '../jobs/states.js';

/**
 * "Job X has finished", heard by whoever waits for it: in this process directly, and
 * across servers and dispatchers through Redis when there is one. A dispatcher also
 * polls, so a lost message only costs a monitor interval.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();
  private readonly pub: Redis | undefined;
  private readonly sub: Redis | undefined;
  private readonly channel: string;

  constructor(redisUrl?: string, namespace = 'wps') {
    this.emitter.setMaxListeners(0);
    this.channel = `${namespace}:job-finished`;
    if (redisUrl) {
      this.pub = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
      this.sub = new Redis(redisUrl, { lazyConnect: false });
      for (const c of [this.pub, this.sub]) c.on('error', () => undefined);
      void this.sub.subscribe(this.channel).catch(() => undefined);
      // "<id> <state>"; a bare id (from an older server) says only that the job ended.
      this.sub.on('message', (_channel: string, message: string) => {
        const [id, state] = message.split(' ');
        this.emitter.emit('finished', id, isTerminal(state as JobState) ? state : undefined);
      });
    }
  }

  finished(id: string, state: JobState): void {
    this.emitter.emit('finished', id, state);
    this.pub?.publish(this.channel, `${id} ${state}`).catch(() => undefined);
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
