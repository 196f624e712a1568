import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
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
 * PGlite starts with a database server's defaults, 160 MB of shared buffers, here in
 * the WPS server's own process. A job table needs far less: with 16 MB the server
 * measured 226-266 MB RSS instead of 396-423 MB, and 200 jobs ran as fast.
 */
const PGLITE_SETTINGS = ['shared_buffers=16MB'];

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
    // knex-pglite takes a PGlite of our making in place of connection settings.
    connection: { pglite: new PGlite(opts.pgliteDir, { postgresqlconf: PGLITE_SETTINGS }) } as unknown as Knex.StaticConnectionConfig,
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
  if ('pgliteDir' in opts) await createPgliteDirectory(opts.pgliteDir);
  const db = openDatabase(opts);
  try {
    if (opts.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [opts.schema]);
    return { db, applied: await migrate(db) };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/**
 * A new PGlite directory is made by initdb, a second Postgres instance that PGlite runs
 * in the same process: it left the server at 770-830 MB RSS for good (its memory is
 * not handed back). Done in a short-lived process of its own, it costs the server nothing.
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
