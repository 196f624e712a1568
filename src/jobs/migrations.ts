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
  {
    // Accepted jobs counted as they change, so that a submission checks the waiting
    // limit by reading one row instead of counting a backlog (tens of thousands on a
    // cluster's busy day). Statement triggers: a group insert updates the count once.
    name: '002_waiting_count',
    async up(db) {
      await db.raw(`CREATE TABLE waiting_jobs (one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL)`);
      await db.raw(`INSERT INTO waiting_jobs (n) SELECT count(*) FROM jobs WHERE state = 'accepted'`);
      await db.raw(`
        CREATE FUNCTION count_waiting_jobs() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        DECLARE
          delta bigint := 0;
        BEGIN
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            delta := delta + (SELECT count(*) FROM new_rows WHERE state = 'accepted');
          END IF;
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            delta := delta - (SELECT count(*) FROM old_rows WHERE state = 'accepted');
          END IF;
          IF delta <> 0 THEN
            UPDATE waiting_jobs SET n = n + delta;
          END IF;
          RETURN NULL;
        END $$`);
      await db.raw(`CREATE TRIGGER jobs_waiting_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_waiting_jobs()`);
      await db.raw(`CREATE TRIGGER jobs_waiting_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_waiting_jobs()`);
      await db.raw(`CREATE TRIGGER jobs_waiting_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_waiting_jobs()`);
    },
    async down(db) {
      for (const t of ['insert', 'update', 'delete']) await db.raw(`DROP TRIGGER jobs_waiting_${t} ON jobs`);
      await db.raw('DROP FUNCTION count_waiting_jobs()');
      await db.schema.dropTable('waiting_jobs');
    },
  },
  {
    // Jobs counted by state as they change, in place of the waiting count alone: the
    // metrics' jobs by state had counted the whole table at every scrape (with 1,000,000
    // finished jobs: 73 ms of Postgres, 210-230 ms of the embedded PGlite, which then
    // ran in the server's own thread). The waiting count is the `accepted` row.
    name: '003_job_counts',
    async up(db) {
      await db.raw(`CREATE TABLE job_counts (state text PRIMARY KEY, n bigint NOT NULL)`);
      await db.raw(`INSERT INTO job_counts (state, n)
                    SELECT s.state, (SELECT count(*) FROM jobs j WHERE j.state = s.state)
                    FROM unnest(ARRAY['accepted','running','succeeded','failed','dismissed']) AS s(state)`);
      await db.raw(`
        CREATE FUNCTION count_jobs_by_state() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        DECLARE
          r record;
        BEGIN
          -- One state at a time, in one order: two transactions never wait on each other's counts.
          IF TG_OP = 'INSERT' THEN
            FOR r IN SELECT state, count(*) AS d FROM new_rows GROUP BY state ORDER BY state LOOP
              UPDATE job_counts SET n = n + r.d WHERE state = r.state;
            END LOOP;
          ELSIF TG_OP = 'DELETE' THEN
            FOR r IN SELECT state, -count(*) AS d FROM old_rows GROUP BY state ORDER BY state LOOP
              UPDATE job_counts SET n = n + r.d WHERE state = r.state;
            END LOOP;
          ELSE
            FOR r IN SELECT state, sum(d) AS d
                     FROM (SELECT state, 1 AS d FROM new_rows UNION ALL SELECT state, -1 AS d FROM old_rows) AS change
                     GROUP BY state HAVING sum(d) <> 0 ORDER BY state LOOP
              UPDATE job_counts SET n = n + r.d WHERE state = r.state;
            END LOOP;
          END IF;
          RETURN NULL;
        END $$`);
      for (const t of ['insert', 'update', 'delete']) await db.raw(`DROP TRIGGER jobs_waiting_${t} ON jobs`);
      await db.raw('DROP FUNCTION count_waiting_jobs()');
      await db.schema.dropTable('waiting_jobs');
      await db.raw(`CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_jobs_by_state()`);
      await db.raw(`CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_jobs_by_state()`);
      await db.raw(`CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_jobs_by_state()`);
    },
    async down(db) {
      for (const t of ['insert', 'update', 'delete']) await db.raw(`DROP TRIGGER jobs_count_${t} ON jobs`);
      await db.raw('DROP FUNCTION count_jobs_by_state()');
      await db.schema.dropTable('job_counts');
      await migrations.find((m) => m.name === '002_waiting_count')!.up(db);
    },
  },
  {
    // The jobs list (GET /jobs, `wps jobs`) shows the newest first, of all processes or
    // of one. Without these it sorted the whole table: with 1,000,000 jobs 95 ms of
    // Postgres and 270 ms of PGlite (then in the server's own thread) for every page.
    name: '004_jobs_newest_first',
    async up(db) {
      await db.raw('CREATE INDEX jobs_newest_first ON jobs (created_at DESC, id)');
      await db.raw('CREATE INDEX jobs_of_process_newest_first ON jobs (process_id, created_at DESC, id)');
    },
    async down(db) {
      await db.raw('DROP INDEX jobs_of_process_newest_first');
      await db.raw('DROP INDEX jobs_newest_first');
    },
  },
  {
    // GetCapabilities' updateSequence: a number that grows whenever the offered documents
    // change, shared by every server on the database (see jobs/offerings.ts).
    name: '005_offerings',
    async up(db) {
      await db.schema.createTable('offerings', (t) => {
        t.bigIncrements('sequence');
        t.text('digest').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      });
    },
    async down(db) {
      await db.schema.dropTable('offerings');
    },
  },
  {
    // Who submitted a job: the jobs list shows each user their own, newest first.
    name: '006_job_owners',
    async up(db) {
      await db.schema.alterTable('jobs', (t) => {
        t.text('owner');
        t.jsonb('owner_groups');
      });
      await db.raw('CREATE INDEX jobs_of_owner_newest_first ON jobs (owner, created_at DESC, id)');
    },
    async down(db) {
      await db.raw('DROP INDEX jobs_of_owner_newest_first');
      await db.schema.alterTable('jobs', (t) => {
        t.dropColumn('owner_groups');
        t.dropColumn('owner');
      });
    },
  },
  {
    // Quotas: what each user's jobs hold and have used and how many are handed to a
    // scheduler, kept as they change (admission and dispatch lock the user's row and read
    // it, as the insert does the waiting count), and
    // what they used per day (a period's use is the total less the days before it; it
    // outlives the jobs retention removes).
    name: '007_user_usage',
    async up(db) {
      await db.schema.alterTable('jobs', (t) => {
        t.integer('cores');
        t.bigInteger('reserved_core_seconds');
        t.double('charged_core_seconds');
      });
      await db.raw(`CREATE INDEX jobs_unfinished_of_owner ON jobs (owner, state) WHERE state IN ('accepted', 'running')`);
      await db.raw(`CREATE TABLE user_jobs (
        owner text PRIMARY KEY,
        unfinished integer NOT NULL DEFAULT 0,
        dispatched integer NOT NULL DEFAULT 0,
        holding bigint NOT NULL DEFAULT 0,
        spent double precision NOT NULL DEFAULT 0)`);
      await db.raw(`CREATE TABLE user_spending (
        owner text NOT NULL,
        day date NOT NULL,
        core_seconds double precision NOT NULL DEFAULT 0,
        PRIMARY KEY (owner, day))`);
      // A job holds its reservation while unfinished; once ended it has used its charge,
      // or (until charged) its reservation if it started, nothing if it never did.
      await db.raw(`
        CREATE FUNCTION count_jobs_by_owner() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        DECLARE
          r record;
        BEGIN
          IF TG_OP = 'INSERT' THEN
            FOR r IN SELECT owner, count(*) AS u, sum(coalesce(reserved_core_seconds, 0)) AS h FROM new_rows
                     WHERE owner IS NOT NULL AND state IN ('accepted', 'running') GROUP BY owner ORDER BY owner LOOP
              INSERT INTO user_jobs AS uj (owner, unfinished, holding) VALUES (r.owner, r.u, r.h)
              ON CONFLICT (owner) DO UPDATE SET unfinished = uj.unfinished + r.u, holding = uj.holding + r.h;
            END LOOP;
          ELSIF TG_OP = 'DELETE' THEN
            FOR r IN SELECT owner, count(*) AS u, count(dispatched_at) AS d, sum(coalesce(reserved_core_seconds, 0)) AS h FROM old_rows
                     WHERE owner IS NOT NULL AND state IN ('accepted', 'running') GROUP BY owner ORDER BY owner LOOP
              UPDATE user_jobs SET unfinished = unfinished - r.u, dispatched = dispatched - r.d, holding = holding - r.h WHERE owner = r.owner;
            END LOOP;
          ELSE
            FOR r IN
              WITH change AS (
                SELECT n.owner, (n.finished_at AT TIME ZONE 'UTC')::date AS day,
                  (CASE WHEN n.state IN ('accepted', 'running') THEN 1 ELSE 0 END) - (CASE WHEN o.state IN ('accepted', 'running') THEN 1 ELSE 0 END) AS u,
                  (CASE WHEN n.state IN ('accepted', 'running') AND n.dispatched_at IS NOT NULL THEN 1 ELSE 0 END)
                    - (CASE WHEN o.state IN ('accepted', 'running') AND o.dispatched_at IS NOT NULL THEN 1 ELSE 0 END) AS d,
                  (CASE WHEN n.state IN ('accepted', 'running') THEN coalesce(n.reserved_core_seconds, 0) ELSE 0 END)
                    - (CASE WHEN o.state IN ('accepted', 'running') THEN coalesce(o.reserved_core_seconds, 0) ELSE 0 END) AS h,
                  (CASE WHEN n.state IN ('accepted', 'running') OR n.started_at IS NULL THEN 0
                        ELSE coalesce(n.charged_core_seconds, n.reserved_core_seconds, 0) END)
                    - (CASE WHEN o.state IN ('accepted', 'running') OR o.started_at IS NULL THEN 0
                        ELSE coalesce(o.charged_core_seconds, o.reserved_core_seconds, 0) END) AS s
                FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n.owner IS NOT NULL)
              SELECT owner, day, sum(u) AS u, sum(d) AS d, sum(h) AS h, sum(s) AS s FROM change
              GROUP BY owner, day HAVING sum(u) <> 0 OR sum(d) <> 0 OR sum(h) <> 0 OR sum(s) <> 0 ORDER BY owner, day
            LOOP
              UPDATE user_jobs SET unfinished = unfinished + r.u, dispatched = dispatched + r.d, holding = holding + r.h, spent = spent + r.s WHERE owner = r.owner;
              IF r.s <> 0 AND r.day IS NOT NULL THEN
                INSERT INTO user_spending AS us (owner, day, core_seconds) VALUES (r.owner, r.day, r.s)
                ON CONFLICT (owner, day) DO UPDATE SET core_seconds = us.core_seconds + r.s;
              END IF;
            END LOOP;
          END IF;
          RETURN NULL;
        END $$`);
      // Named to fire after jobs_count_*: both lock job_counts before user_jobs, as admission does.
      await db.raw(`CREATE TRIGGER jobs_owner_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_jobs_by_owner()`);
      await db.raw(`CREATE TRIGGER jobs_owner_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_jobs_by_owner()`);
      await db.raw(`CREATE TRIGGER jobs_owner_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_jobs_by_owner()`);
    },
    async down(db) {
      for (const t of ['insert', 'update', 'delete']) await db.raw(`DROP TRIGGER jobs_owner_${t} ON jobs`);
      await db.raw('DROP FUNCTION count_jobs_by_owner()');
      await db.schema.dropTable('user_spending');
      await db.schema.dropTable('user_jobs');
      await db.raw('DROP INDEX jobs_unfinished_of_owner');
      await db.schema.alterTable('jobs', (t) => {
        t.dropColumn('charged_core_seconds');
        t.dropColumn('reserved_core_seconds');
        t.dropColumn('cores');
      });
    },
  },
];

const source: Knex.MigrationSource<Migration> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: (db: Knex) => m.up(db), down: (db: Knex) => m.down(db) }),
};

/**
 * Brings the schema up to date, or only up to the migration named `to` (to reproduce an
 * older database); returns the names of the migrations applied now.
 */
export async function migrate(db: Knex, to?: string): Promise<string[]> {
  if (to === undefined) {
    const [, applied] = (await db.migrate.latest({ migrationSource: source })) as [number, string[]];
    return applied;
  }
  const applied: string[] = [];
  for (;;) {
    const [, names] = (await db.migrate.up({ migrationSource: source })) as [number, string[]];
    if (names.length === 0) return applied;
    applied.push(...names);
    if (names.includes(to)) return applied;
  }
}
