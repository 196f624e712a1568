import { mkdirSync } from 'node:fs';
import knexPkg, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import type { Config } from '../config.js';
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
 * embedded Postgres, in a directory. Both speak the same SQL and take the same migrations.
 */
export function openDatabase(opts: DatabaseOptions): Knex {
  const searchPath = opts.schema ? [opts.schema] : undefined;
  // knex prints connection troubles to the console itself; callers report what matters.
  const log = { warn() {}, error() {}, deprecate() {}, debug() {} };
  if ('url' in opts) {
    return knexPkg.knex({
      client: 'pg',
      connection: opts.url,
      pool: { min: 0, max: 10 },
      log,
      ...(searchPath ? { searchPath } : {}),
    });
  }
  mkdirSync(opts.pgliteDir, { recursive: true });
  return knexPkg.knex({
    client: ClientPgLite as unknown as typeof knexPkg.Client,
    dialect: 'postgres',
    connection: { filename: opts.pgliteDir },
    log,
    ...(searchPath ? { searchPath } : {}),
  });
}

export const isPglite = (db: Knex): boolean => db.client.config.client !== 'pg';

/** The database options a configuration names. */
export function databaseOptions(c: Config): DatabaseOptions {
  const where = c.databaseUrl ? { url: c.databaseUrl } : { pgliteDir: c.pgliteDir };
  return c.databaseSchema ? { ...where, schema: c.databaseSchema } : where;
}

/** Opens the database with its schema up to date (run at every start, and by `migrate`). */
export async function openMigratedDatabase(opts: DatabaseOptions): Promise<{ db: Knex; applied: string[] }> {
  const db = openDatabase(opts);
  try {
    if (opts.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [opts.schema]);
    return { db, applied: await migrate(db) };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}
