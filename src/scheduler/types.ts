/**
 * The scheduler interface, shaped after DRMAA 1.0: a job template goes in, the batch
 * system's job id comes out, and the job's state is asked for by id. Adapters build
 * their command lines as argument arrays from validated template fields only; nothing
 * here knows about WPS or XML.
 */

/** DRMAA's job states, folded to what a dispatcher acts on. */
export type DrmaaState = 'queued' | 'running' | 'done' | 'failed' | 'undetermined';

export interface JobTemplate {
  /** Our job id (a UUID). */
  jobId: string;
  /** Name shown by the batch system; [A-Za-z0-9_.-] only. */
  jobName: string;
  /** Executable and its arguments, never interpreted by a shell. */
  remoteCommand: string;
  args: string[];
  workingDirectory: string;
  outputPath: string;
  errorPath: string;
  env: Record<string, string>;
  /** Hard wall-clock limit: the job is killed after it. */
  wallClockLimitSeconds: number;
  /** Scheduler-specific options from the operator's configuration (never from a request). */
  nativeSpecification: string[];
}

export interface JobInfo {
  state: DrmaaState;
  /** What the batch system said, for a person reading a failure. */
  reason?: string;
  exitCode?: number;
}

export interface Scheduler {
  readonly name: string;
  /** Submits a job; resolves to the batch system's id for it. */
  submit(template: JobTemplate): Promise<string>;
  /** States of several jobs at once (one query to the batch system where it allows). */
  status(ids: readonly string[]): Promise<Map<string, JobInfo>>;
  terminate(id: string): Promise<void>;
  /** Called back when a job it runs ends, where the batch system can tell at once. */
  onFinished?(listener: (id: string) => void): void;
  close(): Promise<void>;
}

const SAFE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Template fields that end up on a command line are checked against a strict pattern. */
export function checkTemplate(t: JobTemplate): void {
  if (!SAFE_NAME.test(t.jobName)) throw new Error(`unsafe job name: ${JSON.stringify(t.jobName)}`);
  if (!/^[0-9a-f-]{36}$/.test(t.jobId)) throw new Error(`not a job id: ${JSON.stringify(t.jobId)}`);
  if (!Number.isInteger(t.wallClockLimitSeconds) || t.wallClockLimitSeconds <= 0) {
    throw new Error(`bad wall-clock limit: ${t.wallClockLimitSeconds}`);
  }
}
