/**
 * Hands accepted jobs to dispatchers. Adding a job id that is already waiting or being
 * handled changes nothing, so a restarted server can add every unfinished job again.
 */
export interface JobQueue {
  readonly name: string;
  add(jobId: string): Promise<void>;
  /** Starts handing job ids to `handler`, at most `concurrency` at a time. */
  consume(handler: (jobId: string) => Promise<void>, concurrency: number): void;
  close(): Promise<void>;
}
