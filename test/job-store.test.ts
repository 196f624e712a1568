import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/jobs/db.js';
import { migrate } from '../src/jobs/migrations.js';
import { JOB_STATES } from '../src/jobs/states.js';
import { JobStore } from '../src/jobs/store.js';
import { removeOrphanDocuments } from '../src/processing/orphan-documents.js';
import { dropSchema, pgliteCopy, TEST_DATABASE_URL, type StoreKind } from './helpers/server.js';

describe.each<StoreKind>(['pglite', 'postgres'])('the job state machine (%s)', (kind) => {
  let db: Knex;
  let store: JobStore;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    if (kind === 'pglite') {
      const dir = await pgliteCopy();
      db = await openDatabase({ pgliteDir: dir });
      cleanup = () => rm(dir, { recursive: true, force: true });
    } else {
      const schema = `wps_store_${randomBytes(4).toString('hex')}`;
      db = await openDatabase({ url: TEST_DATABASE_URL, schema });
      await db.raw('CREATE SCHEMA ??', [schema]);
      cleanup = () => dropSchema(schema);
    }
    await migrate(db);
    store = new JobStore(db);
  });
  afterAll(async () => {
    await db.destroy();
    await cleanup();
  });

  const newJob = async () => {
    const id = randomUUID();
    expect(await store.insertIfRoom({ id, processId: 'p', request: { a: 1 }, message: 'accepted' }, 1_000_000)).toBe(true);
    return id;
  };

  it('moves forward only: accepted → running → succeeded, and nothing after', async () => {
    const id = await newJob();
    expect((await store.get(id))!.state).toBe('accepted');
    expect((await store.start(id, 'go'))!.state).toBe('running');
    expect(await store.start(id, 'again')).toBeUndefined();
    expect((await store.progress(id, 30, 'a third'))!.percent).toBe(30);
    expect(await store.progress(id, 20, 'backwards')).toBeUndefined();
    expect((await store.get(id))!).toMatchObject({ percent: 30, message: 'a third' });
    expect((await store.succeed(id, 'done'))!).toMatchObject({ state: 'succeeded', percent: 100 });
    expect(await store.fail(id, { code: 'NoApplicableCode', reason: 'late monitor' })).toBeUndefined();
    expect(await store.progress(id, 50, 'late progress')).toBeUndefined();
    expect(await store.dismiss(id, 'too late')).toBeUndefined();
    expect((await store.get(id))!).toMatchObject({ state: 'succeeded', message: 'done', failureReason: null });
  });

  it('a failure is final too, with its code and reason', async () => {
    const id = await newJob();
    await store.start(id, 'go');
    expect((await store.fail(id, { code: 'InvalidParameterValue', reason: 'bad', locator: 'x' }))!).toMatchObject({
      state: 'failed', failureCode: 'InvalidParameterValue', failureLocator: 'x', failureReason: 'bad',
    });
    expect(await store.succeed(id, 'late runner')).toBeUndefined();
    expect(await store.start(id, 'late start')).toBeUndefined();
  });

  it('a waiting job may be dismissed and then never starts', async () => {
    const id = await newJob();
    expect((await store.dismiss(id, 'dismissed by the client'))!.state).toBe('dismissed');
    expect(await store.start(id, 'go')).toBeUndefined();
    expect(await store.prepareDispatch(id, 'local', 'h')).toBeUndefined();
  });

  it('racing writers: exactly one terminal transition wins', async () => {
    const id = await newJob();
    await store.start(id, 'go');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? store.succeed(id, `win ${i}`) : store.fail(id, { code: 'NoApplicableCode', reason: `win ${i}` }),
      ),
    );
    const winners = results.filter(Boolean);
    expect(winners).toHaveLength(1);
    const final = (await store.get(id))!;
    expect(final.state).toBe(winners[0]!.state);
    expect(final.message).toBe(winners[0]!.message);
  });

  it('counts waiting jobs in the insert itself', async () => {
    const waiting = await store.countWaiting();
    expect(await store.insertIfRoom({ id: randomUUID(), processId: 'p', request: {}, message: 'm' }, waiting)).toBe(false);
    expect(await store.insertIfRoom({ id: randomUUID(), processId: 'p', request: {}, message: 'm' }, waiting + 1)).toBe(true);
  });

  it('keeps the counts by state, and so the count of waiting jobs, through every change that starts, ends or removes one', async () => {
    const actual = async () => {
      const rows = (await db('jobs').select('state').count({ n: '*' }).groupBy('state')) as { state: string; n: string }[];
      return new Map(JOB_STATES.map((state) => [state, Number(rows.find((r) => r.state === state)?.n ?? 0)]));
    };
    const check = async () => {
      const counted = await actual();
      expect(await store.countByState()).toEqual(counted);
      expect(await store.countWaiting()).toBe(counted.get('accepted'));
      const all = [...counted.values()].reduce((a, b) => a + b, 0);
      expect((await store.list({ limit: 1, offset: 0 })).total).toBe(all);
      expect((await store.list({ states: ['accepted', 'failed'], limit: 1, offset: 0 })).total).toBe(counted.get('accepted')! + counted.get('failed')!);
    };
    await check();
    const [a, b, c, d, e] = await Promise.all(Array.from({ length: 5 }, () => newJob()));
    await check();
    await store.prepareDispatch(a!, 'local', 'h');
    await store.progress(a!, 10, 'not started: no change');
    await check();
    await store.start(a!, 'started');
    await check();
    await store.progress(a!, 50, 'half');
    await store.succeed(a!, 'done');
    await check();
    await store.fail(b!, { code: 'NoApplicableCode', reason: 'failed while waiting' });
    await store.dismiss(c!, 'dismissed while waiting');
    await check();
    await store.remove(d!);
    await store.removeMany([e!, a!]);
    await check();
  });

  it('never passes the waiting limit, even with several stores inserting at once', async () => {
    const others = [new JobStore(db), new JobStore(db), new JobStore(db)];
    const limit = (await store.countWaiting()) + 25;
    const attempts = await Promise.all(
      [store, ...others].flatMap((s) => Array.from({ length: 20 }, () => s.insertIfRoom({ id: randomUUID(), processId: 'p', request: {}, message: 'm' }, limit))),
    );
    expect(attempts.filter(Boolean)).toHaveLength(25);
    expect(await store.countWaiting()).toBe(limit);
  });

  it('prepares a dispatch once; the scheduler id moves the job out of reach of a second one', async () => {
    const id = await newJob();
    expect((await store.prepareDispatch(id, 'local', 'hash1'))!).toMatchObject({ scheduler: 'local', secretHash: 'hash1' });
    const first = (await store.get(id))!.dispatchedAt;
    expect((await store.prepareDispatch(id, 'local', 'hash2'))!.dispatchedAt).toEqual(first);
    await store.setSchedulerJobId(id, 'sched-1');
    expect(await store.prepareDispatch(id, 'local', 'hash3')).toBeUndefined();
  });

  it('lists the jobs finished since a moment, and the newest finished ones', async () => {
    const [a, b, c] = [await newJob(), await newJob(), await newJob()];
    await store.succeed(a, 'done');
    await store.fail(b, { code: 'NoApplicableCode', reason: 'failed' });
    const recent = await store.recentlyFinished(new Date(Date.now() - 60_000), 0);
    expect(recent).toEqual(expect.arrayContaining([a, b]));
    expect(recent).not.toContain(c);
    expect(await store.recentlyFinished(new Date(Date.now() + 60_000), 1)).toEqual([b]);
  });

  it('sweeps status documents without a job once they are old enough, and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wps-orphans-'));
    try {
      const withJob = await newJob();
      const [oldOrphan, newOrphan] = [randomUUID(), randomUUID()];
      const hourAgo = new Date(Date.now() - 3_600_000);
      const names = [`${withJob}.xml`, `${oldOrphan}.xml`, `${newOrphan}.xml`, `${oldOrphan}.json`, 'notes.xml'];
      for (const name of names) await writeFile(join(dir, name), '<doc/>');
      for (const name of names.filter((n) => !n.startsWith(newOrphan))) await utimes(join(dir, name), hourAgo, hourAgo);
      await mkdir(join(dir, oldOrphan));
      expect(await removeOrphanDocuments(store, dir, new Date(Date.now() - 60_000))).toBe(1);
      expect((await readdir(dir)).sort()).toEqual(names.filter((n) => n !== `${oldOrphan}.xml`).concat(oldOrphan).sort());
      expect(await removeOrphanDocuments(store, join(dir, 'missing'), new Date())).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('upgrading a database with jobs in it', () => {
  it('counts the jobs already there when the counts arrive', async () => {
    const schema = `wps_upgrade_${randomBytes(4).toString('hex')}`;
    const db = await openDatabase({ url: TEST_DATABASE_URL, schema });
    await db.raw('CREATE SCHEMA ??', [schema]);
    try {
      expect(await migrate(db, '001_jobs')).toEqual(['001_jobs']);
      const row = (state: string) => ({ id: randomUUID(), process_id: 'p', request: '{}', state });
      await db('jobs').insert([row('accepted'), row('accepted'), row('accepted'), row('running'), row('succeeded')]);
      expect(await migrate(db, '002_waiting_count')).toEqual(['002_waiting_count']);
      await db('jobs').insert(row('accepted'));
      expect(await migrate(db, '006_job_owners')).toEqual(['003_job_counts', '004_jobs_newest_first', '005_offerings', '006_job_owners']);
      // Dora's jobs from before quotas count against her when quotas arrive.
      await db('jobs').insert([{ ...row('accepted'), owner: 'dora' }, { ...row('running'), owner: 'dora' }, { ...row('succeeded'), owner: 'dora' }]);
      expect(await migrate(db)).toEqual(['007_user_usage', '008_user_usage_apart', '009_sessions']);
      const store = new JobStore(db);
      expect(await store.countWaiting()).toBe(5);
      expect(await store.countByState()).toEqual(new Map([['accepted', 5], ['running', 2], ['succeeded', 2], ['failed', 0], ['dismissed', 0]]));
      expect(await store.usageOf('dora', new Date(0))).toMatchObject({ unfinished: 2, running: 1 });
      const admission = { maxUnfinished: 3, budget: undefined, periodStart: new Date(0) };
      const submit = () => store.insertIfRoom({ id: randomUUID(), processId: 'p', request: {}, message: 'm', owner: 'dora' }, 100, admission);
      expect(await submit()).toBe(true);
      expect(await submit()).toBe(false);
      expect(await store.insertIfRoom({ id: randomUUID(), processId: 'p', request: {}, message: 'm' }, 7)).toBe(true);
      expect(await store.insertIfRoom({ id: randomUUID(), processId: 'p', request: {}, message: 'm' }, 7)).toBe(false);
    } finally {
      await db.destroy();
      await dropSchema(schema);
    }
  });
});
