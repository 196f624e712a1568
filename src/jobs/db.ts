import knexPkg, { type Knex } from 'knex';
import type { Config } from '../config.js';
import type { Log } from '../log.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { migrate } from './migrations.js';

export type { Knex };

export type DatabaseOptions = (
  | { /** postgres://… : a Postgres server. */ url: string }
  | { /** Where the embedded PGlite keeps its data. */ pgliteDir: string }
) & {
  /** A Postgres schema to work in (tests use one per run). */
  schema?: string;
  /** How long to wait for a Postgres that refuses connections or is still starting (ms). */
  waitMs?: number;
};

/**
 * Opens the job store's database: Postgres when a URL is given, otherwise PGlite, the
 * embedded Postgres, in a directory, served by a process of its own
 * (embedded-postgres.ts). Both are reached with pg and take the same migrations.
 */
export async function openDatabase(opts: DatabaseOptions, log?: Log): Promise<Knex> {
  if ('url' in opts) return connect(opts.url, 10, opts.schema);
  const embedded = await startEmbeddedPostgres(opts.pgliteDir, log);
  // PGlite has a single session, which its host lends to one connection at a time.
  const db = connect(embedded.url, 1, opts.schema);
  // knex.destroy() ends in its client's destroy: the host stops after the pool closes.
  const client = db.client as { destroy(callback?: unknown): Promise<void> };
  const destroyPool = client.destroy.bind(client);
  client.destroy = async (callback) => {
    try {
      await destroyPool(callback);
    } finally {
      await embedded.stop();
    }
  };
  return db;
}

function connect(url: string, poolSize: number, schema: string | undefined): Knex {
  return knexPkg.knex({
    client: 'pg',
    connection: url,
    pool: { min: 0, max: poolSize },
    // knex prints connection troubles to the console itself; callers report what matters.
    log: { warn() {}, error() {}, deprecate() {}, debug() {} },
    ...(schema ? { searchPath: [schema] } : {}),
  });
}

/** The database options a configuration names. */
export function databaseOptions(c: Config): DatabaseOptions {
  const where = c.databaseUrl ? { url: c.databaseUrl, waitMs: c.databaseWaitMs } : { pgliteDir: c.pgliteDir };
  return c.databaseSchema ? { ...where, schema: c.databaseSchema } : where;
}

/** Opens the database with its schema up to date (run at every start, and by `migrate`). */
export async function openMigratedDatabase(opts: DatabaseOptions, log?: Log): Promise<{ db: Knex; applied: string[] }> {
  const db = await openDatabase(opts, log);
  try {
    if ('url' in opts && opts.waitMs) await untilAnswering(db, opts.waitMs, log);
    if (opts.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [opts.schema]);
    return { db, applied: await migrate(db) };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** What a Postgres that is not up yet answers: no listener, no name yet, or still starting. */
const NOT_UP_YET = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', '57P03']);

/**
 * Waits for a Postgres started beside the server (a deployment's containers start
 * together): connections refused or "starting up" are tried again, with backoff, until
 * `waitMs`; any other error (a wrong password, no such database) fails at once.
 */
async function untilAnswering(db: Knex, waitMs: number, log?: Log): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
    try {
      await db.raw('SELECT 1');
      return;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!NOT_UP_YET.has(code) || Date.now() + delay > deadline) throw err;
      log?.({ level: 'warn', msg: 'database not answering yet, waiting', code, retryInMs: delay });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
