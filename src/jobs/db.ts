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
  const where = c.databaseUrl ? { url: c.databaseUrl } : { pgliteDir: c.pgliteDir };
  return c.databaseSchema ? { ...where, schema: c.databaseSchema } : where;
}

/** Opens the database with its schema up to date (run at every start, and by `migrate`). */
export async function openMigratedDatabase(opts: DatabaseOptions, log?: Log): Promise<{ db: Knex; applied: string[] }> {
  const db = await openDatabase(opts, log);
  try {
    if (opts.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [opts.schema]);
    return { db, applied: await migrate(db) };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}
