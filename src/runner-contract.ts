import type { CwlContainers } from './config.js';
import type { SessionSpec } from './sessions/app.js';
import type { ExecuteRequest } from './ows/request.js';
import type { OutputValue } from './process/outputs.js';

/**
 * The contract between the server and a runner, in one place: the job's spec the
 * runner reads from the job's directory, the result it leaves there, who runs it, what
 * it reports (over HTTP to the report path with the job's secret, or over a warm
 * runner's IPC channel), and how the secret is kept (its hash only). Both sides import
 * it; neither defines any of it elsewhere.
 */

export interface JobSpec {
  jobId: string;
  processId: string;
  /** The module the process came from: the runner imports it (absent for processes not loaded from a package). */
  processSource?: string;
  /** How a CWL process runs its tool's container (the server's setting, so the node needs none). */
  cwl?: { containers: CwlContainers };
  request: ExecuteRequest;
  /** Where the runner reports started, progress and the end. */
  reportUrl: string;
  /** Bearer token for those reports; only its hash is in the database. */
  secret: string;
  /** Storage for outputs asked for by reference, and its public URL. */
  outputDir: string;
  outputUrl: string;
  references: { allow: string[]; deny: string[] };
  referenceTimeoutMs: number;
  maxInputSize: number;
  /** Absent in specs written before these limits existed. */
  maxReferences?: number;
  maxFetchedBytes?: number;
  wallTimeSeconds: number;
  /** For an interactive session: the application to start instead of a handler to call. */
  session?: SessionSpec;
}

/** An output as the result file carries it: bytes in base64 so JSON holds them. */
export type StoredOutput =
  | { identifier: string; href?: string; value: Exclude<OutputValue, { type: 'complex' }> }
  | {
      identifier: string;
      href?: string;
      /** `data` (base64) only for an output given inline: one stored by reference has its file in storage. */
      value: { type: 'complex'; data?: string; mimeType: string; encoding?: string; schema?: string };
    };

export type JobResult =
  | { state: 'succeeded'; message: string; outputs: StoredOutput[] }
  | {
      state: 'failed';
      error: { code: string; message: string; locator?: string };
      /**
       * The runner was told to stop (SIGTERM) and its process ended cleanly. The runner
       * does not report it: the dispatcher settles the job with the scheduler's verdict,
       * whose reason (the wall time, say) says why it was stopped.
       */
      stopped?: true;
    };

/** Who is running the job: lets a restarted server find the process again. */
export interface RunnerInfo {
  pid: number;
  /** Process start time in clock ticks since boot (/proc/PID/stat field 22): a PID is reused, this pair is not. */
  startTicks: number;
  host: string;
}

/** What a runner tells about its job, over HTTP (any scheduler) or IPC (warm local runners). */
export type RunnerEvent =
  | { event: 'started' }
  | { event: 'progress'; percent: number; message?: string }
  /** A session's application is ready and listens here. */
  | { event: 'session'; host: string; port: number }
  | { event: 'finished' };

/** A warm runner's messages to the local scheduler, over IPC. */
export type RunnerMessage =
  | { type: 'ready' }
  /** The job is over; `reason` when the runner could not run it at all; `leaving`: it exits now (told to stop, or orphaned), so it takes no other. */
  | { type: 'done'; jobId: string; reason?: string; leaving?: true }
  /** What the runner reports about its job (started, progress, finished), straight over IPC. */
  | { type: 'report'; jobId: string; event: unknown };
export type RunnerCommand = { type: 'run'; jobId: string; stdout: string; stderr: string };

/** Where a runner reports about job `id` (under the server's internal URL). */
export const reportPath = (id: string): string => `/internal/jobs/${id}/report`;

/** The secret's form at rest: runners send the secret, the store keeps this. */
export { hashSecret } from './secrets.js';
