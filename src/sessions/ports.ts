import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { isAlive } from '../scheduler/local/proc.js';
import type { PortPool } from './app.js';

/**
 * Where runners on a node mark the ports their sessions hold (node-local: ports are). A
 * fixed path, not TMPDIR, which batch systems often set per job.
 */
const RESERVATIONS = '/tmp/wps-session-ports';

/** A port held for one session until `release`. */
export interface PortReservation {
  port: number;
  release(): void;
}

/**
 * Takes a free port of the pool on this node. Two runners starting sessions at once must
 * not pick the same port, so a port is first marked with a file of its own (created
 * exclusively, holding the runner's pid; one whose runner died is taken over), then
 * checked by binding it: a port something else listens on is skipped. Ports are tried
 * from a random place in the range, so sessions spread over it. With every port taken it
 * looks again for `waitSeconds`: a session that just ended frees its port a moment later.
 */
export async function reservePort(pool: PortPool, waitSeconds = 0, pid = process.pid): Promise<PortReservation | undefined> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const taken = await reserveOnce(pool, pid);
    if (taken || Date.now() >= deadline) return taken;
    await wait(RETRY_MS);
  }
}

/** Between looks at a pool whose ports are all taken (a session ending frees one). */
const RETRY_MS = 200;

async function reserveOnce(pool: PortPool, pid: number): Promise<PortReservation | undefined> {
  // Shared by every user's runners, like /tmp itself (the umask would take the others' write bit).
  if (!existsSync(RESERVATIONS)) {
    mkdirSync(RESERVATIONS, { recursive: true });
    try {
      chmodSync(RESERVATIONS, 0o1777);
    } catch {
      // another user's runner made it at the same moment, and set its mode
    }
  }
  const [first, last] = pool.portRange;
  const count = last - first + 1;
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const port = first + ((start + i) % count);
    const mark = join(RESERVATIONS, `${pool.host}-${port}`);
    if (!takeMark(mark, pid)) continue;
    if (await bindable(pool.host, port)) {
      return {
        port,
        release: () => {
          try {
            unlinkSync(mark);
          } catch {
            // already gone
          }
        },
      };
    }
    unlinkSync(mark);
  }
  return undefined;
}

function takeMark(path: string, pid: number): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, String(pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      if (holderAlive(path)) return false;
      try {
        unlinkSync(path);
      } catch {
        return false; // another user's mark in the sticky directory: leave the port
      }
    }
  }
  return false;
}

function holderAlive(path: string): boolean {
  try {
    return isAlive(Number(readFileSync(path, 'utf8')));
  } catch {
    return false;
  }
}

function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
