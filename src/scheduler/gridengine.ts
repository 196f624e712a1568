import { XMLParser } from 'fast-xml-parser';
import { renderJobScript } from './job-script.js';
import { LocalTransport, type CommandResult, type RunOptions, type Transport } from './transport.js';
import { checkTemplate, type JobInfo, type JobTemplate, type QueueLimit, type QueuePlace, type Scheduler } from './types.js';

export interface GridEngineOptions {
  transport?: Transport;
  /** Parallel environment used when a job asks for more than one core. */
  parallelEnvironment?: string;
  /**
   * Where GridEngine's own commands are, with the SGE_ROOT and SGE_CELL they need. Unset,
   * the commands on the PATH are run: on Debian those are wrappers that work out the
   * host's architecture (bash, ldd, the C preprocessor) at every call, several times the
   * cost of the command itself.
   */
  commands?: { dir: string; root?: string; cell?: string };
}

const qstatParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'job_list' || name === 'ulong_sublist' });

/** `h_rt` wants HH:MM:SS. */
const hms = (seconds: number): string =>
  [Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60), seconds % 60].map((n) => String(n).padStart(2, '0')).join(':');

/** Waiting jobs a round asks `qstat -j` about (one command each). */
const SCHEDULING_INFO_PER_ROUND = 20;

/**
 * Son of Grid Engine (and its relatives): `qsub` with the batch script on stdin,
 * `qstat -xml` for every job it still holds, `qacct` once a job has left it, `qdel`.
 * A job in an error state (`Eqw`: say, an output path it cannot write) is failed with
 * GridEngine's own reason and deleted, instead of waiting for ever.
 */
export class GridEngineScheduler implements Scheduler {
  readonly name = 'gridengine';
  private readonly transport: Transport;

  constructor(private readonly options: GridEngineOptions = {}) {
    this.transport = options.transport ?? new LocalTransport();
  }

  /** One of GridEngine's commands, from its configured place, or else from the PATH. */
  private run(name: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const c = this.options.commands;
    if (!c) return this.transport.run(name, args, opts);
    const env = [...(c.root ? [`SGE_ROOT=${c.root}`] : []), ...(c.cell ? [`SGE_CELL=${c.cell}`] : [])];
    const command = `${c.dir}/${name}`;
    return env.length > 0 ? this.transport.run('env', [...env, command, ...args], opts) : this.transport.run(command, args, opts);
  }

  async submit(t: JobTemplate): Promise<string> {
    checkTemplate(t);
    const args = [
      '-terse',
      '-N', t.jobName,
      '-wd', t.workingDirectory,
      '-o', t.outputPath,
      '-e', t.errorPath,
      '-S', '/bin/sh',
      '-l', `h_rt=${hms(t.wallClockLimitSeconds)}`,
    ];
    if (t.queue) args.push('-q', t.queue);
    if (t.project) args.push('-P', t.project);
    if (t.cores && t.cores > 1) args.push('-pe', this.options.parallelEnvironment ?? 'smp', String(t.cores));
    if (t.memoryMb) args.push('-l', `h_vmem=${t.memoryMb}M`);
    args.push(...t.nativeSpecification);
    const r = await this.run('qsub', args, { input: renderJobScript(t), ...(t.runAs ? { as: t.runAs } : {}) });
    const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
    if (r.code !== 0 || !id) throw new Error(`qsub failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return id;
  }

  async status(ids: readonly string[]): Promise<Map<string, JobInfo>> {
    const out = new Map<string, JobInfo>();
    if (ids.length === 0) return out;
    const jobs = await this.jobList();
    const listed = new Map(jobs.map((j) => [String(j.JB_job_number), String(j.state)]));
    // qstat lists pending jobs in the order the scheduler will consider them.
    const pendingOrder = jobs.filter((j) => /q/.test(String(j.state))).map((j) => String(j.JB_job_number));
    let asked = 0;
    for (const id of ids) {
      const state = listed.get(id);
      if (state === undefined) {
        out.set(id, await this.accounting(id));
      } else if (state.includes('E')) {
        out.set(id, { state: 'failed', reason: `GridEngine job ${id} is in error state ${state}: ${await this.errorReason(id)}` });
        await this.terminate(id);
      } else if (/[rtRsST]/.test(state) || state.includes('d')) {
        out.set(id, { state: 'running' });
      } else {
        const at = pendingOrder.indexOf(id);
        const waiting: QueuePlace = at >= 0 ? { position: at + 1, pending: pendingOrder.length } : {};
        // The scheduler's own words (schedd_job_info), for the first waiting jobs of a round.
        const reason = state.includes('h') ? 'held' : asked++ < SCHEDULING_INFO_PER_ROUND ? await this.schedulingInfo(id) : undefined;
        if (reason) waiting.reason = reason;
        out.set(id, { state: 'queued', waiting });
      }
    }
    return out;
  }

  /**
   * The first line of `qstat -j`'s scheduling info, when the scheduler records one
   * (not when it says it keeps none, or has none yet).
   */
  private async schedulingInfo(id: string): Promise<string | undefined> {
    const r = await this.run('qstat', ['-j', id]);
    if (r.code !== 0) return undefined;
    const line = /^scheduling info:\s*(.+)$/m.exec(r.stdout)?.[1]?.trim();
    return line && !/turned off|no messages available/i.test(line) ? line : undefined;
  }

  async terminate(id: string, as?: string): Promise<void> {
    if (!/^\d+$/.test(id)) throw new Error(`not a GridEngine job id: ${id}`);
    const r = await this.run('qdel', [id], as ? { as } : {});
    if (r.code !== 0 && !/does not exist/.test(r.stderr + r.stdout)) throw new Error(`qdel ${id} failed: ${r.stderr.trim()}`);
  }

  async find(t: JobTemplate): Promise<string | undefined> {
    for (const j of await this.jobList()) if (String(j.JB_name) === t.jobName) return String(j.JB_job_number);
    return undefined;
  }

  async usedCoreSeconds(id: string, jobName: string): Promise<number | undefined> {
    if (!/^\d+$/.test(id)) return undefined;
    const r = await this.run('qacct', ['-j', id]);
    if (r.code !== 0) return undefined;
    // One record per job that had this number; ours is the one with our job's name.
    const record = r.stdout.split(/^=+$/m).find((rec) => new RegExp(`^jobname\\s+${jobName}\\s*$`, 'm').test(rec));
    if (!record) return undefined;
    const number = (name: string) => Number(new RegExp(`^${name}\\s+([0-9.]+)`, 'm').exec(record)?.[1] ?? NaN);
    const used = number('ru_wallclock') * number('slots');
    return Number.isFinite(used) ? used : undefined;
  }

  async queueLimits(queue: string | undefined): Promise<{ queue: string; limits: QueueLimit[] }> {
    const name = queue ?? 'all.q';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`not a GridEngine queue: ${name}`);
    const r = await this.run('qconf', ['-sq', name]);
    if (r.code !== 0) throw new Error(`qconf -sq ${name} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    const field = (key: string) => new RegExp(`^${key}\\s+(\\S+)`, 'm').exec(r.stdout)?.[1];
    const limits: QueueLimit[] = [];
    const rt = geSeconds(field('h_rt'));
    if (rt !== undefined) limits.push({ what: 'wallTime', max: rt, name: 'h_rt' });
    const slots = Number(field('slots'));
    if (Number.isFinite(slots)) limits.push({ what: 'cores', max: slots, name: 'slots' });
    const vmem = geMegabytes(field('h_vmem'));
    if (vmem !== undefined) limits.push({ what: 'memory', max: vmem, name: 'h_vmem' });
    return { queue: name, limits };
  }

  async close(): Promise<void> {
    await this.transport.close?.();
  }

  private async jobList(): Promise<JobList[]> {
    const r = await this.run('qstat', ['-u', '*', '-xml']);
    if (r.code !== 0) throw new Error(`qstat failed (exit ${r.code}): ${r.stderr.trim()}`);
    const doc = qstatParser.parse(r.stdout) as {
      job_info?: { queue_info?: { job_list?: JobList[] }; job_info?: { job_list?: JobList[] } };
    };
    return [...(doc.job_info?.queue_info?.job_list ?? []), ...(doc.job_info?.job_info?.job_list ?? [])];
  }

  private async errorReason(id: string): Promise<string> {
    const r = await this.run('qstat', ['-j', id, '-xml']);
    const messages = [...r.stdout.matchAll(/<QIM_message>([^<]*)<\/QIM_message>/g)].map((m) => decodeEntities(m[1]!));
    return messages.join('; ') || 'no reason given';
  }

  /** What qacct says of a job that left qstat: its exit status and GridEngine's failure code. */
  private async accounting(id: string): Promise<JobInfo> {
    const r = await this.run('qacct', ['-j', id]);
    if (r.code !== 0) return { state: 'undetermined', reason: `GridEngine knows no job ${id} (not in qstat, not in qacct)` };
    const field = (name: string) => new RegExp(`^${name}\\s+(.*?)\\s*$`, 'm').exec(r.stdout)?.[1];
    const exit = Number(field('exit_status')?.split(/\s/)[0] ?? NaN);
    const failed = field('failed') ?? '0';
    if (exit === 0 && /^0\b/.test(failed)) return { state: 'done', exitCode: 0 };
    const detail = [`exit status ${field('exit_status') ?? 'unknown'}`];
    if (!/^0\b/.test(failed)) detail.push(`failed: ${failed}`);
    return { state: 'failed', exitCode: exit, reason: `GridEngine job ${id} ended: ${detail.join(', ')}` };
  }
}

interface JobList {
  JB_job_number: string | number;
  JB_name: string;
  state: string;
}

const decodeEntities = (s: string) =>
  s.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** GridEngine's time values (INFINITY, seconds, or h:m:s) in seconds. */
function geSeconds(value: string | undefined): number | undefined {
  if (!value || /^INFINITY$/i.test(value)) return undefined;
  const parts = value.split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n))) return undefined;
  return parts.reduce((total, n) => total * 60 + n, 0);
}

/** GridEngine's memory values (INFINITY, bytes, or with k/K/m/M/g/G) in megabytes. */
function geMegabytes(value: string | undefined): number | undefined {
  if (!value || /^INFINITY$/i.test(value)) return undefined;
  const m = /^([\d.]+)([kKmMgGtT]?)$/.exec(value);
  if (!m) return undefined;
  const unit = { '': 1 / 1024 / 1024, k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * unit;
}
