import { linkSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { jsonLog } from '../log.js';
import { servePglite } from './pglite-wire.js';
import { isAlive } from '../scheduler/local/proc.js';

/**
 * PGlite starts with a database server's defaults, 160 MB of shared buffers. A job
 * table needs far less: with 16 MB the process measured 160 MB less RSS, and 200 jobs
 * ran as fast.
 */
const PGLITE_SETTINGS = ['shared_buffers=16MB'];

/** How long a new host waits for the one before it (a server restarting) to let go. */
const TAKEOVER_WAIT_MS = 15_000;

/**
 * `wps-server embedded-db DIR SOCKET`, started by the server (embedded-postgres.ts):
 * opens the PGlite directory, serves it on the Unix socket, says `ready` over IPC, and
 * closes the database cleanly when told to stop or when the server is gone.
 */
export async function serveEmbeddedDatabase(dir: string, socketPath: string): Promise<void> {
  let serving: { db: PGlite; server: Server; lock: string };
  try {
    serving = await openAndServe(dir, socketPath);
  } catch (err) {
    // The server reads why over IPC: the host's stderr is the server's own.
    process.send?.({ error: (err as Error).message });
    throw err;
  }
  const { db, server, lock } = serving;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    await db.close().catch(() => undefined);
    rmSync(lock, { force: true });
    // The server made the socket's directory for this host alone, and may be gone
    // (killed) without removing it: the last one out does, if nothing else is in it.
    rmSync(socketPath, { force: true });
    try {
      rmdirSync(dirname(socketPath));
    } catch {
      // not empty, or already gone
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The server's end of the IPC channel closes when it exits, however it exits.
  process.on('disconnect', stop);
  process.send?.({ ready: true });
}

async function openAndServe(dir: string, socketPath: string): Promise<{ db: PGlite; server: Server; lock: string }> {
  const lock = await lockDirectory(dir);
  try {
    const db = new PGlite(dir, { postgresqlconf: PGLITE_SETTINGS });
    await db.waitReady;
    // A host killed before it could clean up leaves its socket file behind.
    rmSync(socketPath, { force: true });
    const server = await servePglite(db, socketPath, (err) => {
      jsonLog({ level: 'error', msg: 'embedded database failed', err: err.message });
      rmSync(lock, { force: true });
      process.exit(1);
    });
    return { db, server, lock };
  } catch (err) {
    rmSync(lock, { force: true });
    throw err;
  }
}

/**
 * Two PGlite instances on one directory would corrupt it: the host that has it keeps
 * its pid in a file there. A host that finds a live pid waits for it to go (the old
 * host of a restarting server closes within a second); a dead one's file is taken over.
 */
async function lockDirectory(dir: string): Promise<string> {
  const file = join(dir, 'wps-embedded-db.pid');
  // Written aside and linked into place, so no reader ever sees the file empty.
  const mine = `${file}.${process.pid}`;
  writeFileSync(mine, String(process.pid));
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  try {
    for (;;) {
      try {
        linkSync(mine, file);
        return file;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: number;
      try {
        holder = Number(readFileSync(file, 'utf8').trim());
      } catch {
        continue; // let go of just now
      }
      if (!isAlive(holder)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the embedded database in ${dir} is in use by process ${holder}`);
      await wait(100);
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

