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

/**
 * `<name>_insert`, `_update` and `_delete`: `fn` once per statement that changes jobs,
 * with the rows before and after as `old_rows` and `new_rows`.
 */
async function createStatementTriggers(db: Knex, name: string, fn: string): Promise<void> {
  await db.raw(`CREATE TRIGGER ${name}_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
  await db.raw(`CREATE TRIGGER ${name}_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
  await db.raw(`CREATE TRIGGER ${name}_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
}

/**
 * 007's counting of each user's jobs (a job holds its reservation while unfinished; once
 * ended it has used its charge, or, until charged, its reservation if it started,
 * nothing if it never did); 008 replaces it, and brings it back when undone.
 */
const COUNT_JOBS_BY_OWNER_007 = `        CREATE FUNCTION count_jobs_by_owner() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
        END $$`;

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
      await createStatementTriggers(db, 'jobs_waiting', 'count_waiting_jobs');
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
      await createStatementTriggers(db, 'jobs_count', 'count_jobs_by_state');
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
      await db.raw(COUNT_JOBS_BY_OWNER_007);
      // Named to fire after jobs_count_*: both lock job_counts before user_jobs, as admission does.
      await createStatementTriggers(db, 'jobs_owner', 'count_jobs_by_owner');
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
  {
    // A user's figures in three rows, each written by one kind of statement, so that
    // submissions, dispatches and job ends of one user no longer wait on each other's
    // row lock until commit (under load they queued behind one another on user_jobs):
    // - user_admitted: jobs and reserved core-seconds ever admitted; locked by admission;
    // - user_dispatched: jobs ever handed to a scheduler; locked by dispatch (the running quota);
    // - user_ended: what ended jobs released and used; written as jobs end, never locked
    //   by admission or dispatch, which read it as of their statement's start. An end
    //   only lowers what a user holds, so an older reading can refuse too early, never
    //   admit too much (but for a job charged more than it reserved, already used).
    // Use now = admitted − ended. The counts start from the jobs table, so owned jobs
    // from before quotas are counted too.
    //
    // Admission is a function: its statement is planned once per connection (a generic
    // plan), where the same statement sent as text was planned anew for every batch, and
    // that planning cost more than the check itself. A period's use is one function too
    // (PL/pgSQL, as an SQL function's body would be planned at every call).
    name: '008_user_usage_apart',
    async up(db) {
      await db.raw(`CREATE TABLE user_admitted (owner text PRIMARY KEY, jobs bigint NOT NULL DEFAULT 0, core_seconds bigint NOT NULL DEFAULT 0)`);
      await db.raw(`CREATE TABLE user_dispatched (owner text PRIMARY KEY, jobs bigint NOT NULL DEFAULT 0)`);
      await db.raw(`CREATE TABLE user_ended (
        owner text PRIMARY KEY,
        jobs bigint NOT NULL DEFAULT 0,
        dispatched_jobs bigint NOT NULL DEFAULT 0,
        released_core_seconds bigint NOT NULL DEFAULT 0,
        spent double precision NOT NULL DEFAULT 0)`);
      await db.raw(`INSERT INTO user_admitted (owner, jobs, core_seconds)
                    SELECT owner, count(*) FILTER (WHERE state IN ('accepted', 'running')),
                           coalesce(sum(reserved_core_seconds) FILTER (WHERE state IN ('accepted', 'running')), 0)
                    FROM jobs WHERE owner IS NOT NULL GROUP BY owner`);
      await db.raw(`INSERT INTO user_dispatched (owner, jobs)
                    SELECT owner, count(*) FILTER (WHERE state IN ('accepted', 'running') AND dispatched_at IS NOT NULL)
                    FROM jobs WHERE owner IS NOT NULL GROUP BY owner`);
      await db.raw(`INSERT INTO user_ended (owner, spent) SELECT owner, spent FROM user_jobs`);
      await db.raw('DROP TABLE user_jobs');
      await db.raw(`
        CREATE OR REPLACE FUNCTION count_jobs_by_owner() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        DECLARE
          r record;
        BEGIN
          IF TG_OP = 'INSERT' THEN
            -- One statement for all owners of a batch (a statement per owner cost more than the insert).
            INSERT INTO user_admitted AS a (owner, jobs, core_seconds)
            SELECT owner, count(*), sum(coalesce(reserved_core_seconds, 0)) FROM new_rows
            WHERE owner IS NOT NULL AND state IN ('accepted', 'running') GROUP BY owner ORDER BY owner
            ON CONFLICT (owner) DO UPDATE SET jobs = a.jobs + excluded.jobs, core_seconds = a.core_seconds + excluded.core_seconds;
          ELSIF TG_OP = 'DELETE' THEN
            -- Only an unfinished job taken back (its submission failed) is no longer admitted.
            FOR r IN SELECT owner, count(*) AS u, count(dispatched_at) AS d, sum(coalesce(reserved_core_seconds, 0)) AS h FROM old_rows
                     WHERE owner IS NOT NULL AND state IN ('accepted', 'running') GROUP BY owner ORDER BY owner LOOP
              UPDATE user_admitted SET jobs = jobs - r.u, core_seconds = core_seconds - r.h WHERE owner = r.owner;
              IF r.d <> 0 THEN
                UPDATE user_dispatched SET jobs = jobs - r.d WHERE owner = r.owner;
              END IF;
            END LOOP;
          ELSE
            FOR r IN
              WITH change AS (
                SELECT n.owner, (n.finished_at AT TIME ZONE 'UTC')::date AS day,
                  (CASE WHEN n.dispatched_at IS NOT NULL THEN 1 ELSE 0 END) - (CASE WHEN o.dispatched_at IS NOT NULL THEN 1 ELSE 0 END) AS d,
                  (CASE WHEN o.state IN ('accepted', 'running') AND n.state NOT IN ('accepted', 'running') THEN 1 ELSE 0 END) AS e,
                  (CASE WHEN o.state IN ('accepted', 'running') AND n.state NOT IN ('accepted', 'running') AND n.dispatched_at IS NOT NULL THEN 1 ELSE 0 END) AS ed,
                  (CASE WHEN o.state IN ('accepted', 'running') AND n.state NOT IN ('accepted', 'running') THEN coalesce(n.reserved_core_seconds, 0) ELSE 0 END) AS h,
                  (CASE WHEN n.state IN ('accepted', 'running') OR n.started_at IS NULL THEN 0
                        ELSE coalesce(n.charged_core_seconds, n.reserved_core_seconds, 0) END)
                    - (CASE WHEN o.state IN ('accepted', 'running') OR o.started_at IS NULL THEN 0
                        ELSE coalesce(o.charged_core_seconds, o.reserved_core_seconds, 0) END) AS s
                FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n.owner IS NOT NULL)
              SELECT owner, day, sum(d) AS d, sum(e) AS e, sum(ed) AS ed, sum(h) AS h, sum(s) AS s FROM change
              GROUP BY owner, day HAVING sum(d) <> 0 OR sum(e) <> 0 OR sum(s) <> 0 ORDER BY owner, day
            LOOP
              IF r.d <> 0 THEN
                INSERT INTO user_dispatched AS ud (owner, jobs) VALUES (r.owner, r.d)
                ON CONFLICT (owner) DO UPDATE SET jobs = ud.jobs + r.d;
              END IF;
              IF r.e <> 0 OR r.s <> 0 THEN
                INSERT INTO user_ended AS ue (owner, jobs, dispatched_jobs, released_core_seconds, spent) VALUES (r.owner, r.e, r.ed, r.h, r.s)
                ON CONFLICT (owner) DO UPDATE SET jobs = ue.jobs + r.e, dispatched_jobs = ue.dispatched_jobs + r.ed,
                  released_core_seconds = ue.released_core_seconds + r.h, spent = ue.spent + r.s;
              END IF;
              IF r.s <> 0 AND r.day IS NOT NULL THEN
                INSERT INTO user_spending AS us (owner, day, core_seconds) VALUES (r.owner, r.day, r.s)
                ON CONFLICT (owner, day) DO UPDATE SET core_seconds = us.core_seconds + r.s;
              END IF;
            END LOOP;
          END IF;
          RETURN NULL;
        END $$`);
      // A user's figures now: what was admitted or dispatched less what ended since.
      await db.raw(`
        CREATE VIEW user_usage AS
        SELECT a.owner,
               a.jobs - coalesce(e.jobs, 0) AS unfinished,
               coalesce(d.jobs, 0) - coalesce(e.dispatched_jobs, 0) AS dispatched,
               a.core_seconds - coalesce(e.released_core_seconds, 0) AS holding,
               coalesce(e.spent, 0) AS spent
        FROM user_admitted a LEFT JOIN user_dispatched d ON d.owner = a.owner LEFT JOIN user_ended e ON e.owner = a.owner`);
      await db.raw(`
        CREATE FUNCTION spent_since(who text, period_start timestamptz) RETURNS double precision
        LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
        BEGIN
          RETURN coalesce((SELECT e.spent FROM user_ended e WHERE e.owner = who), 0)
               - coalesce((SELECT sum(s.core_seconds) FROM user_spending s
                           WHERE s.owner = who AND s.day < (period_start AT TIME ZONE 'UTC')::date), 0);
        END $$`);
      // Submissions (a JSON array, in order of arrival) are inserted as long as the
      // waiting limit and each owner's admission allow. The waiting count is locked
      // first, then the owners' admitted rows, until commit: concurrent batches, from any
      // server, never pass a limit.
      await db.raw(`
        CREATE FUNCTION admit_jobs(submissions jsonb, max_waiting bigint) RETURNS SETOF uuid
        LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
        BEGIN
          RETURN QUERY
          WITH waiting AS (SELECT n FROM job_counts WHERE state = 'accepted' FOR UPDATE),
          batch AS (
            SELECT * FROM ROWS FROM (jsonb_to_recordset(submissions) AS (
              id uuid, process_id text, request jsonb, message text, owner text, owner_groups jsonb,
              reserved bigint, cores int, max_unfinished int, budget bigint, period_start timestamptz))
            WITH ORDINALITY AS b(id, process_id, request, message, owner, owner_groups, reserved, cores, max_unfinished, budget, period_start, ord)),
          quota_users AS (
            SELECT b.owner, min(b.period_start) AS period_start FROM batch b
            WHERE b.owner IS NOT NULL AND b.period_start IS NOT NULL GROUP BY b.owner),
          admitted AS (
            SELECT a.owner, a.jobs, a.core_seconds FROM user_admitted a
            WHERE a.owner IN (SELECT q.owner FROM quota_users q) AND (SELECT w.n FROM waiting w) IS NOT NULL
            ORDER BY a.owner FOR UPDATE),
          -- spent_since, for all the batch's users in one join (a call per user cost more than the rest).
          usage AS (
            SELECT a.owner, a.jobs - coalesce(e.jobs, 0) AS unfinished, a.core_seconds - coalesce(e.released_core_seconds, 0) AS holding,
                   coalesce(e.spent, 0) - coalesce(before.core_seconds, 0) AS spent
            FROM admitted a JOIN quota_users q ON q.owner = a.owner LEFT JOIN user_ended e ON e.owner = a.owner
            LEFT JOIN LATERAL (SELECT sum(s.core_seconds) AS core_seconds FROM user_spending s
                               WHERE s.owner = a.owner AND s.day < (q.period_start AT TIME ZONE 'UTC')::date) before ON true),
          ranked AS (
            SELECT b.*, row_number() OVER w AS rank, sum(coalesce(b.reserved, 0)) OVER w AS reserving
            FROM batch b WINDOW w AS (PARTITION BY b.owner ORDER BY b.ord)),
          inserted AS (
            INSERT INTO jobs (id, process_id, request, state, message, owner, owner_groups, reserved_core_seconds, cores)
            SELECT b.id, b.process_id, b.request, 'accepted', b.message, b.owner, b.owner_groups, b.reserved, b.cores
            FROM ranked b LEFT JOIN usage u ON u.owner = b.owner, waiting w
            WHERE w.n + b.ord <= max_waiting
              AND (b.max_unfinished IS NULL OR coalesce(u.unfinished, 0) + b.rank <= b.max_unfinished)
              AND (b.budget IS NULL OR coalesce(u.holding, 0) + coalesce(u.spent, 0) + b.reserving <= b.budget)
            RETURNING jobs.id)
          SELECT i.id FROM inserted i;
        END $$`);
    },
    async down(db) {
      await db.raw('DROP FUNCTION admit_jobs(jsonb, bigint)');
      await db.raw('DROP FUNCTION spent_since(text, timestamptz)');
      await db.raw(`CREATE TABLE user_jobs (
        owner text PRIMARY KEY,
        unfinished integer NOT NULL DEFAULT 0,
        dispatched integer NOT NULL DEFAULT 0,
        holding bigint NOT NULL DEFAULT 0,
        spent double precision NOT NULL DEFAULT 0)`);
      await db.raw(`INSERT INTO user_jobs (owner, unfinished, dispatched, holding, spent)
                    SELECT owner, unfinished, dispatched, holding, spent FROM user_usage`);
      await db.raw('DROP VIEW user_usage');
      for (const t of ['user_ended', 'user_dispatched', 'user_admitted']) await db.schema.dropTable(t);
      await db.raw(COUNT_JOBS_BY_OWNER_007.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
    },
  },
  {
    // Interactive sessions: where a ready session's application listens (the proxy's
    // target, in the store so that any server can proxy any session), the hash of its
    // secret, when it became ready and when traffic last went through a proxy. Two
    // unfinished sessions never hold the same address: a runner cannot claim another's.
    name: '009_sessions',
    async up(db) {
      await db.schema.alterTable('jobs', (t) => {
        t.text('session_host');
        t.integer('session_port');
        t.text('session_secret_hash');
        t.timestamp('session_ready_at', { useTz: true });
        t.timestamp('session_active_at', { useTz: true });
      });
      await db.raw(`CREATE UNIQUE INDEX jobs_session_address ON jobs (session_host, session_port)
                    WHERE session_host IS NOT NULL AND state IN ('accepted', 'running')`);
    },
    async down(db) {
      await db.raw('DROP INDEX jobs_session_address');
      await db.schema.alterTable('jobs', (t) => {
        t.dropColumns('session_host', 'session_port', 'session_secret_hash', 'session_ready_at', 'session_active_at');
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
