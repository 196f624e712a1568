import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jsonLog, type Log } from '../log.js';
import { MAIN_SCRIPT } from '../main-script.js';

export interface EmbeddedPostgres {
  /** A postgres:// URL for pg: the host's Unix socket. */
  url: string;
  stop(): Promise<void>;
}

const RESTART_DELAYS_MS = [500, 1000, 2000, 5000, 10_000];
/** A host that ran this long before it died starts again without delay's growth. */
const STABLE_MS = 60_000;

/**
 * Runs the embedded store, PGlite, in a process of its own, reached like a Postgres
 * server over a Unix socket. In the server's process PGlite's wasm Postgres held
 * 115-160 MB and ran every query on the event loop that answers WPS requests; now the
 * server's own memory is what it is with Postgres, and a slow query delays no request.
 * A host that dies is started again (the store is unavailable meanwhile, as a Postgres
 * would be); the host stops by itself when the server is gone.
 */
export async function startEmbeddedPostgres(dir: string, log: Log = jsonLog): Promise<EmbeddedPostgres> {
  await createPgliteDirectory(dir);
  // Short and private: a socket path has a 107-byte limit, and the socket has no password.
  const socketDir = mkdtempSync(join(tmpdir(), 'wps-db-'));
  const socketPath = join(socketDir, '.s.PGSQL.5432');
  let child: ChildProcess | undefined;
  let stopping = false;
  let running = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      // Its stderr is the server's own: a pipe read here, even an idle one, cost plain
      // WPS requests 15 % of their throughput (measured: process.nextTick 25 times
      // slower in the server's profile). Why a host could not start comes over IPC.
      const host = spawn(process.execPath, [MAIN_SCRIPT, 'embedded-db', dir, socketPath], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child = host;
      const startedAt = Date.now();
      let reason: string | undefined;
      host.on('message', (message: { ready?: true; error?: string }) => {
        if (message.error) reason = message.error;
        if (!message.ready) return;
        running = true;
        resolve();
      });
      host.once('exit', (code, signal) => {
        if (child === host) child = undefined;
        reason ??= `exit ${code ?? signal}`;
        reject(new Error(`the embedded database in ${dir} did not start: ${reason}`));
        // Only a host that served once is started again: one that cannot start says why.
        if (stopping || !running) return;
        failures = Date.now() - startedAt > STABLE_MS ? 0 : failures + 1;
        const delay = RESTART_DELAYS_MS[Math.min(failures, RESTART_DELAYS_MS.length) - 1] ?? 0;
        log({ level: 'error', msg: 'embedded database stopped; starting it again', code, signal, reason, inMs: delay });
        timer = setTimeout(() => start().catch(() => undefined), delay);
      });
    });

  try {
    await start();
  } catch (err) {
    rmSync(socketDir, { recursive: true, force: true });
    throw err;
  }
  log({ level: 'info', msg: 'embedded database', dir, socket: socketPath, psql: `psql -h ${socketDir} -U postgres` });
  return {
    url: `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`,
    async stop() {
      stopping = true;
      clearTimeout(timer);
      const host = child;
      if (host && host.exitCode === null && host.signalCode === null) {
        const exited = new Promise((r) => host.once('exit', r));
        host.kill('SIGTERM');
        const killer = setTimeout(() => host.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}

/**
 * A new PGlite directory is made by initdb, a second Postgres instance that PGlite runs
 * in the same process: it left that process at 770-830 MB RSS for good (its memory is
 * not handed back). Done in a short-lived process of its own, it costs the host nothing.
 */
async function createPgliteDirectory(dir: string): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  mkdirSync(dir, { recursive: true });
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const init = `const { PGlite } = require(process.argv[1]);
const db = new PGlite(process.argv[2]);
db.waitReady.then(() => db.close()).catch((err) => { process.stderr.write(String(err && err.message || err) + '\\n'); process.exitCode = 1; });`;
  try {
    await promisify(execFile)(process.execPath, ['-e', init, pglite, dir]);
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`could not create the embedded database in ${dir}: ${stderr?.trim() || (err as Error).message}`);
  }
}
