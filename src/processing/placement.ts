import type { Config, SchedulerName, SchedulersConfig } from '../config.js';
import type { Reservation } from './admission.js';
import type { ProcessDefinition } from '../process/types.js';

/** Where one process's jobs go, and with what the scheduler is asked for. */
export interface Placement {
  scheduler: SchedulerName;
  queue?: string;
  project?: string;
  nativeOptions: string[];
  wallTimeSeconds?: number;
  memoryMb?: number;
  cores?: number;
}

/**
 * The operator's configuration decides the scheduler, queue (partition), project
 * (account) and native options per process; the process itself declares what it needs
 * (wall time, memory, cores), and the configuration may override the wall time.
 */
export function placementOf(process: ProcessDefinition, config: SchedulersConfig): Placement {
  const own = config.processes[process.identifier] ?? {};
  const scheduler = own.scheduler ?? config.default;
  const defaults =
    scheduler === 'gridengine'
      ? { queue: config.gridengine.queue, project: config.gridengine.project, nativeOptions: config.gridengine.nativeOptions }
      : scheduler === 'slurm'
        ? { queue: config.slurm.partition, project: config.slurm.account, nativeOptions: config.slurm.nativeOptions }
        : { queue: undefined, project: undefined, nativeOptions: [] };
  const placement: Placement = { scheduler, nativeOptions: own.nativeOptions ?? defaults.nativeOptions };
  const queue = own.queue ?? defaults.queue;
  const project = own.project ?? defaults.project;
  const wallTime = own.wallTime ?? process.resources?.wallTimeSeconds;
  if (queue) placement.queue = queue;
  if (project) placement.project = project;
  if (wallTime) placement.wallTimeSeconds = wallTime;
  if (process.resources?.memoryMb) placement.memoryMb = process.resources.memoryMb;
  if (process.resources?.cores) placement.cores = process.resources.cores;
  return placement;
}

/**
 * What a job so placed asks of its scheduler and holds against its owner's budget: its
 * cores (1 unless declared) for its wall time (the configured default unless declared).
 */
export function reservationFrom(placement: Placement, config: Config): Reservation {
  return { cores: placement.cores ?? 1, wallTimeSeconds: placement.wallTimeSeconds ?? config.jobs.wallTimeSeconds };
}

/** What a job of the process holds against its owner's budget. */
export const reservationOf = (process: ProcessDefinition, config: Config): Reservation => reservationFrom(placementOf(process, config.schedulers), config);
