import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import knexPkg from 'knex';
import { inject } from 'vitest';
import { processes as defaultProcesses } from '../../processes/index.js';
import { loadConfig, type Config, type ConfigFile } from '../../src/config.js';
import { silentLog } from '../../src/log.js';
import type { ProcessDefinition } from '../../src/process/types.js';
import { startServer } from '../../src/server.js';
import { isSameProcessAlive, killGroup } from '../../src/scheduler/local/proc.js';
import { setTimeout as wait } from 'node:timers/promises';
import { openServices, type Services } from '../../src/services.js';
import { DEBIAN_GRIDENGINE } from './schedulers.js';

/** The real services every machine of this kind runs; CI fails when they are missing. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type StoreKind = 'postgres' | 'pglite';
export type QueueKind = 'in-process' | 'bullmq';

export interface TestServerOptions {
  store?: StoreKind;
  queue?: QueueKind;
  /** Run a dispatcher in the server (default true). */
  dispatch?: boolean;
}

export interface TestServer {
  url: string;
  /** The WPS endpoint. */
  wps: string;
  config: Config;
  services: Services;
  storageDir: string;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A fresh PGlite directory, copied from the migrated template the global setup made. */
export async function pgliteCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wps-pglite-'));
  await cp(inject('pgliteTemplate'), dir, { recursive: true });
  return dir;
}

/**
 * Starts the real server on a free loopback port with its own storage, job directories,
 * database (a Postgres schema of its own, or a PGlite copy) and queue name.
 */
export async function startTestServer(
  overrides: ConfigFile = {},
  processes: readonly ProcessDefinition[] = defaultProcesses,
  opts: TestServerOptions = {},
): Promise<TestServer> {
  const port = await freePort();
  const tmp = await mkdtemp(join(tmpdir(), 'wps-test-'));
  const storageDir = join(tmp, 'outputs');
  const suffix = randomBytes(6).toString('hex');
  const store = opts.store ?? 'postgres';
  const schema = `wps_test_${suffix}`;
  const database = store === 'postgres' ? { url: TEST_DATABASE_URL, schema } : { pgliteDir: await pgliteCopy() };
  const queue = opts.queue === 'bullmq' ? { redisUrl: TEST_REDIS_URL, name: `wps-test-${suffix}` } : {};
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      scheduler: { ...overrides.scheduler, gridengine: { ...DEBIAN_GRIDENGINE, ...overrides.scheduler?.gridengine } },
      server: { port, host: '127.0.0.1', baseUrl: url, ...overrides.server },
      storage: { dir: storageDir, ...overrides.storage },
      database: { ...database, ...overrides.database },
      queue: { ...queue, ...overrides.queue },
      jobs: { dir: join(tmp, 'jobs'), monitorInterval: 0.25, ...overrides.jobs },
    },
  });
  const services = await openServices(config, processes, { log: silentLog, dispatch: opts.dispatch ?? true });
  const server: Server = await startServer(services);
  return {
    url,
    wps: `${url}/wps`,
    config,
    services,
    storageDir: config.storageDir,
    async close() {
      await endSessions(services);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
      if (store === 'postgres') await dropSchema(schema);
      if (opts.queue === 'bullmq') await dropQueue(config.queueName);
      await rm(tmp, { recursive: true, force: true });
      if (store === 'pglite') await rm(config.pgliteDir, { recursive: true, force: true });
    },
  };
}

/**
 * A second server on the first one's store, queue (BullMQ) and storage, which does not
 * dispatch: what another server of a deployment sees.
 */
export async function startSecondServer(first: TestServer, overrides: ConfigFile = {}): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      server: { port, host: '127.0.0.1', baseUrl: url },
      storage: { dir: first.config.storageDir },
      database: { url: first.config.databaseUrl!, schema: first.config.databaseSchema! },
      queue: { redisUrl: first.config.redisUrl!, name: first.config.queueName },
      jobs: { dir: first.config.jobsDir, dispatch: false },
    },
  });
  const services = await openServices(config, defaultProcesses, { log: silentLog, dispatch: false });
  const server = await startServer(services);
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await services.close();
    },
  };
}

/**
 * Sessions outlive their server by design (a restarted one takes them up again): a test
 * server that closes ends its own first, as their user would, and makes sure their
 * runners and applications are gone.
 */
async function endSessions(services: Services): Promise<void> {
  const sessions = (await services.store.unfinished().catch(() => [])).filter((j) => services.registry.get(j.processId)?.session);
  for (const j of sessions) await services.lifecycle.dismiss(j.id).catch(() => undefined);
  const deadline = Date.now() + 15_000;
  for (const j of sessions) {
    const runner = await services.files.readRunner(j.id).catch(() => undefined);
    if (!runner) continue;
    while (isSameProcessAlive(runner.pid, runner.startTicks) && Date.now() < deadline) await wait(100);
    if (isSameProcessAlive(runner.pid, runner.startTicks)) killGroup(runner.pid);
  }
}

export async function dropSchema(schema: string): Promise<void> {
  const db = knexPkg.knex({ client: 'pg', connection: TEST_DATABASE_URL });
  try {
    await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  } finally {
    await db.destroy();
  }
}

export async function dropQueue(name: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys(`bull:${name}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
