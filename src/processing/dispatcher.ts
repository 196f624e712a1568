import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { ExecuteRequest } from '../ows/request.js';
import type { ProcessRegistry } from '../process/registry.js';
import type { ProcessDefinition } from '../process/types.js';
import type { Job, JobStore } from '../jobs/store.js';
import { isTerminal } from '../jobs/states.js';
import type { JobQueue } from '../queue/types.js';
import type { JobInfo, JobTemplate, Scheduler } from '../scheduler/types.js';
import type { JobFiles, JobSpec } from '../storage/job-files.js';
import type { JobEvents } from './job-events.js';
import type { JobLifecycle } from './job-lifecycle.js';

/**
 * The command every scheduler runs for a job: this install's compiled CLI, given the
 * job directory. (Under the test runner this module is loaded from source; the
 * runner is still the built one.)
 */
export const RUNNER_SCRIPT = import.meta.url.endsWith('.ts')
  ? fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))
  : fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface DispatcherDeps {
  config: Config;
  store: JobStore;
  queue: JobQueue;
  scheduler: Scheduler;
  files: JobFiles;
  registry: ProcessRegistry;
  lifecycle: JobLifecycle;
  events: JobEvents;
  log: (entry: Record<string, unknown>) => void;
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * Takes job ids from the queue and sees each job to its end: hands it to the scheduler
 * (once), then watches it until it reaches a terminal state, and settles it from the
 * runner's result or the scheduler's verdict when no report came. Handling a job id is
 * idempotent, which is what makes recovery simple: after a restart every unfinished
 * job is queued again, and a job the scheduler already has is re-attached, never
 * submitted a second time.
 */
export class Dispatcher {
  private readonly wakers = new Map<string, () => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly d: DispatcherDeps) {}

  async start(): Promise<void> {
    const wake = (id: string) => this.wakers.get(id)?.();
    this.unsubscribe.push(this.d.events.onFinished(wake));
    this.d.scheduler.onFinished?.(wake);
    this.d.queue.consume((id) => this.handle(id), this.d.config.jobs.parallel);
    // Recovery: every job not yet finished goes (back) through the queue.
    for (const job of await this.d.store.unfinished()) await this.d.queue.add(job.id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    for (const w of this.wakers.values()) w();
  }

  /** Sees one job through; never throws (a failure becomes the job's failure). */
  async handle(id: string): Promise<void> {
    try {
      await this.dispatch(id);
    } catch (err) {
      this.d.log({ level: 'error', msg: 'dispatch failed', jobId: id, err: (err as Error).message });
      if (!this.stopped) {
        await this.d.lifecycle
          .fail(id, { code: 'NoApplicableCode', reason: `The job could not be run: ${(err as Error).message}` })
          .catch(() => undefined);
      }
    }
  }

  private async dispatch(id: string): Promise<void> {
    let job = await this.d.store.get(id);
    if (!job || isTerminal(job.state)) return;
    const process = this.d.registry.get(job.processId);
    if (!process) {
      await this.d.lifecycle.fail(id, { code: 'NoApplicableCode', reason: `Process ${job.processId} is no longer offered` });
      return;
    }
    const template = this.template(job, process);
    let schedulerId = job.schedulerJobId;
    if (!schedulerId) {
      if (job.dispatchedAt && ((await this.d.files.hasAttempts(id)) || (await this.d.files.readResult(id)))) {
        // Handed over before a crash and already started: the local scheduler names jobs by our id.
        schedulerId = id;
      } else {
        const submitted = await this.submit(job, template);
        if (!submitted) return;
        schedulerId = submitted;
      }
    }
    await this.watch(job, schedulerId, template);
  }

  /** Writes the job's spec (with a fresh secret) and hands it to the scheduler. */
  private async submit(job: Job, template: JobTemplate): Promise<string | undefined> {
    const secret = randomBytes(32).toString('base64url');
    const prepared = await this.d.store.prepareDispatch(job.id, this.d.scheduler.name, hashSecret(secret));
    if (!prepared) return undefined; // dismissed or taken meanwhile
    await this.d.files.writeSpec(this.spec(job, secret, template.wallClockLimitSeconds));
    const schedulerId = await this.d.scheduler.submit(template);
    await this.d.store.setSchedulerJobId(job.id, schedulerId);
    this.d.log({ level: 'info', msg: 'job submitted', jobId: job.id, scheduler: this.d.scheduler.name, schedulerJobId: schedulerId });
    return schedulerId;
  }

  /**
   * Waits for the job to end, waking on a "finished" event, on the scheduler's own
   * notice, or every monitor interval to ask the scheduler.
   */
  private async watch(job: Job, schedulerId: string, template: JobTemplate): Promise<void> {
    const id = job.id;
    let pending = false;
    let wake: (() => void) | undefined;
    this.wakers.set(id, () => {
      pending = true;
      wake?.();
    });
    const graceMs = 30_000;
    try {
      while (!this.stopped) {
        pending = false;
        const current = await this.d.store.get(id);
        if (!current || isTerminal(current.state)) return;
        const info = (await this.d.scheduler.status([schedulerId])).get(schedulerId) ?? { state: 'undetermined' };
        if (info.state === 'done' || info.state === 'failed' || info.state === 'undetermined') {
          if (await this.settle(current, info, template)) return;
          schedulerId = (await this.d.store.get(id))?.schedulerJobId ?? schedulerId;
          continue;
        }
        // Counted from the runner's start: time spent waiting in a batch queue is not run time.
        const started = current.startedAt;
        if (started && Date.now() - started.getTime() > template.wallClockLimitSeconds * 1000 + graceMs) {
          // The scheduler should have stopped it; make sure it is stopped.
          await this.d.scheduler.terminate(schedulerId);
          await this.d.lifecycle.fail(id, {
            code: 'NoApplicableCode',
            reason: `The job exceeded its wall-clock limit of ${template.wallClockLimitSeconds} s and was stopped`,
          });
          return;
        }
        if (!pending) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.d.config.jobs.monitorIntervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
      }
    } finally {
      this.wakers.delete(id);
    }
  }

  /**
   * The scheduler no longer runs the job. Its runner's result settles it; a job that
   * never started is submitted again; otherwise it failed, for the scheduler's reason.
   * Returns false when the job goes on (resubmitted).
   */
  private async settle(job: Job, info: JobInfo, template: JobTemplate): Promise<boolean> {
    if (await this.d.lifecycle.finishFromResult(job.id, 5)) return true;
    if (info.state === 'undetermined' && !(await this.d.files.hasAttempts(job.id))) {
      const again = await this.d.scheduler.submit(template);
      await this.d.store.setSchedulerJobId(job.id, again);
      this.d.log({ level: 'info', msg: 'job resubmitted: it had not started', jobId: job.id });
      return false;
    }
    const reason =
      info.state === 'undetermined'
        ? `The job's runner is gone without leaving a result (${info.reason ?? 'the scheduler does not know the job'})`
        : `The job ended without a result: ${info.reason ?? `exit code ${info.exitCode ?? 'unknown'}`}`;
    await this.d.lifecycle.fail(job.id, { code: 'NoApplicableCode', reason });
    return true;
  }

  private template(job: Job, process: ProcessDefinition): JobTemplate {
    const dir = this.d.files.dir(job.id);
    return {
      jobId: job.id,
      jobName: `wps-${process.identifier}-${job.id.slice(0, 8)}`.slice(0, 64),
      remoteCommand: globalThis.process.execPath,
      args: [RUNNER_SCRIPT, 'job', 'run', dir],
      workingDirectory: dir,
      outputPath: this.d.files.stdoutPath(job.id),
      errorPath: this.d.files.stderrPath(job.id),
      env: { WPS_JOB_ID: job.id },
      wallClockLimitSeconds: process.resources?.wallTimeSeconds ?? this.d.config.jobs.wallTimeSeconds,
      nativeSpecification: [],
    };
  }

  private spec(job: Job, secret: string, wallTimeSeconds: number): JobSpec {
    const c = this.d.config;
    return {
      jobId: job.id,
      processId: job.processId,
      request: job.request as ExecuteRequest,
      reportUrl: `${c.jobs.internalUrl}/internal/jobs/${job.id}/report`,
      secret,
      outputDir: c.storageDir,
      outputUrl: c.outputUrl,
      references: { allow: [...c.references.allow], deny: [...c.references.deny] },
      referenceTimeoutMs: c.limits.referenceTimeoutMs,
      maxInputSize: c.limits.maxInputSize,
      wallTimeSeconds,
    };
  }
}
