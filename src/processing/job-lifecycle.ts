import { setTimeout as wait } from 'node:timers/promises';
import type { ExecuteRequest } from '../ows/request.js';
import type { Failure, Job, JobStore } from '../jobs/store.js';
import type { JobResult } from '../runner-contract.js';
import { inPools, SESSION_URL_OUTPUT, type PortPool } from '../sessions/app.js';
import type { JobFiles } from '../storage/job-files.js';
import type { OutputStore } from '../storage/output-store.js';
import type { JobEvents } from './job-events.js';
import type { StatusPublisher } from './status-publisher.js';

/** How long a job ended here is remembered as ended (see `finishing`). */
const RECENTLY_FINISHED_MS = 10_000;

/**
 * Moves jobs through their states on behalf of everyone who learns something about
 * them (a runner's report, a dispatcher's look at the scheduler, a dismissal): one
 * conditional update in the store, then the status document rewritten from the row,
 * then "finished" announced. A change the state machine refuses does nothing at all.
 */
export class JobLifecycle {
  /**
   * Jobs this process is ending, or has just ended, from their result. A runner's
   * report and the dispatcher's word that the scheduler is done with the job arrive
   * within milliseconds of each other; the second waits for the first instead of
   * reading the result and updating the row again.
   */
  private readonly finishing = new Map<string, Promise<boolean>>();

  constructor(
    private readonly store: JobStore,
    private readonly publisher: StatusPublisher,
    private readonly files: JobFiles,
    private readonly events: JobEvents,
    private readonly outputs: OutputStore,
    /** Where sessions may listen (the configured pools). */
    private readonly pools: readonly PortPool[] = [],
  ) {}

  /** Told whenever the set of ready sessions changes (the proxy mapping file follows it). */
  onSessionsChanged: (() => void) | undefined;
  /** Told of every start, progress and end this process applies (callbacks follow it), with the result of a success. */
  onChange: ((job: Job, result?: JobResult) => void) | undefined;

  /**
   * A session's runner says its application is ready at host:port. Taken only inside the
   * configured pools and at an address no other unfinished session holds; the status
   * document then carries the session's URL.
   */
  async sessionReady(id: string, host: string, port: number): Promise<Job | undefined> {
    if (!inPools(this.pools, host, port)) return undefined;
    const job = await this.store.sessionReady(id, host, port, 'Session ready');
    if (!job) return undefined;
    await this.publisher.publish(id, job);
    this.onSessionsChanged?.();
    this.events.changed(job.id, job.version);
    return job;
  }

  /**
   * Ends a ready session for a reason of the server's (idle, past its wall time): it
   * succeeded, its one output the session's URL. Its runner, stopped next, finds it ended.
   */
  async endSession(id: string, message: string, url: string): Promise<Job | undefined> {
    const result: JobResult = { state: 'succeeded', message, outputs: [{ identifier: SESSION_URL_OUTPUT, value: { type: 'literal', value: url } }] };
    // Its results are read from the file, whether or not the runner, stopped next, writes its own.
    await this.files.writeResult(id, result).catch(() => undefined);
    const job = await this.store.succeed(id, message);
    if (job) await this.ended(job, result);
    return job;
  }

  /**
   * Dismisses a waiting or running job: it never starts, or its dispatcher stops it in
   * the scheduler when it hears the job has ended; what it stored is removed.
   */
  async dismiss(id: string): Promise<Job | undefined> {
    const job = await this.store.dismiss(id, 'The job was dismissed by the client');
    if (job) {
      await this.outputs.removeOutputs(id);
      await this.ended(job);
    }
    return job;
  }

  async started(id: string): Promise<Job | undefined> {
    const job = await this.store.start(id, 'Process started');
    if (job && wantsStatus(job)) await this.publisher.publish(id, job);
    if (job) this.changed(job);
    return job;
  }

  /** Why a waiting job waits (its batch system's reason and place), while it has not started. */
  async waiting(id: string, message: string): Promise<Job | undefined> {
    const job = await this.store.waiting(id, message);
    if (job && wantsStatus(job)) await this.publisher.publish(id, job);
    if (job) this.events.changed(job.id, job.version);
    return job;
  }

  async progress(id: string, percent: number, message: string | undefined): Promise<Job | undefined> {
    const job = await this.store.progress(id, percent, message);
    if (job && wantsStatus(job)) await this.publisher.publish(id, job);
    if (job) this.changed(job);
    return job;
  }

  /**
   * Ends the job with the result its runner left on storage. Shared storage may show a
   * file written on another host a moment late, so a missing result is looked for a
   * few times. Returns false when there is none.
   */
  async finishFromResult(id: string, attempts = 1, schedulerReason?: string): Promise<boolean> {
    const under = this.finishing.get(id);
    if (under && (await under)) return true;
    const finishing = this.readAndApply(id, attempts, schedulerReason);
    this.finishing.set(id, finishing);
    const forget = () => {
      if (this.finishing.get(id) === finishing) this.finishing.delete(id);
    };
    // Ended: remembered a while. Not ended (no result yet, or an error): forgotten now.
    finishing.then((done) => (done ? setTimeout(forget, RECENTLY_FINISHED_MS).unref() : forget()), forget);
    return finishing;
  }

  private async readAndApply(id: string, attempts: number, schedulerReason: string | undefined): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      const result = await this.files.readResult(id);
      if (result) {
        // Stopped by the scheduler, the job failed for the scheduler's reason (its wall time, say).
        if (result.state === 'failed' && result.stopped && schedulerReason) {
          result.error = { code: 'NoApplicableCode', message: `The job was stopped: ${schedulerReason}` };
        }
        await this.apply(id, result);
        return true;
      }
      if (i < attempts - 1) await wait(200);
    }
    return false;
  }

  async apply(id: string, result: JobResult): Promise<Job | undefined> {
    const job =
      result.state === 'succeeded'
        ? await this.store.succeed(id, result.message)
        : await this.store.fail(id, {
            code: result.error.code,
            reason: result.error.message,
            ...(result.error.locator ? { locator: result.error.locator } : {}),
          });
    if (job) await this.ended(job, result);
    return job;
  }

  async fail(id: string, failure: Failure): Promise<Job | undefined> {
    const job = await this.store.fail(id, failure);
    if (job) await this.ended(job);
    return job;
  }

  private async ended(job: Job, result?: JobResult): Promise<void> {
    await this.publisher.publish(job.id, job, result);
    this.events.finished(job.id, job.state);
    if (job.sessionHost !== null) this.onSessionsChanged?.();
    this.changed(job, result);
  }

  /** Everyone following the job hears of it: event streams (on any server) and callbacks. */
  private changed(job: Job, result?: JobResult): void {
    this.events.changed(job.id, job.version);
    this.onChange?.(job, result);
  }
}

const wantsStatus = (job: Job): boolean => {
  const form = (job.request as ExecuteRequest).responseForm;
  return form.kind === 'document' && form.status;
};
