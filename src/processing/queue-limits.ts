import type { Config } from '../config.js';
import { invalidParameter } from '../exceptions.js';
import type { Log } from '../log.js';
import type { ProcessDefinition } from '../process/types.js';
import type { QueueLimit, Scheduler } from '../scheduler/types.js';
import { placementOf, reservationFrom } from './placement.js';

/** A queue's limits are read again after this long (an operator may change them). */
const FRESH_MS = 60_000;

const WHAT: Record<QueueLimit['what'], [string, (n: number) => string]> = {
  wallTime: ['wall time', (s) => `${s} s`],
  cores: ['cores', (n) => String(n)],
  memory: ['memory', (mb) => `${mb} MB`],
};

/**
 * Refuses at Execute, before any job exists, a process whose declared wall time, cores
 * or memory exceed what its partition or queue allows: the batch system would only
 * refuse it later, or hold it for ever. Limits are read from the batch system
 * (`scontrol show partition`, `qconf -sq`) and kept a minute; when they cannot be read
 * the job goes ahead, and the batch system has the last word.
 */
export class QueueLimits {
  private readonly known = new Map<string, { at: number; limits: Promise<{ queue: string; limits: QueueLimit[] }> }>();

  constructor(
    private readonly schedulers: ReadonlyMap<string, Scheduler>,
    private readonly config: Config,
    private readonly log: Log,
  ) {}

  async check(process: ProcessDefinition): Promise<void> {
    const placement = placementOf(process, this.config.schedulers);
    const scheduler = this.schedulers.get(placement.scheduler);
    if (!scheduler?.queueLimits) return;
    let found: { queue: string; limits: QueueLimit[] };
    try {
      found = await this.limitsOf(scheduler, placement.queue);
    } catch (err) {
      this.log({ level: 'warn', msg: 'queue limits not read; the batch system will judge', scheduler: scheduler.name, error: (err as Error).message });
      return;
    }
    const { cores, wallTimeSeconds } = reservationFrom(placement, this.config);
    const asked: Record<QueueLimit['what'], number | undefined> = { wallTime: wallTimeSeconds, cores, memory: placement.memoryMb };
    for (const limit of found.limits) {
      const wants = asked[limit.what];
      if (wants === undefined || wants <= limit.max) continue;
      const [label, amount] = WHAT[limit.what];
      const where = scheduler.name === 'slurm' ? `Slurm partition ${found.queue}` : `GridEngine queue ${found.queue}`;
      throw invalidParameter('identifier', `Process ${process.identifier} needs ${amount(wants)} of ${label}; ${where} allows at most ${amount(limit.max)} (${limit.name})`);
    }
  }

  private limitsOf(scheduler: Scheduler, queue: string | undefined): Promise<{ queue: string; limits: QueueLimit[] }> {
    const key = `${scheduler.name} ${queue ?? ''}`;
    const cached = this.known.get(key);
    if (cached && Date.now() - cached.at < FRESH_MS) return cached.limits;
    const limits = scheduler.queueLimits!(queue);
    this.known.set(key, { at: Date.now(), limits });
    // A failure is not kept: the next submission asks again.
    limits.catch(() => this.known.get(key)?.limits === limits && this.known.delete(key));
    return limits;
  }
}
