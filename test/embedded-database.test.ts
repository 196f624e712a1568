import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/jobs/embedded-postgres.js';
import { silentLog } from '../src/log.js';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { spawnServer, type ChildServer } from './helpers/child-server.js';
import { freePort, pgliteCopy } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const socketDirOf = (url: string) => decodeURIComponent(new URL(url).searchParams.get('host')!);

/** The embedded database's host: the server's child running `embedded-db`. */
function hostOf(server: ChildServer): number | undefined {
  const children = readFileSync(`/proc/${server.child.pid}/task/${server.child.pid}/children`, 'utf8').trim().split(/\s+/);
  return children.map(Number).find((pid) => pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('embedded-db'));
}

const gone = (pid: number) => !existsSync(`/proc/${pid}`);

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await wait(50);
  }
}

describe('the embedded database', () => {
  it('serves several clients, one transaction at a time, and lets an operator look in with psql', async () => {
    const dir = await pgliteCopy();
    const embedded: EmbeddedPostgres = await startEmbeddedPostgres(dir, silentLog);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => embedded.stop());
    const client = async () => {
      const c = new pg.Client({ connectionString: embedded.url });
      c.on('error', () => undefined);
      await c.connect();
      cleanups.push(() => c.end().catch(() => undefined));
      return c;
    };
    const [a, b, c] = [await client(), await client(), await client()];
    await a.query('CREATE TABLE t (id int PRIMARY KEY, v text)');

    await a.query('BEGIN');
    await a.query('INSERT INTO t VALUES ($1, $2)', [1, 'one']);
    const seenByB = b.query('SELECT count(*)::int AS n FROM t');
    await wait(100);
    await a.query('INSERT INTO t VALUES ($1, $2)', [2, 'two']);
    await a.query('COMMIT');
    expect((await seenByB).rows).toEqual([{ n: 2 }]);

    // A failed statement in the extended protocol, then the session carries on.
    await expect(a.query('SELECT $1::int', ['not a number'])).rejects.toThrow(/invalid input syntax/);
    expect((await a.query('SELECT v FROM t WHERE id = $1', [2])).rows).toEqual([{ v: 'two' }]);

    // A client that goes away inside a transaction leaves nothing of it behind.
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (3, $1)', ['three']);
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await b.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
    await b.query('INSERT INTO t VALUES (3, $1)', ['three, for real']);

    const psql = await new Promise<string>((resolve, reject) =>
      execFile('psql', [embedded.url, '-Atc', 'SELECT count(*) FROM t; SELECT count(*) FROM jobs'], (err, out, errOut) =>
        err ? reject(new Error(errOut)) : resolve(out),
      ),
    );
    expect(psql).toBe('3\n0\n');

    await embedded.stop();
    expect(existsSync(socketDirOf(embedded.url))).toBe(false);
    expect(existsSync(join(dir, 'wps-embedded-db.pid'))).toBe(false);
  });

  it('is started again when it dies; the server carries on, and takes it down when killed', async () => {
    const data = tempDir('wps-embedded-');
    const port = await freePort();
    const server = await spawnServer({ PORT: String(port), WPS_DATA_DIR: data });
    cleanups.push(() => server.stop());
    const base = `http://127.0.0.1:${port}`;
    const first = hostOf(server)!;
    expect(first).toBeGreaterThan(0);

    process.kill(first, 'SIGKILL');
    await until('the server starts another host', () => {
      const now = hostOf(server);
      return now !== undefined && now !== first && server.output().includes('embedded database stopped; starting it again');
    });
    await until('the server is ready', () => fetch(`${base}/ready`).then((r) => r.status === 200, () => false));
    const accepted = await fetch(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=0&storeExecuteResponse=true&status=true`);
    expect(accepted.status).toBe(200);
    const views = await followStatus(statusLocationOf(await accepted.text()));
    expect(views.at(-1)!.name).toBe('ProcessSucceeded');

    const second = hostOf(server)!;
    await server.kill9();
    await until('the host follows the server', () => gone(second), 10_000);
    expect(existsSync(join(data, 'db', 'wps-embedded-db.pid'))).toBe(false);
  });

  it('is never opened by two servers at once: a second server waits for the first, then refuses', async () => {
    const data = tempDir('wps-embedded-');
    const first = await spawnServer({ PORT: String(await freePort()), WPS_DATA_DIR: data });
    cleanups.push(() => first.stop());
    const holder = hostOf(first)!;
    const t0 = Date.now();
    const refused = await spawnServer({ PORT: String(await freePort()), WPS_DATA_DIR: data }).then(
      (s) => (cleanups.push(() => s.stop()), ''),
      (err: Error) => err.message,
    );
    expect(refused).toContain(`the embedded database in ${join(data, 'db')} is in use by process ${holder}`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(14_000);

    // Once the first has stopped, a server opens it at once.
    await first.stop();
    const next = await spawnServer({ PORT: String(await freePort()), WPS_DATA_DIR: data });
    cleanups.push(() => next.stop());
    expect(hostOf(next)).toBeGreaterThan(0);
    // The second server waits 15 s by design before it refuses; three starts on a busy machine add to it.
  }, 60_000);
});
