import type { Job } from '../jobs/store.js';

/**
 * Hands accepted jobs to dispatchers. Adding a job id that is already waiting or being
 * handled changes nothing, so a restarted server can add every unfinished job again.
 */
export interface JobQueue {
  readonly name: string;
  /** `known` is the job as its submitter just wrote it; a queue in this process may hand it on. */
  add(jobId: string, known?: Job): Promise<void>;
  /** Starts handing job ids to `handler`, at most `concurrency` at a time. */
  consume(handler: (jobId: string, known?: Job) => Promise<void>, concurrency: number): void;
  /** Resolves when the queue can take jobs (Redis answers), rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
