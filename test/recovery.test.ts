import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isSameProcessAlive, killGroup } from '../src/scheduler/local/proc.js';
import type { RunnerInfo } from '../src/storage/job-files.js';
import { expectAllValid, followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { spawnCli, spawnServer, type ChildServer } from './helpers/child-server.js';
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
});
