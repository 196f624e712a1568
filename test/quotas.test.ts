import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { exceptionOf, expectException, expectSchemaValid, get } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Per-user limits: jobs running and waiting, checked in the statement that inserts the
 * job (never over-admitting, from any number of concurrent submissions), and core-hour
 * budgets that hold what a job may use and charge what it used.
 */
const tokens = ['alice', 'bob', 'carol', 'student', 'operator'].map((user) => ({
  user,
  token: `wps_${user}-token-0123456789`,
  groups: user === 'student' ? ['students'] : [],
  admin: user === 'operator',
}));
const as = (user: string) => ({ authorization: `Bearer wps_${user}-token-0123456789` });

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    auth: { tokens },
    jobs: { parallel: 4, wallTime: 600 },
    metrics: { perUser: true },
    quotas: {
      default: { running: 2, waiting: 3 },
      groups: { students: { running: 1, waiting: 0, coreHours: 0.5, period: 'day' } },
      users: { carol: { coreHours: 0.75, running: 10, waiting: 10 } },
    },
  });
});
afterAll(() => s?.close());

const submit = (user: string, delay: number) =>
  get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&storeExecuteResponse=true&status=true&DataInputs=delay=${delay}`, as(user));
/** The user's unfinished jobs handed to a scheduler. */
const handedOver = async (user: string) =>
  (await s.services.store.list({ owner: user, states: ['accepted', 'running'], limit: 100, offset: 0 })).jobs.filter((j) => j.dispatchedAt !== null);
async function until(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
const dismissAll = async (user: string) => {
  const { jobs } = (await (await fetch(`${s.url}/jobs?status=accepted,running`, { headers: as(user) })).json()) as { jobs: { jobID: string }[] };
  for (const j of jobs) await fetch(`${s.url}/jobs/${j.jobID}`, { method: 'DELETE', headers: as(user) });
};

describe('running and waiting limits', () => {
  it('200 concurrent submissions by one user against running + waiting = 5 admit exactly 5; the rest are ServerBusy with the figures', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, () => submit('alice', 30)));
    const accepted = answers.filter((r) => r.status === 200);
    expect(accepted.length).toBe(5);
    for (const r of accepted) expect(r.text).toContain('ProcessAccepted');
    const refused = answers.filter((r) => r.status !== 200);
    expect(refused.length).toBe(195);
    await expectException(refused[0]!, 'ServerBusy', undefined, 503);
    expect(exceptionOf(refused[0]!.text).text).toBe('5 of 5 jobs running or waiting for alice (at most 2 running and 3 waiting); try again when one has ended');
    // Other users are not held up by alice's limit.
    expect((await submit('bob', 0)).status).toBe(200);
    const { jobs } = (await (await fetch(`${s.url}/jobs`, { headers: as('alice') })).json()) as { jobs: unknown[] };
    expect(jobs.length).toBe(5);
    // Of the five, two are handed to the scheduler (running: 2), though it has room for four.
    await until(async () => (await handedOver('alice')).length === 2);
    expect((await handedOver('alice')).length).toBe(2);
    // The others say why they wait.
    await until(async () => (await s.services.store.list({ owner: 'alice', states: ['accepted'], limit: 10, offset: 0 })).jobs.some((j) => j.dispatchedAt === null && j.message === 'Waiting its turn: alice may run 2 jobs at once'));
    // When one ends, the next takes its place.
    const [first] = await handedOver('alice');
    await fetch(`${s.url}/jobs/${first!.id}`, { method: 'DELETE', headers: as('alice') });
    await until(async () => (await handedOver('alice')).length === 2 && !(await handedOver('alice')).some((j) => j.id === first!.id));
    const unfinished = (await s.services.store.list({ owner: 'alice', states: ['accepted', 'running'], limit: 10, offset: 0 })).jobs;
    expect(unfinished.length).toBe(4);
    await dismissAll('alice');
    // Dismissed jobs free their places at once.
    expect((await submit('alice', 0)).status).toBe(200);
  });
});

describe('core-hour budgets', () => {
  it('holds declared cores × wall time while a job is unfinished, refuses with 403 and the figures beyond the budget', async () => {
    // carol: 0.75 core-hours; a sleep job holds 1 core × 600 s = 0.167 core-hours.
    try {
      const held = [];
      for (let i = 0; i < 4; i++) held.push(await submit('carol', 30));
      expect(held.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const over = await submit('carol', 30);
      expect(over.status).toBe(403);
      await expectSchemaValid(over.text);
      expect(exceptionOf(over.text)).toMatchObject({
        code: 'NoApplicableCode',
        text: 'carol has used 0.67 of 0.75 core-hours this month (0 by ended jobs, 0.67 held by unfinished ones); this job would hold 0.17 (1 cores × 600 s)',
      });
    } finally {
      await dismissAll('carol');
    }
  });

  it('charges what an ended job used, so that the budget is free again', async () => {
    // student: 0.5 core-hours a day, one job at a time.
    for (let i = 0; i < 4; i++) {
      const next = await submit('student', 0);
      expect(next.status, next.text).toBe(200);
      const id = /([0-9a-f-]{36})\.xml$/.exec(statusLocationOf(next.text))![1]!;
      await followStatus(statusLocationOf(next.text), { headers: as('student') });
      // The charge follows the job's end (a batch system's accounting may lag it).
      await until(async () => (await s.services.store.get(id))!.chargedCoreSeconds !== null);
    }
    const job = await s.services.store.list({ owner: 'student', limit: 10, offset: 0 });
    for (const j of job.jobs) {
      expect(j.reservedCoreSeconds).toBe(600);
      expect(j.chargedCoreSeconds).not.toBeNull();
      expect(j.chargedCoreSeconds!).toBeLessThan(60);
    }
    // What the period used outlives the jobs (retention removes them after days).
    const today = new Date(new Date().toISOString().slice(0, 10));
    const before = await s.services.store.usageOf('student', today);
    expect(before.spent).toBeCloseTo(job.jobs.reduce((sum, j) => sum + j.chargedCoreSeconds!, 0), 6);
    await s.services.store.removeMany(job.jobs.map((j) => j.id));
    expect((await s.services.store.usageOf('student', today)).spent).toBeCloseTo(before.spent, 6);
  });
});

describe('usage anyone can see for themselves', () => {
  it('GET /users/me and `wps usage` give the limits and what the user uses now; /metrics has it per user', async () => {
    const r = await submit('carol', 30);
    expect(r.status).toBe(200);
    try {
      await until(async () => (await s.services.store.list({ owner: 'carol', states: ['running'], limit: 10, offset: 0 })).jobs.length === 1);
      const me = (await (await fetch(`${s.url}/users/me`, { headers: as('carol') })).json()) as Record<string, any>;
      expect(me).toMatchObject({
        user: 'carol',
        groups: [],
        admin: false,
        authentication: true,
        quota: { running: 10, waiting: 10, coreHours: 0.75, period: 'month' },
        usage: { jobsUnfinished: 1, jobsRunning: 1, coreHoursHeld: 0.167 },
      });
      const cli = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, ['dist/src/cli/wps.js', '--url', s.wps, '--token', 'wps_carol-token-0123456789', 'usage'], (err, stdout) => resolve({ code: err ? 1 : 0, stdout })),
      );
      expect(cli.code).toBe(0);
      // And for the operator, per user (metrics.perUser); series that name users only for admins.
      const anonymous = await (await fetch(`${s.url}/metrics`)).text();
      expect(anonymous).toContain('wps_queue_depth');
      expect(anonymous).not.toContain('wps_user_');
      expect(await (await fetch(`${s.url}/metrics`, { headers: as('carol') })).text()).not.toContain('wps_user_');
      const metrics = await (await fetch(`${s.url}/metrics`, { headers: as('operator') })).text();
      expect(metrics).toContain('wps_user_jobs_unfinished{user="carol"} 1');
      expect(metrics).toContain('wps_user_jobs_running{user="carol"} 1');
      expect(metrics).toContain('wps_user_core_seconds_held{user="carol"} 600');
      expect(metrics).toMatch(/wps_user_core_seconds_used\{user="student"\} [\d.]+/);
      expect(cli.stdout).toMatch(/^carol: 1 jobs running \(10\), 0 waiting \(10\)\ncore-hours since \d{4}-\d\d-01T00:00:00.000Z: [\d.]+ used, 0.167 held by unfinished jobs, of 0.75 per month\n$/);
    } finally {
      await dismissAll('carol');
    }
  });
});

describe('the running quota at dispatch', () => {
  it('does not count a job handed over before (a restart) against itself', async () => {
    const { store } = s.services;
    const id = randomUUID();
    expect(await store.insertIfRoom({ id, processId: 'sleep', request: {}, message: 'x', owner: 'erin', ownerGroups: [], reservedCoreSeconds: 600, cores: 1 }, 1000)).toBe(true);
    const running = { owner: 'erin', max: 1 };
    const first = await store.prepareDispatch(id, 'slurm', 'hash-1', undefined, running);
    expect(first).toMatchObject({ id });
    // The dispatcher stopped before the batch system answered; another prepares it again.
    const again = await store.prepareDispatch(id, 'slurm', 'hash-2', undefined, running);
    expect(again).toMatchObject({ id, secretHash: 'hash-2' });
    await store.dismiss(id, 'test over');
  });
});
