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

/**
 * The batch system's accounting record of our job (its number may have been given out
 * before, by a controller that lost its state): its user and the core-seconds it used.
 */
function accounting(system: BatchSystem, id: string, jobId: string): { user: string; used: number } | undefined {
  try {
    if (system === 'gridengine') {
      const out = execFileSync('qacct', ['-j', id], { encoding: 'utf8' });
      const record = out.split(/^=+$/m).find((r) => r.includes(jobId));
      if (!record) return undefined;
      const field = (name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(record)![1]!;
      return { user: field('owner'), used: Number.parseFloat(field('ru_wallclock')) * Number(field('slots')) };
    }
    const out = execFileSync('sacct', ['-n', '-X', '-P', '--duplicates', '-j', id, '-o', 'JobName%200,User,State,CPUTimeRAW'], { encoding: 'utf8' });
    const [, user, state, used] = out.split('\n').find((l) => l.includes(jobId))?.split('|') ?? [];
    return user && state && !/PENDING|RUNNING/.test(state) ? { user, used: Number(used) } : undefined;
  } catch {
    return undefined;
  }
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
    expect(job.chargedCoreSeconds).toBe(accounting(system, job.schedulerJobId!, id)!.used);
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
    const record = await until('the accounting record', async () => accounting(system, schedulerJobId, id));
    expect(record.user).toBe('wpsalice');
    // Its output, written by the owner's runner, is served as any other.
    const href = /href="([^"]+)"/.exec(views.at(-1)!.xml)![1]!;
    expect(JSON.parse(await (await fetch(href)).text())).toEqual({ total: 3, counts: { a: 2, b: 1 } });
    // Its job directory is the owner's alone.
    const info = statSync(s.services.files.dir(id));
    expect({ uid: info.uid, mode: info.mode & 0o777 }).toEqual({ uid: Number(execFileSync('id', ['-u', 'wpsalice'], { encoding: 'utf8' })), mode: 0o700 });
  });
});
