import type { Knex } from 'knex';
import { fromStates, TERMINAL, type JobState } from './states.js';

/** A job as the store keeps it. `request` is the parsed Execute request. */
export interface Job {
  id: string;
  processId: string;
  /** Who submitted it (null: authentication was off), and their groups then. */
  owner: string | null;
  ownerGroups: string[];
  /** Core-seconds held while unfinished (declared cores × wall time), and what it used once ended. */
  reservedCoreSeconds: number | null;
  chargedCoreSeconds: number | null;
  request: unknown;
  state: JobState;
  percent: number;
  message: string | null;
  scheduler: string | null;
  schedulerJobId: string | null;
  secretHash: string | null;
  failureCode: string | null;
  failureLocator: string | null;
  failureReason: string | null;
  version: number;
  createdAt: Date;
  dispatchedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
  /** A ready session's address (its runner's word, within the configured pools). */
  sessionHost: string | null;
  sessionPort: number | null;
  sessionSecretHash: string | null;
  sessionReadyAt: Date | null;
  /** When traffic last went through a proxy to the session (written every few seconds). */
  sessionActiveAt: Date | null;
}

export interface NewJob {
  id: string;
  processId: string;
  /** Unset: nobody's (authentication is off). */
  owner?: string | null;
  ownerGroups?: string[];
  /** Declared cores × wall time, held against the owner's budget while the job is unfinished. */
  reservedCoreSeconds?: number;
  /** Declared cores: a job run here is charged its run time × these when it ends. */
  cores?: number;
  request: unknown;
  message: string;
}

export interface Failure {
  code: string;
  reason: string;
  locator?: string;
}

type Row = Record<string, unknown>;

export interface JobFilter {
  owner?: string;
  /** Any of these processes. */
  processIds?: readonly string[];
  states?: readonly JobState[];
  /** Created within this interval (either end open). */
  createdFrom?: Date;
  createdTo?: Date;
  /** Ran at least, or at most, this many seconds (until it ended, or until now): started jobs only. */
  minDuration?: number;
  maxDuration?: number;
}

const DURATION = "extract(epoch from coalesce(finished_at, now()) - started_at)";

const date = (v: unknown): Date | null => (v == null ? null : v instanceof Date ? v : new Date(String(v)));

function toJob(r: Row): Job {
  return {
    id: String(r.id),
    processId: String(r.process_id),
    owner: (r.owner as string | null) ?? null,
    ownerGroups: r.owner_groups == null ? [] : typeof r.owner_groups === 'string' ? JSON.parse(r.owner_groups) : (r.owner_groups as string[]),
    reservedCoreSeconds: r.reserved_core_seconds == null ? null : Number(r.reserved_core_seconds),
    chargedCoreSeconds: r.charged_core_seconds == null ? null : Number(r.charged_core_seconds),
    request: typeof r.request === 'string' ? JSON.parse(r.request) : r.request,
    state: r.state as JobState,
    percent: Number(r.percent),
    message: (r.message as string | null) ?? null,
    scheduler: (r.scheduler as string | null) ?? null,
    schedulerJobId: (r.scheduler_job_id as string | null) ?? null,
    secretHash: (r.secret_hash as string | null) ?? null,
    failureCode: (r.failure_code as string | null) ?? null,
    failureLocator: (r.failure_locator as string | null) ?? null,
    failureReason: (r.failure_reason as string | null) ?? null,
    version: Number(r.version),
    createdAt: date(r.created_at)!,
    dispatchedAt: date(r.dispatched_at),
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    updatedAt: date(r.updated_at)!,
    sessionHost: (r.session_host as string | null) ?? null,
    sessionPort: r.session_port == null ? null : Number(r.session_port),
    sessionSecretHash: (r.session_secret_hash as string | null) ?? null,
    sessionReadyAt: date(r.session_ready_at),
    sessionActiveAt: date(r.session_active_at),
  };
}

/** Insert statements one store sends at once. */
const INSERTS_IN_FLIGHT = 2;

/**
 * What a user may still submit, checked in the statement that inserts the job: their
 * unfinished jobs, and the core-seconds their unfinished jobs hold plus what their jobs
 * ended since `periodStart` used (or held, until charged).
 */
export interface Admission {
  maxUnfinished: number | undefined;
  budget: number | undefined;
  periodStart: Date;
}

/** A user's jobs and compute now, as admission counts them. */
export interface Usage {
  unfinished: number;
  running: number;
  /** Core-seconds held by unfinished jobs. */
  holding: number;
  /** Core-seconds of jobs ended since the period began (charged, or held until charged). */
  spent: number;
}

/**
 * What an owned job that ran here (the local scheduler), or never started anywhere,
 * used: charged in the statement that ends it, its run time × its cores. A batch job's
 * charge comes later, from the batch system's accounting (Dispatcher.charge).
 */
const CHARGED_HERE = `CASE WHEN owner IS NULL THEN NULL
  WHEN started_at IS NULL THEN 0
  WHEN scheduler IS NULL OR scheduler = 'local' THEN extract(epoch from now() - started_at) * coalesce(cores, 1)
  ELSE charged_core_seconds END`;

/** A user's jobs handed to schedulers at once (their `running` quota). */
export interface RunningLimit {
  owner: string;
  max: number;
}

/** prepareDispatch's answer for a job whose owner runs as many jobs as allowed: it waits its turn. */
export const HELD = Symbol('held');

interface PendingInsert {
  job: NewJob;
  maxWaiting: number;
  admission: Admission | undefined;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Every SQL statement about jobs, in one place. State changes are single conditional
 * UPDATEs: a change that is not allowed from the row's current state matches no row
 * and returns undefined.
 */
export class JobStore {
  /** Submissions waiting for the next insert (group commit: one statement for a burst). */
  private pending: PendingInsert[] = [];
  private inFlight = 0;
  private flushScheduled = false;
  /** The last insert turned some submissions away: the waiting limit is reached. */
  refusing = false;
  /** Owners whose admitted and dispatched rows exist (made before their first job's insert). */
  private readonly knownOwners = new Set<string>();

  constructor(private readonly db: Knex) {}

  /**
   * Inserts an accepted job unless `maxWaiting` jobs are waiting already. Submissions
   * that arrive together are inserted by one statement, in order of arrival, as many as
   * there is room for. The statement locks the count of waiting jobs (kept by triggers)
   * until it commits, so concurrent inserts, from this server or others, never pass
   * the limit; two are sent at once, one committing while the next waits its turn.
   */
  insertIfRoom(job: NewJob, maxWaiting: number, admission?: Admission): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, maxWaiting, admission, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight >= INSERTS_IN_FLIGHT || this.pending.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flushInserts();
    });
  }

  private async flushInserts(): Promise<void> {
    const batch = this.pending.splice(0, 500);
    if (batch.length === 0) return;
    this.inFlight++;
    try {
      // A user's rows must exist before the statements that lock them (admission, dispatch).
      const newOwners = [...new Set(batch.filter((p) => p.job.owner && !this.knownOwners.has(p.job.owner)).map((p) => p.job.owner!))];
      if (newOwners.length > 0) {
        await this.db.raw(
          `WITH admitted AS (INSERT INTO user_admitted (owner) SELECT unnest(?::text[]) ON CONFLICT DO NOTHING)
           INSERT INTO user_dispatched (owner) SELECT unnest(?::text[]) ON CONFLICT DO NOTHING`,
          [newOwners, newOwners],
        );
        for (const o of newOwners) if (this.knownOwners.size < 100_000) this.knownOwners.add(o);
      }
      const result = await this.insertBatch(batch);
      const inserted = new Set((result.rows as Row[]).map((r) => String(r.id)));
      this.refusing = inserted.size < batch.length;
      for (const p of batch) p.resolve(inserted.has(p.job.id));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
      this.scheduleFlush();
    }
  }

  /**
   * One statement: as many of the batch as the waiting limit and each user's admission
   * allow, in order of arrival (admit_jobs, in the migrations, says how).
   */
  private insertBatch(batch: readonly PendingInsert[]): Promise<{ rows: unknown[] }> {
    const rows = batch.map((p) => ({
      id: p.job.id,
      process_id: p.job.processId,
      request: p.job.request,
      message: p.job.message,
      owner: p.job.owner ?? null,
      owner_groups: p.job.ownerGroups ?? [],
      reserved: p.job.reservedCoreSeconds ?? null,
      cores: p.job.cores ?? null,
      max_unfinished: p.admission?.maxUnfinished ?? null,
      budget: p.admission?.budget ?? null,
      period_start: p.admission?.periodStart ?? null,
    }));
    return this.db.raw('SELECT admit_jobs(?::jsonb, ?) AS id', [JSON.stringify(rows), batch[0]!.maxWaiting]) as Promise<{ rows: unknown[] }>;
  }

  /** Records what an ended job used; once only (the first figure stands). */
  async setCharge(id: string, coreSeconds: number): Promise<void> {
    await this.db('jobs').where({ id }).whereNull('charged_core_seconds').whereIn('state', TERMINAL as JobState[]).update({ charged_core_seconds: coreSeconds });
  }

  /** Every user's jobs and compute (for /metrics, when asked per user). */
  async usageByUser(): Promise<(Usage & { owner: string })[]> {
    const result = await this.db.raw(
      `SELECT uu.owner, uu.unfinished, uu.holding, uu.spent, coalesce(r.n, 0) AS running
       FROM user_usage uu LEFT JOIN (SELECT owner, count(*) AS n FROM jobs WHERE state = 'running' AND owner IS NOT NULL GROUP BY owner) r ON r.owner = uu.owner
       ORDER BY uu.owner`,
    );
    return (result.rows as Row[]).map((r) => ({ owner: String(r.owner), unfinished: Number(r.unfinished), running: Number(r.running), holding: Number(r.holding), spent: Number(r.spent) }));
  }

  /** A user's jobs and compute now (the figures a refusal and GET /users/me give). */
  async usageOf(owner: string, periodStart: Date): Promise<Usage> {
    const result = await this.db.raw(
      `SELECT uu.unfinished, uu.holding, spent_since(uu.owner, ?::timestamptz) AS spent,
              (SELECT count(*) FROM jobs WHERE owner = uu.owner AND state = 'running') AS running
       FROM user_usage uu WHERE uu.owner = ?`,
      [periodStart, owner],
    );
    const r = (result.rows as Row[])[0] ?? {};
    return { unfinished: Number(r.unfinished ?? 0), running: Number(r.running ?? 0), holding: Number(r.holding ?? 0), spent: Number(r.spent ?? 0) };
  }

  async get(id: string): Promise<Job | undefined> {
    const row = (await this.db('jobs').where({ id }).first()) as Row | undefined;
    return row ? toJob(row) : undefined;
  }

  private async update(id: string, allowed: readonly JobState[], fields: Row, extra?: (q: Knex.QueryBuilder) => void): Promise<Job | undefined> {
    const q = this.db('jobs')
      .where({ id })
      .whereIn('state', allowed as JobState[])
      .update({ ...fields, version: this.db.raw('version + 1'), updated_at: this.db.fn.now() })
      .returning('*');
    extra?.(q);
    const rows = (await q) as Row[];
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /**
   * Records, before the scheduler is asked, which scheduler will run the job and the
   * hash of the secret its runner will report with (so a restart knows where to look).
   * Only a job not yet handed to a scheduler can be prepared. With `running`, a job whose
   * owner has that many jobs handed over already is HELD: it waits its turn.
   */
  prepareDispatch(id: string, scheduler: string, secretHash: string, schedulerJobId?: string): Promise<Job | undefined>;
  prepareDispatch(id: string, scheduler: string, secretHash: string, schedulerJobId: string | undefined, running: RunningLimit | undefined): Promise<Job | undefined | typeof HELD>;
  prepareDispatch(id: string, scheduler: string, secretHash: string, schedulerJobId?: string, running?: RunningLimit): Promise<Job | undefined | typeof HELD> {
    const fields: Row = { scheduler, secret_hash: secretHash, dispatched_at: this.db.raw('coalesce(dispatched_at, now())') };
    if (schedulerJobId) fields.scheduler_job_id = schedulerJobId;
    if (!running) return this.update(id, ['accepted'], fields, (q) => q.whereNull('scheduler_job_id'));
    // One statement: the owner's dispatched row (kept by the triggers) is locked and read
    // as current, so dispatchers decide for one user one after another; what ended is read
    // as of the statement's start (an older figure only holds a job back). The job's own
    // row is locked first, as a job taken back locks it before its trigger locks the
    // owner's: no deadlock. A job handed over before (a restart) is not counted against itself.
    return (async () => {
      const job = await this.update(id, ['accepted'], fields, (q) =>
        q.whereNull('scheduler_job_id').whereRaw(
          `(dispatched_at IS NOT NULL OR coalesce((SELECT jobs FROM user_dispatched WHERE owner = ?
              AND (SELECT 1 FROM jobs own WHERE own.id = ? FOR UPDATE) = 1 FOR UPDATE), 0)
              - coalesce((SELECT dispatched_jobs FROM user_ended WHERE owner = ?), 0) < ?)`,
          [running.owner, id, running.owner, running.max],
        ),
      );
      if (job) return job;
      // Not prepared: over the running quota, or not preparable at all (dismissed, taken).
      const now = await this.get(id);
      return now?.state === 'accepted' && now.schedulerJobId === null ? HELD : undefined;
    })();
  }

  /** A new runner secret for a job handed over again (only while it has not ended). */
  renewSecret(id: string, secretHash: string): Promise<Job | undefined> {
    return this.update(id, ['accepted', 'running'], { secret_hash: secretHash });
  }

  /** The hash of a session's secret, set when its job is handed over (a new one when handed over again). */
  setSessionSecret(id: string, secretHash: string): Promise<Job | undefined> {
    return this.update(id, ['accepted', 'running'], { session_secret_hash: secretHash }, (q) => q.whereNull('session_host'));
  }

  /**
   * A session's application is ready at host:port: once per job, only for a running
   * session, and only at an address no other unfinished session holds (the unique index
   * refuses it: undefined).
   */
  async sessionReady(id: string, host: string, port: number, message: string): Promise<Job | undefined> {
    try {
      // Only a running job that was handed over as a session (it has a session secret).
      return await this.update(
        id,
        ['running'],
        { session_host: host, session_port: port, session_ready_at: this.db.fn.now(), message },
        (q) => q.whereNull('session_host').whereNotNull('session_secret_hash'),
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return undefined;
      throw err;
    }
  }

  /** Records traffic through a proxy: for each session, when it was last seen (later times win). */
  async touchSessions(seen: ReadonlyMap<string, Date>): Promise<void> {
    if (seen.size === 0) return;
    const rows = [...seen].map(([id, at]) => ({ id, at: at.toISOString() }));
    await this.db.raw(
      `UPDATE jobs j SET session_active_at = greatest(j.session_active_at, x.at)
       FROM jsonb_to_recordset(?::jsonb) AS x(id uuid, at timestamptz)
       WHERE j.id = x.id AND j.state = 'running'`,
      [JSON.stringify(rows)],
    );
  }

  /** Every ready session still running (the proxy mapping file's lines). */
  async readySessions(): Promise<{ id: string; host: string; port: number }[]> {
    const rows = (await this.db('jobs').where({ state: 'running' }).whereNotNull('session_host').orderBy('session_ready_at').select('id', 'session_host', 'session_port')) as Row[];
    return rows.map((r) => ({ id: String(r.id), host: String(r.session_host), port: Number(r.session_port) }));
  }

  /** Unfinished jobs of these processes (sessions holding or about to take a port). */
  async countUnfinishedOf(processIds: readonly string[]): Promise<number> {
    if (processIds.length === 0) return 0;
    const row = (await this.db('jobs').whereIn('state', ['accepted', 'running']).whereIn('process_id', processIds as string[]).count({ n: '*' }).first()) as Row | undefined;
    return Number(row?.n ?? 0);
  }

  setSchedulerJobId(id: string, schedulerJobId: string): Promise<Job | undefined> {
    return this.update(id, ['accepted', 'running'], { scheduler_job_id: schedulerJobId });
  }

  start(id: string, message: string): Promise<Job | undefined> {
    return this.update(id, fromStates('running'), { state: 'running', message, started_at: this.db.fn.now() });
  }

  /** A new message for a job still waiting (none when it says the same). */
  waiting(id: string, message: string): Promise<Job | undefined> {
    return this.update(id, ['accepted'], { message }, (q) => q.whereNot({ message }));
  }

  /** Progress only moves up, and only while running. */
  progress(id: string, percent: number, message: string | undefined): Promise<Job | undefined> {
    const fields: Row = { percent };
    if (message !== undefined) fields.message = message;
    return this.update(id, ['running'], fields, (q) => q.where('percent', '<=', percent));
  }

  succeed(id: string, message: string): Promise<Job | undefined> {
    return this.update(id, fromStates('succeeded'), {
      state: 'succeeded',
      message,
      percent: 100,
      finished_at: this.db.fn.now(),
      started_at: this.db.raw('coalesce(started_at, now())'),
      charged_core_seconds: this.db.raw(CHARGED_HERE),
    });
  }

  fail(id: string, failure: Failure): Promise<Job | undefined> {
    return this.update(id, fromStates('failed'), {
      state: 'failed',
      message: failure.reason,
      failure_code: failure.code,
      failure_locator: failure.locator ?? null,
      failure_reason: failure.reason,
      finished_at: this.db.fn.now(),
      charged_core_seconds: this.db.raw(CHARGED_HERE),
    });
  }

  dismiss(id: string, reason: string): Promise<Job | undefined> {
    return this.update(id, fromStates('dismissed'), {
      state: 'dismissed',
      message: reason,
      failure_reason: reason,
      finished_at: this.db.fn.now(),
      charged_core_seconds: this.db.raw(CHARGED_HERE),
    });
  }

  /** Removes a job that was never announced to a client (its submission failed half way). */
  async remove(id: string): Promise<void> {
    await this.db('jobs').where({ id }).delete();
  }

  /** Which of these ids have a row. */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = (await this.db('jobs').whereIn('id', ids as string[]).select('id')) as Row[];
    return new Set(rows.map((r) => String(r.id)));
  }

  /** A page of jobs, newest first, optionally of one owner, one process and some states. */
  async list(filter: JobFilter & { limit: number; offset: number }): Promise<{ jobs: Job[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.owner !== undefined) q.where('owner', filter.owner);
      if (filter.processIds?.length) q.whereIn('process_id', filter.processIds as string[]);
      if (filter.states && filter.states.length > 0) q.whereIn('state', filter.states as JobState[]);
      if (filter.createdFrom) q.where('created_at', '>=', filter.createdFrom);
      if (filter.createdTo) q.where('created_at', '<=', filter.createdTo);
      if (filter.minDuration !== undefined) q.whereNotNull('started_at').whereRaw(`${DURATION} >= ?`, [filter.minDuration]);
      if (filter.maxDuration !== undefined) q.whereNotNull('started_at').whereRaw(`${DURATION} <= ?`, [filter.maxDuration]);
      return q;
    };
    const rows = (await where(this.db('jobs')).orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset)) as Row[];
    return { jobs: rows.map(toJob), total: await this.countMatching(filter, where) };
  }

  /** Of everyone's jobs of all processes, from the counts by state (the table may hold a million jobs); else counted. */
  private async countMatching(filter: JobFilter, where: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number> {
    const narrowed = filter.processIds?.length || filter.createdFrom || filter.createdTo || filter.minDuration !== undefined || filter.maxDuration !== undefined;
    if (narrowed || filter.owner !== undefined) {
      const [count] = (await where(this.db('jobs')).count({ n: '*' })) as Row[];
      return Number(count?.n ?? 0);
    }
    let total = 0;
    for (const [state, n] of await this.countByState()) if (!filter.states?.length || filter.states.includes(state)) total += n;
    return total;
  }

  async unfinished(): Promise<Job[]> {
    const rows = (await this.db('jobs').whereIn('state', ['accepted', 'running']).orderBy('created_at')) as Row[];
    return rows.map(toJob);
  }

  async countByState(): Promise<Map<JobState, number>> {
    const rows = (await this.db('job_counts').select('state', 'n')) as Row[];
    return new Map(rows.map((r) => [r.state as JobState, Number(r.n)]));
  }

  /** Answers when the database does. */
  async ping(): Promise<void> {
    await this.db.raw('SELECT 1');
  }

  async countWaiting(): Promise<number> {
    const row = (await this.db('job_counts').where({ state: 'accepted' }).first('n')) as Row | undefined;
    return Number(row?.n ?? 0);
  }

  /** Finished jobs older than `before`, oldest first. */
  async finishedBefore(before: Date, limit = 500): Promise<string[]> {
    const rows = (await this.db('jobs')
      .whereIn('state', TERMINAL as JobState[])
      .where('finished_at', '<', before)
      .orderBy('finished_at')
      .limit(limit)
      .select('id')) as Row[];
    return rows.map((r) => String(r.id));
  }

  /** Jobs finished since `since`, and the `newest` last finished. */
  async recentlyFinished(since: Date, newest: number): Promise<string[]> {
    const result = await this.db.raw(
      `SELECT id FROM jobs WHERE finished_at >= ?
       UNION
       (SELECT id FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?)`,
      [since, newest],
    );
    return (result.rows as Row[]).map((r) => String(r.id));
  }

  async removeMany(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.db('jobs').whereIn('id', ids as string[]).delete();
  }

  /**
   * Reads the job while holding a lock on it that every server process respects, and
   * runs `fn` (which must not use the store) before letting go. Status documents are
   * written under this lock, so two writers cannot put an older state over a newer one.
   */
  async withLockedJob<T>(id: string, fn: (job: Job | undefined) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [id]);
      const row = (await trx('jobs').where({ id }).first()) as Row | undefined;
      return fn(row ? toJob(row) : undefined);
    });
  }
}
