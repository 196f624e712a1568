import { renderJobScript } from './job-script.js';
import { LocalTransport, type Transport } from './transport.js';
import { checkTemplate, type DrmaaState, type JobInfo, type JobTemplate, type QueueLimit, type Scheduler } from './types.js';

export interface SlurmOptions {
  transport?: Transport;
}

const QUEUED = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESIZING', 'SPECIAL_EXIT']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'STOPPED']);

function drmaaState(slurmState: string): DrmaaState {
  const s = slurmState.split(/\s/)[0]!.toUpperCase();
  if (QUEUED.has(s)) return 'queued';
  if (RUNNING.has(s)) return 'running';
  if (s === 'COMPLETED') return 'done';
  return 'failed';
}

/**
 * Slurm: `sbatch --parsable` with the batch script on stdin, `squeue` for the jobs it
 * holds (finished ones too, for MinJobAge), then `scontrol show job` and `sacct` for
 * older ones, `scancel`.
 */
export class SlurmScheduler implements Scheduler {
  readonly name = 'slurm';
  private readonly transport: Transport;

  constructor(options: SlurmOptions = {}) {
    this.transport = options.transport ?? new LocalTransport();
  }

  async submit(t: JobTemplate): Promise<string> {
    checkTemplate(t);
    const args = [
      '--parsable',
      `--job-name=${t.jobName}`,
      `--chdir=${t.workingDirectory}`,
      `--output=${t.outputPath}`,
      `--error=${t.errorPath}`,
      `--time=${Math.ceil(t.wallClockLimitSeconds / 60)}`,
    ];
    if (t.queue) args.push(`--partition=${t.queue}`);
    if (t.project) args.push(`--account=${t.project}`);
    if (t.cores) args.push(`--cpus-per-task=${t.cores}`);
    if (t.memoryMb) args.push(`--mem=${t.memoryMb}M`);
    args.push(...t.nativeSpecification);
    const r = await this.transport.run('sbatch', args, { input: renderJobScript(t), ...(t.runAs ? { as: t.runAs } : {}) });
    const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
    if (r.code !== 0 || !id) throw new Error(`sbatch failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return id;
  }

  async status(ids: readonly string[]): Promise<Map<string, JobInfo>> {
    const out = new Map<string, JobInfo>();
    if (ids.length === 0) return out;
    for (const id of ids) if (!/^\d+$/.test(id)) throw new Error(`not a Slurm job id: ${id}`);
    const r = await this.transport.run('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r|%P']);
    if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) throw new Error(`squeue failed (exit ${r.code}): ${r.stderr.trim()}`);
    const pending: string[] = [];
    for (const line of r.stdout.split('\n')) {
      const [id, state, reason, partition] = line.trim().split('|');
      if (!id || !state || !ids.includes(id)) continue;
      // squeue has no exit code; a failed job's details come from scontrol.
      const info = drmaaState(state) === 'failed' ? await this.finished(id) : this.info(id, state, reason);
      if (state === 'PENDING') {
        info.waiting = { ...(reason && reason !== 'None' ? { reason } : {}), ...(partition ? { queue: partition } : {}) };
        pending.push(id);
      }
      out.set(id, info);
    }
    if (pending.length > 0) await this.placeInQueues(pending, out);
    for (const id of ids) if (!out.has(id)) out.set(id, await this.finished(id));
    return out;
  }

  /**
   * Where pending jobs stand: their rank among all pending jobs of their partition in
   * Slurm's own order (priority, then submission), and `squeue --start`'s expected start.
   * Two more queries a round, only while some watched job waits.
   */
  private async placeInQueues(ids: readonly string[], out: Map<string, JobInfo>): Promise<void> {
    const queue = await this.transport.run('squeue', ['-h', '-t', 'PENDING', '--sort=-p,i', '-o', '%i|%P']);
    if (queue.code === 0) {
      const ranks = new Map<string, string[]>();
      for (const line of queue.stdout.split('\n')) {
        const [id, partition] = line.trim().split('|');
        if (!id || !partition) continue;
        let list = ranks.get(partition);
        if (!list) ranks.set(partition, (list = []));
        list.push(id);
      }
      for (const id of ids) {
        const place = out.get(id)?.waiting;
        const list = place?.queue ? ranks.get(place.queue) : undefined;
        const at = list?.indexOf(id) ?? -1;
        if (place && list && at >= 0) Object.assign(place, { position: at + 1, pending: list.length });
      }
    }
    const start = await this.transport.run('squeue', ['-h', '--start', '-j', ids.join(','), '-o', '%i|%S']);
    if (start.code !== 0) return;
    for (const line of start.stdout.split('\n')) {
      const [id, when] = line.trim().split('|');
      const place = id ? out.get(id)?.waiting : undefined;
      if (place && when && /^\d{4}-\d\d-\d\dT/.test(when)) place.expectedStart = when;
    }
  }

  async terminate(id: string, as?: string): Promise<void> {
    if (!/^\d+$/.test(id)) throw new Error(`not a Slurm job id: ${id}`);
    const r = await this.transport.run('scancel', [id], as ? { as } : {});
    if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) throw new Error(`scancel ${id} failed: ${r.stderr.trim()}`);
  }

  async find(t: JobTemplate): Promise<string | undefined> {
    const r = await this.transport.run('squeue', ['-h', '-t', 'all', `--name=${t.jobName}`, '-o', '%i']);
    if (r.code !== 0) throw new Error(`squeue failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout.split('\n').map((l) => l.trim()).find((l) => /^\d+$/.test(l));
  }

  async close(): Promise<void> {
    await this.transport.close?.();
  }

  private info(id: string, state: string, reason?: string, exitCode?: string): JobInfo {
    const drmaa = drmaaState(state);
    if (drmaa !== 'failed') return drmaa === 'done' ? { state: 'done', exitCode: 0 } : { state: drmaa };
    const why = [state];
    if (reason && reason !== 'None') why.push(`reason ${reason}`);
    if (exitCode) why.push(`exit code ${exitCode}`);
    const info: JobInfo = { state: 'failed', reason: `Slurm job ${id} ended ${why.join(', ')}` };
    const code = Number(exitCode?.split(':')[0]);
    if (Number.isFinite(code)) info.exitCode = code;
    return info;
  }

  async queueLimits(queue: string | undefined): Promise<{ queue: string; limits: QueueLimit[] }> {
    if (queue !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(queue)) throw new Error(`not a Slurm partition: ${queue}`);
    const r = await this.transport.run('scontrol', ['-o', 'show', 'partition', ...(queue ? [queue] : [])]);
    if (r.code !== 0) throw new Error(`scontrol show partition failed (exit ${r.code}): ${r.stderr.trim()}`);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('PartitionName='));
    const line = queue ? lines[0] : lines.find((l) => / Default=YES\b/.test(l));
    if (!line) throw new Error(`Slurm has no ${queue ? `partition ${queue}` : 'default partition'}`);
    const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S+)`).exec(line)?.[1];
    const limits: QueueLimit[] = [];
    const maxTime = slurmMinutes(field('MaxTime'));
    if (maxTime !== undefined) limits.push({ what: 'wallTime', max: maxTime * 60, name: 'MaxTime' });
    const total = Number(field('TotalCPUs'));
    const perNode = Number(field('MaxCPUsPerNode'));
    // One task on one node: the most CPUs a node of the partition offers it.
    if (Number.isFinite(perNode)) limits.push({ what: 'cores', max: perNode, name: 'MaxCPUsPerNode' });
    else if (Number.isFinite(total) && Number(field('TotalNodes')) === 1) limits.push({ what: 'cores', max: total, name: 'TotalCPUs' });
    const memory = Number(field('MaxMemPerNode'));
    if (Number.isFinite(memory)) limits.push({ what: 'memory', max: memory, name: 'MaxMemPerNode' });
    return { queue: field('PartitionName')!, limits };
  }

  /** CPUTimeRAW: elapsed seconds × allocated CPUs, once accounting has the job. */
  async usedCoreSeconds(id: string, jobName: string): Promise<number | undefined> {
    if (!/^\d+$/.test(id)) return undefined;
    const r = await this.transport.run('sacct', ['-n', '-X', '-P', '--duplicates', '-j', id, '-o', 'JobID,JobName%200,State,CPUTimeRAW']);
    if (r.code !== 0) return undefined;
    // Every job that had this number (after a controller lost its state); ours by its name.
    const [, , state, used] = r.stdout.split('\n').find((l) => l.startsWith(`${id}|${jobName}|`))?.split('|') ?? [];
    // A job accounting still sees running has no final figure yet.
    if (!state || /^(PENDING|RUNNING|REQUEUED|RESIZING|SUSPENDED)/.test(state)) return undefined;
    const n = Number(used);
    return Number.isFinite(n) ? n : undefined;
  }

  /** A job squeue no longer shows: scontrol while Slurm remembers it, then accounting. */
  private async finished(id: string): Promise<JobInfo> {
    const sc = await this.transport.run('scontrol', ['-o', 'show', 'job', id]);
    if (sc.code === 0) {
      const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S+)`).exec(sc.stdout)?.[1];
      const state = field('JobState');
      if (state) return this.info(id, state, field('Reason'), field('ExitCode'));
    }
    const acct = await this.transport.run('sacct', ['-n', '-X', '-P', '-j', id, '-o', 'JobID,State,ExitCode']);
    const row = acct.code === 0 ? acct.stdout.split('\n').find((l) => l.startsWith(`${id}|`)) : undefined;
    if (row) {
      const [, state, exitCode] = row.split('|');
      return this.info(id, state!, undefined, exitCode);
    }
    return { state: 'undetermined', reason: `Slurm knows no job ${id} (not in squeue, scontrol or sacct)` };
  }
}

/** Slurm's time limits (minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]) in minutes; undefined for UNLIMITED or none. */
export function slurmMinutes(value: string | undefined): number | undefined {
  if (!value || /^(UNLIMITED|INFINITE|NONE|N\/A)$/i.test(value)) return undefined;
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(value);
  if (!m) return undefined;
  const [, days, a, b, c] = m;
  let seconds: number;
  if (days !== undefined) seconds = Number(days) * 86400 + Number(a) * 3600 + Number(b ?? 0) * 60 + Number(c ?? 0);
  else if (c !== undefined) seconds = Number(a) * 3600 + Number(b) * 60 + Number(c);
  else if (b !== undefined) seconds = Number(a) * 60 + Number(b);
  else seconds = Number(a) * 60;
  return seconds / 60;
}
