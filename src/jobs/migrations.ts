import type { Knex } from 'knex';

/**
 * The schema, as code: one list of migrations serves Postgres and the embedded PGlite
 * alike, and works from the compiled output without knex reading a directory.
 */
interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const migrations: Migration[] = [
  {
    name: '001_jobs',
    async up(db) {
      await db.schema.createTable('jobs', (t) => {
        t.uuid('id').primary();
        t.text('process_id').notNullable();
        t.jsonb('request').notNullable();
        t.text('state').notNullable();
        t.integer('percent').notNullable().defaultTo(0);
        t.text('message');
        t.text('scheduler');
        t.text('scheduler_job_id');
        // Set when the job is dispatched: the hash of the secret its runner reports with.
        t.text('secret_hash');
        t.text('failure_code');
        t.text('failure_locator');
        t.text('failure_reason');
        t.integer('version').notNullable().defaultTo(0);
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.timestamp('dispatched_at', { useTz: true });
        t.timestamp('started_at', { useTz: true });
        t.timestamp('finished_at', { useTz: true });
        t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.index(['state']);
        t.index(['finished_at']);
      });
      await db.raw(
        `ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('accepted','running','succeeded','failed','dismissed'))`,
      );
    },
    async down(db) {
      await db.schema.dropTable('jobs');
    },
  },
];

const source: Knex.MigrationSource<Migration> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: (db: Knex) => m.up(db), down: (db: Knex) => m.down(db) }),
};

/** Brings the schema up to date; returns the names of the migrations applied now. */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: source })) as [number, string[]];
  return applied;
}
