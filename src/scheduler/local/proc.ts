import { readdirSync, readFileSync } from 'node:fs';

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

/** Whether a process of this pid exists (EPERM: it does, another user's). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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

/** A process named for good: its pid and start time. */
export interface ProcessId {
  pid: number;
  startTicks: number;
}

/**
 * Every descendant of a process now, found by walking /proc's parent links. Some leave
 * their parent's process group and session on purpose (a display server a desktop
 * starts): a group kill misses them, and once their parent is gone nothing links them
 * to it any more.
 */
export function descendantsOf(pid: number): ProcessId[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid);
    if (list) list.push(Number(name));
    else children.set(ppid, [Number(name)]);
  }
  const found: ProcessId[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    const startTicks = processStartTicks(p);
    if (startTicks !== undefined) found.push({ pid: p, startTicks });
    queue.push(...(children.get(p) ?? []));
  }
  return found;
}

/** Signals each of these processes that is still the same one. */
export function signalEach(processes: readonly ProcessId[], signal: NodeJS.Signals): void {
  for (const p of processes) {
    if (!isSameProcessAlive(p.pid, p.startTicks)) continue;
    try {
      process.kill(p.pid, signal);
    } catch {
      // gone meanwhile, or not ours to signal
    }
  }
}
