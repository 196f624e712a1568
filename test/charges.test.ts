import { execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { get } from './helpers/http.js';
import { available, type BatchSystem } from './helpers/schedulers.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * A job on a batch system is charged against its owner's budget what the batch system's
 * own accounting says it used: GridEngine's qacct (ru_wallclock × slots), Slurm's sacct
 * (CPUTimeRAW).
 */
const TOKEN = 'wps_dana-token-0123456789';

async function until<T>(what: string, get: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What the batch system's accounting says the job used, in core-seconds. */
function accounted(system: BatchSystem, id: string): number {
  if (system === 'gridengine') {
    const out = execFileSync('qacct', ['-j', id], { encoding: 'utf8' });
    const field = (name: string) => Number(new RegExp(`^${name}\\s+([0-9.]+)`, 'm').exec(out)![1]);
    return field('ru_wallclock') * field('slots');
  }
  return Number(execFileSync('sacct', ['-n', '-X', '-P', '-j', id, '-o', 'CPUTimeRAW'], { encoding: 'utf8' }).trim());
}

describe.each(['gridengine', 'slurm'] as const)('charges on %s', (system) => {
  const runs = available(system);
  let s: TestServer;
  beforeAll(async () => {
    if (!runs) return;
    s = await startTestServer(
      {
        auth: { tokens: [{ user: 'dana', token: TOKEN }] },
        quotas: { default: { coreHours: 10 } },
        scheduler: { default: system, processes: { sleep: { wallTime: 120 } } },
        jobs: { monitorInterval: 0.25 },
      },
      undefined,
      { store: 'postgres' },
    );
  }, 60_000);
  afterAll(() => s?.close());

  it.runIf(runs)('are what the accounting says the job used, not what it held', async () => {
    const r = await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&storeExecuteResponse=true&status=true&DataInputs=delay=2`, {
      authorization: `Bearer ${TOKEN}`,
    });
    const location = statusLocationOf(r.text);
    const id = /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
    await followStatus(location, { timeoutMs: 60_000, headers: { authorization: `Bearer ${TOKEN}` } });
    const job = await until('the charge', async () => {
      const j = await s.services.store.get(id);
      return j?.chargedCoreSeconds !== null ? j : undefined;
    });
    expect(job.reservedCoreSeconds).toBe(120);
    expect(job.chargedCoreSeconds).toBe(accounted(system, job.schedulerJobId!));
    expect(job.chargedCoreSeconds!).toBeGreaterThanOrEqual(2);
    expect(job.chargedCoreSeconds!).toBeLessThan(120);
    const usage = await s.services.store.usageOf('dana', new Date(Date.now() - 86_400_000));
    expect(usage.spent).toBe(job.chargedCoreSeconds);
  });
});

describe.each(['gridengine', 'slurm'] as const)('jobs as their owner’s Unix account on %s (scheduler.runAsUser)', (system) => {
  const runs = available(system);
  const ALICE = 'wps_wpsalice-token-0123456789';
  let s: TestServer;
  beforeAll(async () => {
    if (!runs) return;
    // Shared storage the owner's runner can reach (a test directory is private by default).
    const shared = tempDir('wps-run-as-');
    chmodSync(shared, 0o755);
    s = await startTestServer(
      {
        auth: { tokens: [{ user: 'wpsalice', token: ALICE }] },
        scheduler: { default: system, runAsUser: true, processes: { sleep: { wallTime: 120 } } },
        jobs: { monitorInterval: 0.25, dir: join(shared, 'jobs') },
        storage: { dir: join(shared, 'outputs') },
      },
      undefined,
      { store: 'postgres' },
    );
  }, 60_000);
  afterAll(() => s?.close());

  it.runIf(runs)('is submitted through sudo as the owner, runs as them, and ends as any job', async () => {
    const r = await get(
      `${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=wordcounter&storeExecuteResponse=true&status=true&DataInputs=text=a%20b%20a@mimeType=text/plain&ResponseDocument=output@asReference=true`,
      { authorization: `Bearer ${ALICE}` },
    );
    const location = statusLocationOf(r.text);
    const id = /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
    const views = await followStatus(location, { timeoutMs: 60_000 });
    expect(views.at(-1)!.name, views.at(-1)!.xml).toBe('ProcessSucceeded');
    const schedulerJobId = (await s.services.store.get(id))!.schedulerJobId!;
    const owner =
      system === 'gridengine'
        ? /^owner\s+(\S+)/m.exec(await until('qacct', async () => { try { return execFileSync('qacct', ['-j', schedulerJobId], { encoding: 'utf8' }); } catch { return undefined; } }))![1]
        : execFileSync('sacct', ['-n', '-X', '-P', '-j', schedulerJobId, '-o', 'User'], { encoding: 'utf8' }).trim();
    expect(owner).toBe('wpsalice');
    // Its output, written by the owner's runner, is served as any other.
    const href = /href="([^"]+)"/.exec(views.at(-1)!.xml)![1]!;
    expect(JSON.parse(await (await fetch(href)).text())).toEqual({ total: 3, counts: { a: 2, b: 1 } });
    // Its job directory is the owner's alone.
    const info = statSync(s.services.files.dir(id));
    expect({ uid: info.uid, mode: info.mode & 0o777 }).toEqual({ uid: Number(execFileSync('id', ['-u', 'wpsalice'], { encoding: 'utf8' })), mode: 0o700 });
  });
});
