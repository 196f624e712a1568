import { isJobId } from '../job-id.js';

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
  /** Queue (GridEngine) or partition (Slurm), from the operator's configuration. */
  queue?: string;
  /** Project (GridEngine) or account (Slurm). */
  project?: string;
  memoryMb?: number;
  cores?: number;
  /** Scheduler-specific options from the operator's configuration (never from a request). */
  nativeSpecification: string[];
  /** The Unix account the job is submitted as (`sudo -u` on the command node); unset: the server's own. */
  runAs?: string;
}

export interface JobInfo {
  state: DrmaaState;
  /** What the batch system said, for a person reading a failure. */
  reason?: string;
  exitCode?: number;
  /** Where a queued job stands, as far as the batch system tells. */
  waiting?: QueuePlace;
}

/** One limit of a partition or queue, by the batch system's own name for it. */
export interface QueueLimit {
  what: 'wallTime' | 'cores' | 'memory';
  /** Seconds, cores, or megabytes. */
  max: number;
  /** The batch system's name: MaxTime, TotalCPUs, h_rt, slots … */
  name: string;
}

/** Why a job waits in its batch system, and where it stands. */
export interface QueuePlace {
  /** The batch system's own word (Slurm: Priority, Resources, QOSMaxCpuPerUserLimit, JobHeldUser …). */
  reason?: string;
  /** Partition or queue. */
  queue?: string;
  /** 1 for the next to start among the pending jobs of its queue. */
  position?: number;
  /** Pending jobs in its queue. */
  pending?: number;
  /** When the batch system expects to start it (ISO 8601, its own clock). */
  expectedStart?: string;
}

/** A queue place in words, for a status document and the jobs API. */
export function describePlace(scheduler: string, p: QueuePlace): string {
  const parts = [p.reason ? `reason ${p.reason}` : undefined, p.position !== undefined ? `${p.position} of ${p.pending ?? '?'} pending` : undefined, p.expectedStart ? `expected to start ${p.expectedStart}` : undefined];
  const where = p.queue ? `${scheduler} (${p.queue})` : scheduler;
  return `Waiting in ${where}: ${parts.filter(Boolean).join(', ') || 'queued'}`;
}

export interface Scheduler {
  readonly name: string;
  /** The scheduler's id of a job is our job id (known before submitting). */
  readonly idIsJobId?: boolean;
  /**
   * Jobs it keeps ready beyond those it runs, and starts the moment one ends. The
   * local scheduler does (a waiting job meets a free runner without a round through
   * the dispatcher); a batch system is handed only what the dispatcher's limit allows.
   */
  readonly holdsAhead?: number;
  /** Submits a job; resolves to the batch system's id for it. */
  submit(template: JobTemplate): Promise<string>;
  /** States of several jobs at once (one query to the batch system where it allows). */
  status(ids: readonly string[]): Promise<Map<string, JobInfo>>;
  /** Stops a job; `as`: the account it was submitted as (a site may let only it, or the operators, stop it). */
  terminate(id: string, as?: string): Promise<void>;
  /**
   * The batch system's id of a job submitted from this template, if it still knows it:
   * after a submission whose answer was lost, or a crash right after one.
   */
  find(template: JobTemplate): Promise<string | undefined>;
  /**
   * What an ended job used, in core-seconds, from the batch system's accounting (Slurm's
   * CPUTimeRAW, GridEngine's ru_wallclock × slots); undefined while it does not know yet
   * or keeps no accounting. Only a record of the job named `jobName` counts: a batch
   * system that lost its state gives its numbers out again. Without it, the dispatcher
   * charges the runner's own times.
   */
  usedCoreSeconds?(id: string, jobName: string): Promise<number | undefined>;
  /**
   * The limits of a partition or queue (undefined: the default one) that a job asking for
   * more could never pass; none where the batch system sets none.
   */
  queueLimits?(queue: string | undefined): Promise<{ queue: string; limits: QueueLimit[] }>;
  /** Called back when a job it runs ends, where the batch system can tell at once. */
  onFinished?(listener: (id: string) => void): void;
  /** Runner reports that arrive through the scheduler itself (the local one's IPC). */
  onReport?(listener: (id: string, event: unknown) => void): void;
  close(): Promise<void>;
}

const SAFE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SAFE_WORD = /^[A-Za-z0-9_.@:+-]{1,128}$/;
const SAFE_PATH = /^\/[A-Za-z0-9_./+@-]{0,1023}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;
// Control characters (newlines above all) never belong in a command line or a script.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Template fields that end up on a command line or in a batch script are checked
 * against strict patterns, whatever their origin: names and queues are words, paths
 * are absolute and plain, numbers are whole.
 */
export function checkTemplate(t: JobTemplate): void {
  const fail = (what: string, value: unknown) => {
    throw new Error(`unsafe ${what}: ${JSON.stringify(value)}`);
  };
  if (!SAFE_NAME.test(t.jobName)) fail('job name', t.jobName);
  if (!isJobId(t.jobId)) fail('job id', t.jobId);
  for (const [what, path] of [['command', t.remoteCommand], ['working directory', t.workingDirectory], ['output path', t.outputPath], ['error path', t.errorPath]] as const) {
    if (!SAFE_PATH.test(path)) fail(what, path);
  }
  for (const arg of t.args) if (CONTROL.test(arg)) fail('argument', arg);
  for (const [name, value] of Object.entries(t.env)) if (!ENV_NAME.test(name) || CONTROL.test(value)) fail('environment variable', name);
  for (const [what, word] of [['queue', t.queue], ['project', t.project]] as const) {
    if (word !== undefined && !SAFE_WORD.test(word)) fail(what, word);
  }
  for (const [what, n] of [['wall-clock limit', t.wallClockLimitSeconds], ['memory', t.memoryMb], ['cores', t.cores]] as const) {
    if (n !== undefined && (!Number.isInteger(n) || n <= 0)) fail(what, n);
  }
  for (const opt of t.nativeSpecification) if (CONTROL.test(opt)) fail('native option', opt);
  if (t.runAs !== undefined && !isUnixAccount(t.runAs)) fail('account', t.runAs);
}

/** A Unix account a job may run as: a portable user name, and never root. */
export const isUnixAccount = (name: string): boolean => /^[a-z_][a-z0-9_-]{0,31}$/.test(name) && name !== 'root';
