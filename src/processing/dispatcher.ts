import { setTimeout as wait } from 'node:timers/promises';
import type { Config } from '../config.js';
import { OwsException } from '../exceptions.js';
import { MAIN_SCRIPT } from '../main-script.js';
import type { Log } from '../log.js';
import type { ExecuteRequest } from '../ows/request.js';
import type { ProcessRegistry } from '../process/registry.js';
import type { ProcessDefinition } from '../process/types.js';
import { HELD, type Job, type JobStore, type RunningLimit } from '../jobs/store.js';
import { quotaOf } from '../auth/quotas.js';
import { isTerminal, type JobState } from '../jobs/states.js';
import type { JobQueue } from '../queue/types.js';
import type { SchedulerMonitor } from '../scheduler/monitor.js';
import { TransportError } from '../scheduler/transport.js';
import { describePlace, isUnixAccount, type JobInfo, type JobTemplate, type QueuePlace, type Scheduler } from '../scheduler/types.js';
import { hashSecret, reportPath, type JobSpec } from '../runner-contract.js';
import { newSecret } from '../secrets.js';
import type { JobFiles } from '../storage/job-files.js';
import type { OutputStore } from '../storage/output-store.js';
import { handOver } from '../storage/hand-over.js';
import type { JobEvents } from './job-events.js';
import type { JobLifecycle } from './job-lifecycle.js';
import { placementOf, reservationFrom, type Placement } from './placement.js';
import { sourceOf } from '../packages/load-processes.js';
import { Slots } from './slots.js';
import { validateInputs } from '../process/validate-inputs.js';
import { sessionPaths } from '../sessions/links.js';
import type { SessionApp, SessionSpec } from '../sessions/app.js';

export interface DispatcherDeps {
  config: Config;
  store: JobStore;
  queue: JobQueue;
  /** One monitor per configured scheduler, by scheduler name. */
  monitors: ReadonlyMap<string, SchedulerMonitor>;
  files: JobFiles;
  outputs: OutputStore;
  registry: ProcessRegistry;
  lifecycle: JobLifecycle;
  events: JobEvents;
  log: Log;
}

/** Pauses between tries of a submission that failed for a reason that may pass. */
const SUBMIT_BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000, 30_000];
/** Pauses while a batch system's accounting does not have an ended job yet. */
const CHARGE_RETRY_MS = [1000, 2000, 4000, 8000, 15_000];
const TRANSIENT = /unable to contact|cannot connect|connection (refused|reset|timed out)|temporarily|try again|timed out|Socket timed out/i;

/**
 * Takes job ids from the queue and sees each job to its end: hands it to its
 * scheduler (once), then waits until it is finished, and settles it from the runner's
 * result or the scheduler's verdict when no report came. Handling a job id is
 * idempotent, which is what makes recovery simple: after a restart every unfinished
 * job is queued again, and a job the scheduler already has is re-attached, never
 * submitted a second time.
 */
export class Dispatcher {
  private readonly wakers = new Map<string, (ended?: JobState) => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;
  /** Jobs handed to batch systems at once: `parallel`. */
  private readonly batchSlots: Slots;

  constructor(private readonly d: DispatcherDeps) {
    this.batchSlots = new Slots(d.config.jobs.parallel);
  }

  private sweeper: NodeJS.Timeout | undefined;
  /** Jobs waiting for one of their owner's running jobs to end (their `running` quota), by owner. */
  private readonly held = new Map<string, Set<string>>();
  /** Owners of the jobs this dispatcher handed over under a running quota, by job. */
  private readonly runningOf = new Map<string, string>();

  async start(): Promise<void> {
    this.unsubscribe.push(
      this.d.events.onFinished((id, state) => {
        this.wakers.get(id)?.(state);
        const owner = this.runningOf.get(id);
        if (owner !== undefined) {
          this.runningOf.delete(id);
          this.release(owner);
        }
      }),
    );
    // A scheduler that keeps jobs ready (the local one) is handed that many more, so a
    // runner that ends a job starts the next at once, while the dispatcher records the end.
    const ahead = Math.max(0, ...[...this.d.monitors.values()].map((m) => m.scheduler.holdsAhead ?? 0));
    this.d.queue.consume((id, known) => this.handle(id, known), this.d.config.jobs.parallel + ahead);
    // Recovery: every job not yet finished goes (back) through the queue, now and then
    // again every so often: a queue that lost its contents (Redis restarted empty) or
    // a job dropped while the database was away is picked up again. Adding a job that
    // is queued or being handled already changes nothing.
    await this.requeueUnfinished();
    this.sweeper = setInterval(() => void this.requeueUnfinished(), this.d.config.jobs.requeueIntervalMs);
    this.sweeper.unref();
  }

  private async requeueUnfinished(): Promise<void> {
    try {
      for (const job of await this.d.store.unfinished()) await this.d.queue.add(job.id);
    } catch (err) {
      this.d.log({ level: 'warn', msg: 'could not requeue unfinished jobs; trying again later', error: (err as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const u of this.unsubscribe) u();
    for (const m of this.d.monitors.values()) m.stop();
    for (const w of this.wakers.values()) w();
    this.batchSlots.drain();
  }

  /**
   * Sees one job through; never throws. A failure that belongs to the job (its
   * scheduler refused it, its files could not be written) becomes the job's failure;
   * with the database away nothing can be decided, and the job is left to the next
   * requeue.
   */
  async handle(id: string, known?: Job): Promise<void> {
    try {
      await this.dispatch(id, known);
    } catch (err) {
      if (this.stopped) return;
      const databaseUp = await this.d.store.ping().then(() => true, () => false);
      if (!databaseUp) {
        this.d.log({ level: 'warn', msg: 'dispatch interrupted: the database does not answer; the job is picked up again later', jobId: id, error: (err as Error).message });
        return;
      }
      this.d.log({ level: 'error', msg: 'dispatch failed', jobId: id, error: (err as Error).message });
      // An exception already worded for the client (its files could not be stored) is its failure as it is.
      const failure =
        err instanceof OwsException
          ? { code: err.code, reason: err.message, ...(err.locator ? { locator: err.locator } : {}) }
          : { code: 'NoApplicableCode', reason: `The job could not be run: ${(err as Error).message}` };
      await this.d.lifecycle.fail(id, failure).catch(() => undefined);
    }
  }

  /** `known`: the job as its submitter wrote it, in this process (a state change since is caught by prepareDispatch). */
  private async dispatch(id: string, known?: Job): Promise<void> {
    const job = known ?? (await this.d.store.get(id));
    if (!job || isTerminal(job.state)) return;
    const process = this.d.registry.get(job.processId);
    if (!process) {
      await this.d.lifecycle.fail(id, { code: 'NoApplicableCode', reason: `Process ${job.processId} is no longer offered` });
      return;
    }
    const placement = placementOf(process, this.d.config.schedulers);
    // A job keeps the scheduler it was handed to, even if the configuration changed since.
    const schedulerName = job.scheduler ?? placement.scheduler;
    const monitor = this.d.monitors.get(schedulerName);
    if (!monitor) {
      await this.d.lifecycle.fail(id, { code: 'NoApplicableCode', reason: `Scheduler ${schedulerName} is not configured here` });
      return;
    }
    // A batch system holds only `parallel` of this dispatcher's jobs at once; the local scheduler keeps its own count.
    const limited = !monitor.scheduler.holdsAhead;
    if (limited && !(await this.batchSlots.take())) return;
    let lookAgain: boolean;
    try {
      lookAgain = await this.dispatchTo(job, process, placement, monitor, known);
    } finally {
      if (limited) this.batchSlots.give();
    }
    if (lookAgain) await this.dispatch(id);
    // Only an owner's job counts against a budget; one run here was charged as it ended.
    else if (job.owner !== null && monitor.scheduler.usedCoreSeconds) void this.charge(id, monitor.scheduler.usedCoreSeconds.bind(monitor.scheduler), reservationFrom(placement, this.d.config).cores, jobNameOf(job, process));
  }

  /** The Unix account a batch job runs as (scheduler.runAsUser): its owner's name. */
  private runAsOf(job: Job, placement: Placement): string | undefined {
    if (!this.d.config.schedulers.runAsUser || job.owner === null || placement.scheduler === 'local') return undefined;
    if (!isUnixAccount(job.owner)) throw new OwsException('NoApplicableCode', `The job cannot run as ${job.owner}: not a Unix account name`);
    return job.owner;
  }

  /** The cluster account the job's owner is charged to, if the configuration maps them. */
  private accountOf(job: Job): string | undefined {
    if (job.owner === null) return undefined;
    const { users, groups } = this.d.config.schedulers.accounts;
    // Own keys only: a user called "constructor" is no entry of the map.
    if (Object.hasOwn(users, job.owner)) return users[job.owner];
    return job.ownerGroups.filter((g) => Object.hasOwn(groups, g)).map((g) => groups[g]!)[0];
  }

  /** A user's `running` quota, if the job's owner has one. */
  private runningLimitOf(job: Job): RunningLimit | undefined {
    if (job.owner === null) return undefined;
    const max = quotaOf(this.d.config.quotas, job.owner, job.ownerGroups)?.running;
    return max === undefined ? undefined : { owner: job.owner, max };
  }

  /**
   * A job waits its turn: queued again when one of its owner's jobs ends here, or at the
   * next requeue of unfinished jobs (when it ends under another dispatcher).
   */
  private hold(job: Job): void {
    const owner = job.owner!;
    let ids = this.held.get(owner);
    if (!ids) this.held.set(owner, (ids = new Set()));
    ids.add(job.id);
  }

  private release(owner: string): void {
    const ids = this.held.get(owner);
    if (!ids) return;
    this.held.delete(owner);
    for (const id of ids) void this.d.queue.add(id).catch(() => undefined);
  }

  /**
   * Records what an ended batch job used, for its owner's budget: the batch system's
   * accounting (asked a few times: it may lag the job's end), else the runner's own
   * start and end times × the declared cores. Until then the job counts what it held.
   */
  private async charge(id: string, accounting: NonNullable<Scheduler['usedCoreSeconds']>, cores: number, jobName: string): Promise<void> {
    try {
      for (let attempt = 0; !this.stopped; attempt++) {
        const job = await this.d.store.get(id);
        if (!job || !isTerminal(job.state) || job.chargedCoreSeconds !== null) return;
        const accounted = job.schedulerJobId ? await accounting(job.schedulerJobId, jobName).catch(() => undefined) : undefined;
        if (accounted !== undefined) return await this.d.store.setCharge(id, accounted);
        if (attempt >= CHARGE_RETRY_MS.length) {
          const ran = job.startedAt && job.finishedAt ? Math.max(0, job.finishedAt.getTime() - job.startedAt.getTime()) / 1000 : 0;
          return await this.d.store.setCharge(id, ran * cores);
        }
        await wait(CHARGE_RETRY_MS[attempt]!);
      }
    } catch (err) {
      this.d.log({ level: 'warn', msg: 'could not record what the job used; it counts what it held', jobId: id, error: (err as Error).message });
    }
  }

  /** Returns true when the job should be looked at again from the store (a stale `known`). */
  private async dispatchTo(job: Job, process: ProcessDefinition, placement: Placement, monitor: SchedulerMonitor, known?: Job): Promise<boolean> {
    const id = job.id;
    const schedulerName = monitor.scheduler.name;
    const template = this.template(job, process, placement);
    let schedulerId = job.schedulerJobId ?? undefined;
    if (!schedulerId && job.dispatchedAt) {
      // Handed over before a crash, or a submission whose answer was lost: look first.
      schedulerId = await monitor.scheduler.find(template);
      if (schedulerId) await this.d.store.setSchedulerJobId(id, schedulerId);
      else if ((await this.d.files.hasAttempts(id)) || (await this.d.files.readResult(id))) {
        await this.settle(job, { state: 'undetermined', reason: `${schedulerName} no longer knows the job` });
        return false;
      }
    }
    if (!schedulerId) {
      const submitted = await this.submit(job, template, monitor);
      if (submitted === HELD) {
        this.hold(job);
        const max = this.runningLimitOf(job)?.max;
        void this.d.lifecycle.waiting(job.id, `Waiting its turn: ${job.owner} may run ${max} jobs at once`).catch(() => undefined);
        return false;
      }
      schedulerId = submitted;
      // Not preparable: dismissed meanwhile, or (a stale hint) dispatched before: look again.
      if (!schedulerId) return known !== undefined;
      await this.watch(job, schedulerId, template, monitor, true);
      return false;
    }
    await this.watch(job, schedulerId, template, monitor);
    return false;
  }

  /** Writes the job's spec (with a fresh secret) and hands it to the scheduler; HELD while its owner runs as many as allowed. */
  private async submit(job: Job, template: JobTemplate, monitor: SchedulerMonitor): Promise<string | undefined | typeof HELD> {
    const scheduler = monitor.scheduler;
    const secret = newSecret();
    // A scheduler whose ids are ours gets it recorded now: one write less per job.
    const ownId = scheduler.idIsJobId ? job.id : undefined;
    const running = this.runningLimitOf(job);
    const prepared = await this.d.store.prepareDispatch(job.id, scheduler.name, hashSecret(secret), ownId, running);
    if (prepared === HELD) return HELD;
    if (!prepared) return undefined; // dismissed or taken meanwhile
    if (running) this.runningOf.set(job.id, running.owner);
    await this.d.files.writeSpec(this.spec(job, secret, template.wallClockLimitSeconds, await this.sessionSecret(job)));
    // Its runner, as the owner, writes into its job directory and its outputs' folder.
    if (template.runAs) {
      await handOver([{ path: this.d.files.dir(job.id), private: true }, { path: this.d.outputs.pathOf(job.id)!, private: false }], template.runAs);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const schedulerId = await scheduler.submit(template);
        if (!ownId && !(await this.d.store.setSchedulerJobId(job.id, schedulerId))) {
          // Dismissed while the scheduler took it: take it back.
          await this.stopDismissed(job.id, scheduler, schedulerId, template.runAs);
          return undefined;
        }
        this.d.log({ level: 'info', msg: 'job submitted', jobId: job.id, scheduler: scheduler.name, schedulerJobId: schedulerId });
        return schedulerId;
      } catch (err) {
        const message = (err as Error).message;
        const transient = err instanceof TransportError || TRANSIENT.test(message);
        if (!transient || attempt >= SUBMIT_BACKOFF_MS.length || this.stopped) throw err;
        // The batch system may have taken the job before the answer was lost.
        const found = await scheduler.find(template).catch(() => undefined);
        if (found) {
          await this.d.store.setSchedulerJobId(job.id, found);
          return found;
        }
        this.d.log({ level: 'warn', msg: 'submission failed; trying again', jobId: job.id, scheduler: scheduler.name, attempt: attempt + 1, error: message });
        await wait(SUBMIT_BACKOFF_MS[attempt]!);
      }
    }
  }

  /**
   * Waits for the job to end: a "finished" event (its runner reported), or the
   * monitor's word that the scheduler no longer runs it. Also makes sure a job does
   * not outlive its wall-clock limit.
   */
  private async watch(job: Job, schedulerId: string, template: JobTemplate, monitor: SchedulerMonitor, justSubmitted = false): Promise<void> {
    const id = job.id;
    // What the batch system says of a waiting job goes into its message when it changes.
    let said = '';
    const onWaiting = (place: QueuePlace) => {
      const message = describePlace(monitor.scheduler.name, place);
      if (message === said) return;
      said = message;
      void this.d.lifecycle.waiting(id, message).catch(() => undefined);
    };
    let watching = monitor.watch(schedulerId, onWaiting);
    let wake: (() => void) | undefined;
    let woken = false;
    // The final state, when the news of the job's end carried it: no need to read the row.
    let ended: JobState | undefined;
    this.wakers.set(id, (state) => {
      woken = true;
      ended = state;
      wake?.();
    });
    // Just submitted, the job is known to be waiting: the first look at the row can wait for news.
    let fresh = justSubmitted;
    const session = this.d.registry.get(job.processId)?.session;
    try {
      while (!this.stopped) {
        woken = false;
        let current: Job | undefined;
        try {
          current = fresh ? job : ended ? { ...job, state: ended } : await this.d.store.get(id);
        } catch (err) {
          // The database is away for a moment: keep watching, do not judge.
          this.d.log({ level: 'warn', msg: 'cannot read the job; watching on', jobId: id, error: (err as Error).message });
          await wait(this.d.config.jobs.monitorIntervalMs);
          continue;
        }
        fresh = false;
        if (current?.state === 'dismissed') await this.stopDismissed(id, monitor.scheduler, schedulerId, template.runAs);
        if (!current || isTerminal(current.state)) return;
        const over = session && current.sessionReadyAt ? this.sessionOver(current, session, template) : undefined;
        if (over) {
          await this.d.lifecycle.endSession(id, over, sessionPaths(this.d.config.sessions.url, id).url);
          await monitor.scheduler.terminate(schedulerId, template.runAs).catch(() => undefined);
          return;
        }
        // The scheduler's word on a job over its time (its own clock may have ended it).
        let overdueVerdict: JobInfo | undefined;
        const started = current.startedAt;
        if (started && Date.now() - started.getTime() > template.wallClockLimitSeconds * 1000 + this.d.config.jobs.wallGraceMs) {
          // Over its time by the scheduler's clock too, unless it has ended there and only
          // the word of it lags (a job killed early, its accounting not yet written).
          const there = (await monitor.scheduler.status([schedulerId]).catch(() => undefined))?.get(schedulerId);
          if (there?.state === 'done' || there?.state === 'failed') overdueVerdict = there;
          else if (there?.state !== 'undetermined') {
            // The scheduler should have stopped it; make sure it is stopped.
            await monitor.scheduler.terminate(schedulerId, template.runAs).catch(() => undefined);
            await this.d.lifecycle.fail(id, {
              code: 'NoApplicableCode',
              reason: `The job exceeded its wall-clock limit of ${template.wallClockLimitSeconds} s and was stopped`,
            });
            return;
          }
          // Else gone from the queue, not yet in the accounting: its verdict is on the way.
        }
        const verdict =
          overdueVerdict ??
          (woken
            ? undefined
            : await Promise.race([
                watching.verdict,
                new Promise<undefined>((resolve) => {
                  const timer = setTimeout(() => resolve(undefined), this.d.config.jobs.monitorIntervalMs);
                  wake = () => {
                    clearTimeout(timer);
                    resolve(undefined);
                  };
                }),
              ]));
        wake = undefined;
        if (!verdict) continue;
        const again = await this.settle(current, verdict, template, monitor);
        if (!again) return;
        schedulerId = again;
        watching.cancel();
        watching = monitor.watch(schedulerId, onWaiting);
      }
    } finally {
      watching.cancel();
      this.wakers.delete(id);
    }
  }

  /** Why a ready session ends now (its wall time, or no traffic for its idle timeout); undefined: it goes on. */
  private sessionOver(job: Job, app: SessionApp, template: JobTemplate): string | undefined {
    const now = Date.now();
    // Ended here two looks before the batch system would (it asks for no more time than
    // its partition may allow): then it succeeded; the batch system's kill is the backstop.
    const wall = template.wallClockLimitSeconds;
    if (job.startedAt && now - job.startedAt.getTime() >= wall * 1000 - 2 * this.d.config.jobs.monitorIntervalMs) return `The session reached its wall time of ${wall} s`;
    const idle = app.idleTimeoutSeconds;
    const last = Math.max(job.sessionReadyAt!.getTime(), job.sessionActiveAt?.getTime() ?? 0);
    if (idle !== undefined && now - last >= idle * 1000) return `The session ended after ${idle} s without traffic`;
    return undefined;
  }

  /** A dismissed job is stopped in its scheduler, and what its runner stored meanwhile goes too. */
  private async stopDismissed(id: string, scheduler: SchedulerMonitor['scheduler'], schedulerId: string, as?: string): Promise<void> {
    await scheduler.terminate(schedulerId, as).catch((err: Error) =>
      this.d.log({ level: 'warn', msg: 'could not stop a dismissed job', jobId: id, schedulerJobId: schedulerId, error: err.message }),
    );
    await this.d.outputs.removeOutputs(id);
    this.d.log({ level: 'info', msg: 'dismissed job stopped', jobId: id, scheduler: scheduler.name, schedulerJobId: schedulerId });
  }

  /**
   * The scheduler no longer runs the job. Its runner's result settles it; a job that
   * never started is submitted again (returning the new id); otherwise it failed, for
   * the scheduler's reason.
   */
  private async settle(job: Job, info: JobInfo, template?: JobTemplate, monitor?: SchedulerMonitor): Promise<string | undefined> {
    if (await this.d.lifecycle.finishFromResult(job.id, 5, info.reason)) return undefined;
    if (template && monitor && info.state === 'undetermined' && !(await this.d.files.hasAttempts(job.id))) {
      // Its spec may never have been written (a crash right after the dispatch was
      // recorded): write it anew, with a new secret, before handing the job over again.
      const secret = newSecret();
      if (!(await this.d.store.renewSecret(job.id, hashSecret(secret)))) return undefined;
      await this.d.files.writeSpec(this.spec(job, secret, template.wallClockLimitSeconds, await this.sessionSecret(job)));
      const again = await monitor.scheduler.submit(template);
      await this.d.store.setSchedulerJobId(job.id, again);
      this.d.log({ level: 'info', msg: 'job resubmitted: it had not started', jobId: job.id, schedulerJobId: again });
      return again;
    }
    const reason =
      info.state === 'undetermined'
        ? `The job's runner is gone without leaving a result (${info.reason ?? 'the scheduler does not know the job'})`
        : `The job ended without a result: ${info.reason ?? `exit code ${info.exitCode ?? 'unknown'}`}`;
    await this.d.lifecycle.fail(job.id, { code: 'NoApplicableCode', reason });
    return undefined;
  }

  private template(job: Job, process: ProcessDefinition, placement: Placement): JobTemplate {
    const dir = this.d.files.dir(job.id);
    const runner = this.d.config.schedulers.runner;
    const t: JobTemplate = {
      jobId: job.id,
      jobName: jobNameOf(job, process),
      remoteCommand: runner.node,
      args: [runner.script ?? MAIN_SCRIPT, 'job', 'run', dir],
      workingDirectory: dir,
      outputPath: this.d.files.stdoutPath(job.id),
      errorPath: this.d.files.stderrPath(job.id),
      env: { WPS_JOB_ID: job.id },
      wallClockLimitSeconds: reservationFrom(placement, this.d.config).wallTimeSeconds,
      nativeSpecification: placement.nativeOptions,
    };
    if (placement.queue) t.queue = placement.queue;
    const project = this.accountOf(job) ?? placement.project;
    if (project) t.project = project;
    const runAs = this.runAsOf(job, placement);
    if (runAs) t.runAs = runAs;
    if (placement.memoryMb) t.memoryMb = placement.memoryMb;
    if (placement.cores) t.cores = placement.cores;
    return t;
  }

  /** A session's secret, new each time its job is handed over: the proxy keeps its hash, the spec the secret. */
  private async sessionSecret(job: Job): Promise<string | undefined> {
    if (!this.d.registry.get(job.processId)?.session) return undefined;
    const secret = newSecret();
    await this.d.store.setSessionSecret(job.id, hashSecret(secret));
    return secret;
  }

  /** What a session's runner needs: its app, secret, addresses, the pools and its inputs' values. */
  private sessionSpec(job: Job, process: ProcessDefinition, app: SessionApp, secret: string): SessionSpec {
    const request = job.request as ExecuteRequest;
    const literals = request.inputs.flatMap((i) => (i.data.kind === 'literal' ? [{ identifier: i.identifier, data: i.data }] : []));
    const values: Record<string, string> = {};
    for (const [name, given] of validateInputs(process, literals).entries()) {
      const first = given[0];
      if (first?.type === 'literal') values[name] = String(first.value);
    }
    const paths = sessionPaths(this.d.config.sessions.url, job.id);
    return { app, secret, basePath: paths.basePath, url: paths.url, pools: this.d.config.sessions.resources, values };
  }

  private spec(job: Job, secret: string, wallTimeSeconds: number, sessionSecret?: string): JobSpec {
    const c = this.d.config;
    const process = this.d.registry.get(job.processId);
    const processSource = process ? sourceOf(process) : undefined;
    const session = process?.session && sessionSecret !== undefined ? this.sessionSpec(job, process, process.session, sessionSecret) : undefined;
    return {
      ...(session ? { session } : {}),
      jobId: job.id,
      processId: job.processId,
      ...(processSource ? { processSource } : {}),
      cwl: { containers: c.cwl.containers },
      request: job.request as ExecuteRequest,
      reportUrl: `${c.jobs.internalUrl}${reportPath(job.id)}`,
      secret,
      outputDir: c.storageDir,
      outputUrl: c.outputUrl,
      references: { allow: [...c.references.allow], deny: [...c.references.deny] },
      referenceTimeoutMs: c.limits.referenceTimeoutMs,
      maxInputSize: c.limits.maxInputSize,
      maxReferences: c.limits.maxReferences,
      maxFetchedBytes: c.limits.maxFetchedBytes,
      wallTimeSeconds,
    };
  }
}

/** The name a job goes by in its batch system (its id in it: accounting is matched by it). */
const jobNameOf = (job: Job, process: ProcessDefinition): string => `wps-${process.identifier.slice(0, 22)}-${job.id}`;
