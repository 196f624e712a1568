/** What the benchmarks share: starting a built server, and measuring with wrk. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import knexPkg from 'knex';

/** Postgres for the benchmarks that use one: TEST_DATABASE_URL or the local one. */
export const BENCH_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface WrkResult {
  name: string;
  rps: number;
  p50: string;
  p99: string;
  errors: string;
}

export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, out, errOut) => (err ? reject(new Error(`${cmd}: ${err.message}\n${errOut}`)) : resolve(out))),
  );
}

/**
 * Node's flags for a server, as `npm start` and the Docker image run it. V8's memory
 * reducer, which shrinks the heap once a process has been idle for a few seconds, left
 * the server 25 % slower for good afterwards (GetCapabilities ~25,000 instead of ~33,000
 * req/s, measured in 9 of 11 runs that idled at start; 0 of 4 with the reducer off).
 */
export const SERVER_NODE_FLAGS = ['--no-memory-reducer'];

/** Starts a Node script (a server, as it is run in service) and waits until it answers /health on the port. */
export async function startNode(script: string, args: string[], env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300; i++) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false)) return child;
    await wait(100);
  }
  child.kill();
  throw new Error(`${script} did not start`);
}

export async function stopNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function requireWrk(): Promise<void> {
  await run('wrk', ['--version']).catch((err: Error) => {
    if (/ENOENT/.test(err.message)) throw new Error('wrk is not installed: apt-get install wrk');
  });
}

function parseWrk(name: string, out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = /\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '?';
  const p99 = /\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '?';
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1];
  const socket = /Socket errors:([^\n]+)/.exec(out)?.[1]?.trim();
  return { name, rps, p50, p99, errors: [non2xx ? `${non2xx} non-2xx` : '', socket ?? ''].filter(Boolean).join('; ') || '0' };
}

/**
 * Waits until the file systems have written out what earlier measurements left dirty.
 * This machine kind's ext4 volume has no journal, and without one ext4 will not reuse
 * an inode freed in the last 60 s, or 360 s while its inode table block is still dirty
 * (`recently_deleted()` in fs/ext4/ialloc.c): every file created in that block group
 * first steps over each such inode, one buffer lookup apiece. After thousands of files
 * were deleted nearby, a create took ~1 ms instead of 0.02 ms (perf: the time is in
 * `find_inode_bit` → `recently_deleted`); writing the table blocks out shortens the wait.
 */
export async function settleDisk(): Promise<void> {
  await run('sync', []);
}

const benchDirectories: string[] = [];

/**
 * A directory for one measurement's server under `os.tmpdir()`, removed when the
 * benchmark process ends rather than after that measurement: deleting a server's tens
 * of thousands of job files would slow every file created near them for minutes after
 * (see `settleDisk`), that is, the next measurement's.
 */
export function benchDirectory(prefix: string): string {
  if (benchDirectories.length === 0) {
    process.once('exit', () => {
      for (const dir of benchDirectories) rmSync(dir, { recursive: true, force: true });
    });
    process.once('SIGINT', () => process.exit(130));
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  benchDirectories.push(dir);
  return dir;
}

/** wrk against a URL, after a short unrecorded run (JIT and caches warm, as in service) unless `warm` says it is. */
export async function wrk(
  name: string,
  url: string,
  o: { threads: number; connections: number; seconds: number; warm?: boolean; headers?: string[]; script?: string },
): Promise<WrkResult> {
  const common = [`-t${o.threads}`, `-c${o.connections}`, ...(o.headers ?? []).flatMap((h) => ['-H', h]), ...(o.script ? ['-s', o.script] : [])];
  if (!o.warm) await run('wrk', [...common, '-d2s', url]);
  return parseWrk(name, await run('wrk', [...common, `-d${o.seconds}s`, '--latency', url]));
}

/** Removes a benchmark's own Postgres schema. */
export async function dropBenchSchema(schema: string): Promise<void> {
  const admin = knexPkg.knex({ client: 'pg', connection: BENCH_DATABASE_URL });
  try {
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  } finally {
    await admin.destroy();
  }
}
