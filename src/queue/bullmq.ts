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
  private readonly submitConnection: Redis;

  constructor(
    private readonly redisUrl: string,
    private readonly queueName: string,
    private readonly lockMs = 30_000,
  ) {
    // Submissions fail fast when Redis is down (the client gets ServerBusy), rather than wait.
    this.submitConnection = this.connection({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.queue = new Queue(queueName, { connection: this.submitConnection });
  }

  private connection(options: { enableOfflineQueue: boolean; maxRetriesPerRequest: number | null }): Redis {
    const c = new Redis(this.redisUrl, options);
    c.on('error', () => undefined);
    this.connections.push(c);
    return c;
  }

  async add(jobId: string): Promise<void> {
    await this.queue.add('job', { jobId }, { jobId, removeOnComplete: true, removeOnFail: true });
  }

  consume(handler: (jobId: string) => Promise<void>, concurrency: number): void {
    // Only the id travels through Redis: any dispatcher reads the job itself.
    this.worker = new Worker(this.queueName, async (job) => handler((job.data as { jobId: string }).jobId), {
      connection: this.connection({ enableOfflineQueue: true, maxRetriesPerRequest: null }),
      concurrency,
      // Jobs stay active while they run (hours on a cluster); a stall only means re-attach.
      maxStalledCount: 1_000_000,
      stalledInterval: Math.max(1000, this.lockMs / 2),
      lockDuration: this.lockMs,
    });
    this.worker.on('error', () => undefined);
  }

  async ping(): Promise<void> {
    await this.submitConnection.ping();
  }

  async close(): Promise<void> {
    // Do not wait for active jobs (they may run for hours): another dispatcher re-attaches.
    await this.worker?.close(true);
    await this.queue.close();
    for (const c of this.connections) c.disconnect();
  }
}
