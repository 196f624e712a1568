import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobQueue } from './types.js';

/**
 * The shared queue of several servers and dispatchers: BullMQ on Redis. Our job id is
 * BullMQ's job id, so adding a job twice is a no-op. A dispatcher that dies holding a
 * job lets its lock lapse; BullMQ hands the job to another, which re-attaches to it
 * (the handler never runs a job twice, see processing/dispatcher.ts).
 */
export class BullMqQueue implements JobQueue {
  readonly name = 'bullmq';
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly connections: Redis[] = [];

  constructor(
    private readonly redisUrl: string,
    private readonly queueName: string,
  ) {
    this.queue = new Queue(queueName, { connection: this.connection() });
  }

  private connection(): Redis {
    const c = new Redis(this.redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    c.on('error', () => undefined);
    this.connections.push(c);
    return c;
  }

  async add(jobId: string): Promise<void> {
    await this.queue.add('job', { jobId }, { jobId, removeOnComplete: true, removeOnFail: true });
  }

  consume(handler: (jobId: string) => Promise<void>, concurrency: number): void {
    this.worker = new Worker(this.queueName, async (job) => handler((job.data as { jobId: string }).jobId), {
      connection: this.connection(),
      concurrency,
      // Jobs stay active while they run (hours on a cluster); a stall only means re-attach.
      maxStalledCount: 1_000_000,
      stalledInterval: 15_000,
      lockDuration: 30_000,
    });
    this.worker.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    for (const c of this.connections) c.disconnect();
  }
}
