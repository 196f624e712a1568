/**
 * Accepted-response latency under many concurrent submitters: wrk keeps N connections
 * submitting asynchronous zero-delay `sleep` jobs for the whole run, each sending the
 * next as soon as its last was answered, while the server runs the jobs. A fresh
 * server per store, with room for every job (the waiting limit raised).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { BENCH_DATABASE_URL, dropBenchSchema, settleDisk, startNode, stopNode, wrk, type WrkResult } from './harness.js';

export async function benchSubmitters(store: 'postgres' | 'pglite', connections: number, seconds: number): Promise<WrkResult> {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'wps-bench-submit-'));
  const schema = `bench_submit_${Date.now()}`;
  const server = await startNode(
    'dist/src/cli/main.js',
    ['serve'],
    {
      PORT: String(port),
      WPS_DATA_DIR: data,
      UV_THREADPOOL_SIZE: '16',
      WPS_LOG_LEVEL: 'warn',
      WPS_MAX_WAITING_JOBS: '1000000',
      ...(store === 'postgres' ? { DATABASE_URL: BENCH_DATABASE_URL, WPS_DB_SCHEMA: schema } : {}),
    },
    port,
  );
  try {
    await settleDisk();
    const url = `http://127.0.0.1:${port}/wps?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=0&storeExecuteResponse=true&status=true`;
    return await wrk(`${connections} submitters, ${store}`, url, { threads: 1, connections, seconds });
  } finally {
    await stopNode(server);
    if (store === 'postgres') await dropBenchSchema(schema);
    rmSync(data, { recursive: true, force: true });
  }
}
