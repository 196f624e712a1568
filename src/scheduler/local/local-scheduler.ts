import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { RunnerCommand, RunnerMessage } from '../../runner-contract.js';
import { openJobLogs, type JobFiles } from '../../storage/job-files.js';
import { checkTemplate, type DrmaaState, type JobInfo, type JobTemplate, type Scheduler } from '../types.js';
import { isSameProcessAlive, killGroup, stopGroup } from './proc.js';

/**
 * Runs jobs as processes on this machine, each in its own process group outside the
 * server, so a crashing or runaway job never harms it; the wall-clock limit kills the
 * whole group. Starting Node costs tens of milliseconds of CPU, so jobs go to warm
 * runner processes that take one job at a time and are replaced when they crash or
 * overrun. With no warm runners, each job runs its template command in a fresh process,
 * exactly as a batch system would.
 */

export interface LocalSchedulerOptions {
  /** Jobs running at once; more wait (DRMAA: queued). */
  slots: number;
  /** Keep warm runners (one per slot) instead of starting each job's command afresh. */
  warm: boolean;
  /** How to start a warm runner: the same install's `runner` command. */
  runnerCommand: { command: string; args: string[] };
  env: NodeJS.ProcessEnv;
  files: JobFiles;
  /** Between SIGTERM and SIGKILL when a job is stopped (dismissed, past its wall time). */
  killGraceMs: number;
}

interface Runner {
  child: ChildProcess;
  pid: number;
  ready: boolean;
  jobId?: string;
}

interface LocalJob {
  template: JobTemplate;
  state: DrmaaState;
  reason?: string;
  exitCode?: number;
  pgid?: number;
  runner?: Runner;
  timer?: NodeJS.Timeout;
}

export class LocalScheduler implements Scheduler {
  readonly name = 'local';
  readonly idIsJobId = true;
  private readonly runners = new Set<Runner>();
  private readonly jobs = new Map<string, LocalJob>();
  private readonly pending: string[] = [];
  private readonly listeners: ((id: string) => void)[] = [];
  private readonly reportListeners: ((id: string, event: unknown) => void)[] = [];
  private closing = false;
  /** Runners that died young in a row: restarts slow down instead of spinning. */
  private earlyDeaths = 0;

  private warmedUp = false;
  /**
   * One job kept ready: a runner that ends a job takes it at once. One per slot made
   * jobs faster still, but put that much more bookkeeping beside the submissions
   * (open loop at 500/s while jobs ran: p50 7–9 → 13–17 ms).
   */
  readonly holdsAhead = 1;

  constructor(private readonly opts: LocalSchedulerOptions) {}

  /** Warm runners start with the first job, so a server that never runs one has none. */
  private warmUp(): void {
    if (this.warmedUp || !this.opts.warm) return;
    this.warmedUp = true;
    for (let i = 0; i < this.opts.slots; i++) this.startRunner();
  }

  onFinished(listener: (id: string) => void): void {
    this.listeners.push(listener);
  }

  /** Reports of warm runners, which come over IPC rather than HTTP. */
  onReport(listener: (id: string, event: unknown) => void): void {
    this.reportListeners.push(listener);
  }

  async submit(template: JobTemplate): Promise<string> {
    checkTemplate(template);
    this.warmUp();
    const id = template.jobId;
    const existing = this.jobs.get(id);
    if (existing && (existing.state === 'queued' || existing.state === 'running')) return id;
    this.jobs.set(id, { template, state: 'queued' });
    this.pending.push(id);
    this.pump();
    return id;
  }

  async status(ids: readonly string[]): Promise<Map<string, JobInfo>> {
    const out = new Map<string, JobInfo>();
    for (const id of ids) {
      const job = this.jobs.get(id);
      if (job) {
        const info: JobInfo = { state: job.state };
        if (job.reason) info.reason = job.reason;
        if (job.exitCode !== undefined) info.exitCode = job.exitCode;
        out.set(id, info);
        continue;
      }
      // Not ours: a job a previous server process started. Its runner may live on.
      const runner = await this.opts.files.readRunner(id);
      out.set(
        id,
        runner && isSameProcessAlive(runner.pid, runner.startTicks)
          ? { state: 'running' }
          : { state: 'undetermined', reason: 'no process of this server runs the job' },
      );
    }
    return out;
  }

  /** Local ids are our job ids: a job this or an earlier server started can be looked at by it. */
  async find(t: JobTemplate): Promise<string | undefined> {
    if (this.jobs.has(t.jobId) || (await this.opts.files.readRunner(t.jobId))) return t.jobId;
    return undefined;
  }

  async terminate(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (!job) {
      const runner = await this.opts.files.readRunner(id);
      if (runner && isSameProcessAlive(runner.pid, runner.startTicks)) stopGroup(runner.pid, this.opts.killGraceMs);
      return;
    }
    if (job.state === 'queued') {
      this.pending.splice(this.pending.indexOf(id), 1);
      this.finish(id, job, 'failed', 'terminated before it started');
    } else if (job.state === 'running' && job.pgid) {
      job.reason ??= 'terminated';
      stopGroup(job.pgid, this.opts.killGraceMs);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const r of this.runners) {
      // A busy runner finishes its job and then exits; an idle one goes now.
      if (r.jobId) r.child.disconnect?.();
      else killGroup(r.pid);
    }
  }

  private running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.state === 'running') n++;
    return n;
  }

  private pump(): void {
    while (this.pending.length > 0 && this.running() < this.opts.slots) {
      const idle = this.opts.warm ? [...this.runners].find((r) => r.ready && !r.jobId) : undefined;
      if (this.opts.warm && !idle) return;
      const id = this.pending.shift()!;
      const job = this.jobs.get(id)!;
      if (idle) this.runWarm(id, job, idle);
      else this.runCommand(id, job);
    }
  }

  private startTimer(job: LocalJob): void {
    const limit = job.template.wallClockLimitSeconds;
    job.timer = setTimeout(() => {
      job.reason = `it exceeded its wall-clock limit of ${limit} s`;
      if (job.pgid) stopGroup(job.pgid, this.opts.killGraceMs);
    }, limit * 1000);
    job.timer.unref();
  }

  private finish(id: string, job: LocalJob, state: 'done' | 'failed', reason?: string, exitCode?: number): void {
    if (job.state === 'done' || job.state === 'failed') return;
    clearTimeout(job.timer);
    job.state = state;
    if (reason && !job.reason) job.reason = reason;
    if (exitCode !== undefined) job.exitCode = exitCode;
    delete job.runner;
    for (const l of this.listeners) l(id);
    // Forget finished jobs after a while; the dispatcher has read them by then.
    setTimeout(() => this.jobs.delete(id), 60_000).unref();
    this.pump();
  }

  // ---- warm runners ----

  private startRunner(): void {
    const { command, args } = this.opts.runnerCommand;
    const child = spawn(command, args, {
      detached: true,
      env: this.opts.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    const runner: Runner = { child, pid: child.pid!, ready: false };
    const born = Date.now();
    this.runners.add(runner);
    child.on('message', (msg: RunnerMessage) => {
      if (msg.type === 'ready') {
        runner.ready = true;
        this.pump();
      } else if (msg.type === 'report' && runner.jobId === msg.jobId) {
        // Only about the job this runner holds: a runner cannot speak for another.
        for (const l of this.reportListeners) l(msg.jobId, msg.event);
      } else if (msg.type === 'done' && runner.jobId === msg.jobId) {
        const job = this.jobs.get(msg.jobId);
        runner.jobId = undefined;
        // A runner about to exit takes no other job (it would die under it).
        if (msg.leaving) runner.ready = false;
        if (job && msg.reason) this.finish(msg.jobId, job, 'failed', msg.reason);
        else if (job) this.finish(msg.jobId, job, 'done', undefined, 0);
        this.pump();
      }
    });
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      this.runners.delete(runner);
      if (runner.jobId) {
        const job = this.jobs.get(runner.jobId);
        if (job) this.finish(runner.jobId, job, 'failed', `the runner process ended (${signal ?? `exit code ${code}`})`, code ?? undefined);
      }
      if (this.closing) return;
      this.earlyDeaths = Date.now() - born < 2000 ? this.earlyDeaths + 1 : 0;
      const delay = this.earlyDeaths === 0 ? 0 : Math.min(30_000, 250 * 2 ** this.earlyDeaths);
      setTimeout(() => !this.closing && this.startRunner(), delay).unref();
    });
  }

  private runWarm(id: string, job: LocalJob, runner: Runner): void {
    runner.jobId = id;
    job.state = 'running';
    job.runner = runner;
    job.pgid = runner.pid;
    this.startTimer(job);
    const cmd: RunnerCommand = { type: 'run', jobId: id, stdout: job.template.outputPath, stderr: job.template.errorPath };
    runner.child.send(cmd, (err) => {
      if (err) killGroup(runner.pid);
    });
  }

  // ---- a fresh process per job ----

  private runCommand(id: string, job: LocalJob): void {
    const t = job.template;
    let logs: { out: number; err: number };
    try {
      logs = openJobLogs(t.outputPath, t.errorPath);
    } catch (e) {
      // Told after this turn: the caller (submit, or the end of another job) is not done yet.
      job.state = 'running';
      setImmediate(() => this.finish(id, job, 'failed', (e as Error).message));
      return;
    }
    const { out, err } = logs;
    let child: ChildProcess;
    try {
      child = spawn(t.remoteCommand, t.args, {
        cwd: t.workingDirectory,
        env: { ...this.opts.env, ...t.env },
        detached: true,
        stdio: ['ignore', out, err],
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    child.unref();
    job.state = 'running';
    job.pgid = child.pid;
    this.startTimer(job);
    child.on('error', (e) => this.finish(id, job, 'failed', `could not start: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (code === 0) this.finish(id, job, 'done', undefined, 0);
      else this.finish(id, job, 'failed', `the job process ended (${signal ?? `exit code ${code}`})`, code ?? undefined);
    });
  }
}
