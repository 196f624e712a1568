import { readFileSync } from 'node:fs';

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/PID/stat). With
 * the PID it names one process for good: PIDs are reused, the pair is not.
 * Undefined when the process does not exist or is a zombie.
 */
export function processStartTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

export const isSameProcessAlive = (pid: number, startTicks: number): boolean => processStartTicks(pid) === startTicks;

/** Kills a process group, ignoring one that is gone already. */
export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Asks a process group to stop (SIGTERM) and kills it (SIGKILL) once `graceMs` has
 * passed, unless the group was seen gone before: its id could by then name another.
 */
export function stopGroup(pgid: number, graceMs: number): void {
  killGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  const timer = setInterval(() => {
    if (!groupExists(pgid)) {
      clearInterval(timer);
    } else if (Date.now() >= deadline) {
      clearInterval(timer);
      killGroup(pgid, 'SIGKILL');
    }
  }, Math.max(10, Math.min(250, graceMs)));
  timer.unref();
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
