import { mkdirSync } from 'node:fs';
import knexPkg, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';

export type { Knex };

export interface DatabaseOptions {
  /** postgres://… to use a Postgres server; absent for the embedded PGlite. */
  url?: string;
  /** Where PGlite keeps its data. */
  pgliteDir: string;
  /** A Postgres schema to work in (tests use one per run). */
  schema?: string;
}

/**
 * Opens the job store's database: Postgres when a URL is given, otherwise PGlite, the
 * embedded Postgres, in a directory. Both speak the same SQL and take the same migrations.
 */
export function openDatabase(opts: DatabaseOptions): Knex {
  const searchPath = opts.schema ? [opts.schema] : undefined;
  if (opts.url) {
    return knexPkg.knex({
      client: 'pg',
      connection: opts.url,
      pool: { min: 0, max: 10 },
      ...(searchPath ? { searchPath } : {}),
    });
  }
  mkdirSync(opts.pgliteDir, { recursive: true });
  return knexPkg.knex({
    client: ClientPgLite as unknown as typeof knexPkg.Client,
    dialect: 'postgres',
    connection: { filename: opts.pgliteDir },
    ...(searchPath ? { searchPath } : {}),
  });
}

export const isPglite = (db: Knex): boolean => db.client.config.client !== 'pg';
