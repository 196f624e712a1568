import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, createServer } from 'node:net';
import { setTimeout as wait } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isSameProcessAlive, killGroup } from '../src/scheduler/local/proc.js';
import type { RunnerInfo } from '../src/runner-contract.js';
import { expectAllValid, followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { spawnCli, spawnServer, type ChildServer } from './helpers/child-server.js';
import { available, DEBIAN_GRIDENGINE } from './helpers/schedulers.js';
import { dropQueue, dropSchema, freePort, TEST_DATABASE_URL, TEST_REDIS_URL } from './helpers/server.js';

const running: ChildServer[] = [];
let dataDir = '';
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
  // Leave no runner behind, whatever happened.
  for (const id of safeReaddir(join(dataDir, 'jobs'))) {
    const info = readRunner(id);
    if (info && isSameProcessAlive(info.pid, info.startTicks)) killGroup(info.pid);
  }
  await rm(dataDir, { recursive: true, force: true });
});

const safeReaddir = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};
const readRunner = (id: string): RunnerInfo | undefined => {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'jobs', id, 'runner.json'), 'utf8')) as RunnerInfo;
  } catch {
    return undefined;
  }
};
const attemptsOf = (id: string) => readFileSync(join(dataDir, 'jobs', id, 'attempts'), 'utf8').trim().split('\n');
const idOf = (location: string) => /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;

async function environment(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  dataDir = await mkdtemp(join(tmpdir(), 'wps-recovery-'));
  const port = await freePort();
  return {
    PORT: String(port),
    WPS_BASE_URL: `http://127.0.0.1:${port}`,
    WPS_DATA_DIR: dataDir,
    WPS_PARALLEL_JOBS: '2',
    WPS_MONITOR_INTERVAL: '0.25',
    ...extra,
  };
}

async function submitSleeps(base: string, n: number, delay: number): Promise<string[]> {
  const locations: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=${delay}&storeExecuteResponse=true&status=true`);
    locations.push(statusLocationOf(await res.text()));
  }
  return locations;
}

async function waitStarted(locations: string[], count: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const states = await Promise.all(locations.map(async (l) => statusOf(await (await fetch(l)).text()).name));
    const started = locations.filter((_, j) => states[j] === 'ProcessStarted');
    if (started.length >= count) return started;
    await wait(50);
  }
  throw new Error('jobs did not start');
}

describe('recovery after SIGKILL', () => {
  it('killed in the middle of a burst of submissions: every job that exists ends, once, with its document', async () => {
    const env = await environment();
    const base = env.WPS_BASE_URL!;
    const server = await spawnServer(env);
    running.push(server);
    const url = `${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=0.2&storeExecuteResponse=true&status=true`;
    const accepted: string[] = [];
    const burst = Array.from({ length: 60 }, async (_, i) => {
      await wait(i * 5);
      try {
        // Bounded: Node's fetch (undici) was seen to leave requests pending for good when
        // the server was killed under them, though both ends of their connections had closed.
        const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
        accepted.push(statusLocationOf(text));
      } catch {
        // the server died under this one
      }
    });
    await wait(120);
    await server.kill9();
    running.pop();
    await Promise.all(burst);
    running.push(await spawnServer(env));
    const ids = safeReaddir(join(dataDir, 'jobs'));
    // Jobs whose rows exist: the accepted ones at least, and any whose answer was lost.
    for (const l of accepted) expect(ids.length === 0 || existsSync(join(dataDir, 'outputs', `${idOf(l)}.xml`))).toBe(true);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const list = (await (await fetch(`${base}/jobs?status=accepted,running&limit=1000`)).json()) as { numberMatched: number };
      if (list.numberMatched === 0) break;
      if (Date.now() > deadline) throw new Error(`${list.numberMatched} jobs never ended`);
      await wait(200);
    }
    const all = (await (await fetch(`${base}/jobs?limit=1000`)).json()) as { jobs: { jobID: string; status: string }[] };
    expect(all.jobs.length).toBeGreaterThanOrEqual(accepted.length);
    for (const j of all.jobs) {
      expect(j.status).toBe('successful');
      const doc = statusOf(readFileSync(join(dataDir, 'outputs', `${j.jobID}.xml`), 'utf8'));
      expect(doc.name).toBe('ProcessSucceeded');
      expect(attemptsOf(j.jobID)).toHaveLength(1);
    }
    // No document without a job: those of submissions the kill cut short were swept at restart.
    const documents = safeReaddir(join(dataDir, 'outputs')).filter((f) => f.endsWith('.xml'));
    expect(documents.sort()).toEqual(all.jobs.map((j) => `${j.jobID}.xml`).sort());
  }, 90_000);

  it('PGlite, in-process queue: waiting jobs run, running ones are re-attached, none runs twice', async () => {
    const env = await environment();
    const base = env.WPS_BASE_URL!;
    const server = await spawnServer(env);
    running.push(server);
    const locations = await submitSleeps(base, 4, 2.5);
    const started = await waitStarted(locations, 2);
    await server.kill9();
    running.pop();
    // The runners live in their own process groups and go on without the server.
    for (const l of started) {
      const info = readRunner(idOf(l))!;
      expect(isSameProcessAlive(info.pid, info.startTicks)).toBe(true);
    }
    running.push(await spawnServer(env));
    for (const l of locations) {
      const views = await followStatus(l, { timeoutMs: 30_000, intervalMs: 50 });
      await expectAllValid(views);
      expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
      expect(attemptsOf(idOf(l))).toHaveLength(1);
    }
  });

  it('a running job whose process died with the server is failed with a reason', async () => {
    const env = await environment();
    const base = env.WPS_BASE_URL!;
    const server = await spawnServer(env);
    running.push(server);
    const locations = await submitSleeps(base, 3, 3);
    const started = await waitStarted(locations, 2);
    const victim = started[0]!;
    const info = readRunner(idOf(victim))!;
    await server.kill9();
    running.pop();
    killGroup(info.pid);
    running.push(await spawnServer(env));
    const results = await Promise.all(locations.map((l) => followStatus(l, { timeoutMs: 30_000, intervalMs: 50 })));
    for (const [i, views] of results.entries()) {
      const final = views[views.length - 1]!;
      if (locations[i] === victim) {
        expect(final.name).toBe('ProcessFailed');
        expect(final.xml).toMatch(/runner is gone without leaving a result/);
      } else {
        expect(final.name).toBe('ProcessSucceeded');
      }
      expect(attemptsOf(idOf(locations[i]!))).toHaveLength(1);
    }
  });

  it.runIf(available('gridengine'))('GridEngine jobs running when the server is killed are re-attached, not submitted again', async () => {
    // GridEngine's own commands, their SGE_ROOT from the server's environment (as sites that source settings.sh have it).
    const direct: Record<string, string> = DEBIAN_GRIDENGINE ? { WPS_GRIDENGINE_COMMANDS: DEBIAN_GRIDENGINE.commands, SGE_ROOT: DEBIAN_GRIDENGINE.root, SGE_CELL: DEBIAN_GRIDENGINE.cell } : {};
    const env = await environment({ WPS_SCHEDULER: 'gridengine', WPS_MONITOR_INTERVAL: '0.5', WPS_PARALLEL_JOBS: '3', ...direct });
    const base = env.WPS_BASE_URL!;
    const server = await spawnServer(env);
    running.push(server);
    const locations = await submitSleeps(base, 3, 3);
    await waitStarted(locations, 3);
    await server.kill9();
    running.pop();
    running.push(await spawnServer(env));
    for (const l of locations) {
      const views = await followStatus(l, { timeoutMs: 40_000, intervalMs: 50 });
      expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
      expect(attemptsOf(idOf(l))).toHaveLength(1);
    }
  }, 60_000);

  it('Postgres and BullMQ with a separate dispatcher: both killed, both restarted, every job ends once', async () => {
    const queue = `wps-recovery-${Date.now()}`;
    const schema = `wps_recovery_${Date.now()}`;
    const env = await environment({
      DATABASE_URL: TEST_DATABASE_URL,
      WPS_DB_SCHEMA: schema,
      REDIS_URL: TEST_REDIS_URL,
      WPS_QUEUE_NAME: queue,
      WPS_QUEUE_LOCK: '2',
      WPS_DISPATCH: 'false',
    });
    const base = env.WPS_BASE_URL!;
    const server = await spawnServer(env);
    running.push(server);
    const dispatcher = await spawnCli(['dispatch'], env, '"dispatching"');
    running.push(dispatcher);
    const locations = await submitSleeps(base, 4, 2.5);
    await waitStarted(locations, 2);
    await dispatcher.kill9();
    await server.kill9();
    running.splice(0);
    running.push(await spawnServer(env));
    running.push(await spawnCli(['dispatch'], env, '"dispatching"'));
    try {
      for (const l of locations) {
        const views = await followStatus(l, { timeoutMs: 40_000, intervalMs: 50 });
        expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
        expect(attemptsOf(idOf(l))).toHaveLength(1);
      }
    } finally {
      for (const c of running.splice(0)) await c.stop();
      await dropSchema(schema);
      await dropQueue(queue);
    }
  }, 60_000);

  it('a ready session survives its server’s SIGKILL: the restarted server proxies it again, nothing is started twice, and it still ends', async () => {
    const env = await environment();
    const config = join(dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({
      sessions: {
        resources: [{ host: '127.0.0.1', port_range: [19400, 19409] }],
        apps: { echo: { cmd: [process.execPath, resolve('test/apps/ws-echo.mjs'), '${host}', '${port}'], ready_line: 'ws-echo listening' } },
      },
    }));
    env.WPS_CONFIG = config;
    const base = env.WPS_BASE_URL!;
    let server = await spawnServer(env);
    running.push(server);
    const location = statusLocationOf(await (await fetch(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=echo&storeExecuteResponse=true&status=true`)).text());
    let link: string | undefined;
    for (let i = 0; i < 200 && !link; i++) {
      link = /Session ready: (\S+)/.exec(statusOf(await (await fetch(location)).text()).message)?.[1];
      if (!link) await wait(50);
    }
    expect(link).toBeDefined();
    const id = idOf(location);
    const opened = await fetch(link!, { redirect: 'manual' });
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const page = () => fetch(`${base}/sessions/${id}/after`, { headers: { cookie } });
    expect((await page()).status).toBe(200);

    await server.kill9();
    running.pop();
    server = await spawnServer(env);
    running.push(server);
    const again = await page();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { url: string }).url).toBe('/after');
    expect(statusOf(await (await fetch(location)).text()).name).toBe('ProcessStarted');
    expect(attemptsOf(id)).toHaveLength(1);

    await fetch(`${base}/wps?service=WPS&request=Dismiss&version=1.0.0&jobId=${id}`);
    const views = await followStatus(location, { timeoutMs: 30_000 });
    expect(views.at(-1)!.name).toBe('ProcessFailed');
    const runner = readRunner(id)!;
    for (let i = 0; i < 100 && isSameProcessAlive(runner.pid, runner.startTicks); i++) await wait(100);
    expect(isSameProcessAlive(runner.pid, runner.startTicks)).toBe(false);
    expect((await page()).status).toBe(404);
  }, 90_000);
});

describe('a server started before its database', () => {
  it('waits for a Postgres that is not up yet, then serves', async () => {
    const schema = `wps_wait_${Date.now()}`;
    const dbPort = await freePort();
    const env = await environment({ DATABASE_URL: TEST_DATABASE_URL.replace(':5432/', `:${dbPort}/`), WPS_DB_SCHEMA: schema, WPS_DB_WAIT: '30' });
    // Nothing listens on dbPort yet: the server's first connections are refused.
    const server = await spawnCli(['serve'], env, '"database not answering yet');
    running.push(server);
    const postgres = new URL(TEST_DATABASE_URL);
    const forwarder = createServer((client) => {
      const upstream = connect(Number(postgres.port), postgres.hostname);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => forwarder.listen(dbPort, '127.0.0.1', r));
    try {
      for (let i = 0; i < 200 && !server.output().includes('"listening"'); i++) await wait(50);
      expect(server.output()).toContain('"listening"');
      const ready = await fetch(`${env.WPS_BASE_URL}/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await server.stop();
      running.splice(0);
      forwarder.close();
      await dropSchema(schema);
    }
  }, 30_000);

  it('stops at once, saying why, when the database answers with an error of another kind', async () => {
    const env = await environment({ DATABASE_URL: TEST_DATABASE_URL.replace(/\/[^/]*$/, '/wps_no_such_database'), WPS_DB_WAIT: '30' });
    const error = await spawnServer(env).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(error).toMatch(/exited with 1/);
    expect(error).toContain('wps_no_such_database');
    // Not taken for a database still starting: no waiting.
    expect(error).not.toContain('database not answering yet');
  }, 30_000);
});
