/**
 * `npm run bench:store`: submission latency, status polling and the time of a /metrics
 * scrape (which reports the jobs by state) with an empty job store and again with
 * 1,000,000 finished jobs in it (seeded in bulk), in one run, on Postgres
 * (TEST_DATABASE_URL or the local one) and on the embedded PGlite.
 */
import { join } from 'node:path';
import { openDatabase } from '../src/jobs/db.js';
import { silentLog } from '../src/log.js';
import { freePort } from './free-port.js';
import { BENCH_DATABASE_URL as DATABASE_URL, benchDirectory, dropBenchSchema, startNode, stopNode, wrk } from './harness.js';
import { percentile, runAsyncJobs } from './async.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);

const SEED = `INSERT INTO jobs (id, process_id, request, state, percent, message, created_at, started_at, finished_at, updated_at, version)
  SELECT gen_random_uuid(), 'hello', '{"operation":"Execute","identifier":"hello","inputs":[],"responseForm":{"kind":"document","outputs":[],"storeExecuteResponse":true,"lineage":false,"status":false}}'::jsonb,
         'succeeded', 100, 'Process hello finished', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', 3
  FROM generate_series(1, ?)`;

interface Round {
  p50: number;
  p99: number;
  perJob: number;
  /** Polling one status document (wrk, 50 connections). */
  pollRps: number;
  pollP99: string;
  /** The median time of a /metrics scrape (it reports the jobs by state). */
  scrapeMs: number;
}

async function round(base: string, storage: string): Promise<Round> {
  const r = await runAsyncJobs(base, storage, 200, 10);
  const poll = await wrk('status document polling', r.anyLocation, { threads: 1, connections: 50, seconds: 5 });
  const scrapes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await (await fetch(`${base}/metrics`)).text();
    scrapes.push(performance.now() - t0);
  }
  scrapes.sort((a, b) => a - b);
  return {
    p50: r.acceptedP50Ms,
    p99: r.acceptedP99Ms,
    perJob: (r.allSucceededSeconds * 1000) / 200,
    pollRps: poll.rps,
    pollP99: poll.p99,
    scrapeMs: percentile(scrapes, 50),
  };
}

async function measure(store: 'postgres' | 'pglite'): Promise<void> {
  const port = await freePort();
  const data = benchDirectory('wps-bench-store-');
  const schema = `bench_store_${Date.now()}`;
  const env = { PORT: String(port), WPS_DATA_DIR: data, UV_THREADPOOL_SIZE: '16', WPS_LOG_LEVEL: 'warn', WPS_RETENTION: '30d', ...(store === 'postgres' ? { DATABASE_URL, WPS_DB_SCHEMA: schema } : {}) };
  const start = () => startNode('dist/src/cli/main.js', ['serve'], env, port);
  const base = `http://127.0.0.1:${port}`;
  let server = await start();
  try {
    const empty = await round(base, join(data, 'outputs'));
    await stopNode(server);
    const db = await openDatabase(store === 'postgres' ? { url: DATABASE_URL, schema } : { pgliteDir: join(data, 'db') }, silentLog);
    const t0 = Date.now();
    await db.raw(SEED, [ROWS]);
    await db.raw('ANALYZE jobs');
    await db.destroy();
    const seeded = Date.now() - t0;
    server = await start();
    const full = await round(base, join(data, 'outputs'));
    const poll = (r: Round) => `${r.pollRps.toFixed(0)}/s, p99 ${r.pollP99}`;
    console.log(
      `| ${store} | ${empty.p50.toFixed(1)} / ${empty.p99.toFixed(1)} ms | ${full.p50.toFixed(1)} / ${full.p99.toFixed(1)} ms | ${empty.perJob.toFixed(1)} ms | ${full.perJob.toFixed(1)} ms | ${poll(empty)} | ${poll(full)} | ${empty.scrapeMs.toFixed(1)} ms | ${full.scrapeMs.toFixed(1)} ms | ${(seeded / 1000).toFixed(1)} s |`,
    );
  } finally {
    await stopNode(server);
    if (store === 'postgres') await dropBenchSchema(schema);
  }
}

async function main(): Promise<void> {
  console.log(`\n200 async zero-delay jobs from 10 submitters, with an empty store and with ${ROWS} finished jobs\n`);
  console.log('| store | accepted p50 / p99, empty | accepted p50 / p99, full | wall time per job, empty | full | polling, empty | polling, full | /metrics, empty | full | seeding |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const store of ['postgres', 'pglite'] as const) await measure(store);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
