import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { expectException, expectSchemaValid, get } from './helpers/http.js';
import { available } from './helpers/schedulers.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * While a job waits in the batch system, its status document and /jobs/{id} say why and
 * where it stands: Slurm's pending reason, its place among the pending jobs of its
 * partition, and the expected start where Slurm has one.
 */
const runs = available('slurm');
const ALICE = 'wps_alice-token-0123456789';
const bearer = { authorization: `Bearer ${ALICE}` };

/** Submits a sleep job and reads its status document until it says `waits`: the job's id, location and that document. */
async function submitUntilItSays(s: TestServer, waits: RegExp, headers: Record<string, string> = {}): Promise<{ id: string; location: string; xml: string }> {
  const location = statusLocationOf(
    (await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&storeExecuteResponse=true&status=true&DataInputs=delay=0`, headers)).text,
  );
  const id = /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
  let xml = '';
  const deadline = Date.now() + 20_000;
  while (!waits.test(xml)) {
    if (Date.now() > deadline) throw new Error(`no pending reason in ${xml}`);
    await new Promise((r) => setTimeout(r, 100));
    xml = await (await fetch(location)).text();
  }
  return { id, location, xml };
}

describe.runIf(runs)('a job Slurm holds', () => {
  let s: TestServer;
  beforeAll(async () => {
    // The account the group maps to, as a cluster's administrator makes it (Slurm puts a
    // job asking for an account it does not know under the user's default account).
    for (const args of [['add', 'account', 'climate-proj'], ['add', 'user', 'root', 'account=climate-proj']]) {
      try {
        execFileSync('sacctmgr', ['-i', ...args], { stdio: 'ignore' });
      } catch {
        // there already
      }
    }
    // sbatch --hold: the job waits with reason JobHeldUser until released. Its owner's
    // group maps to a Slurm account.
    s = await startTestServer(
      {
        auth: { tokens: [{ user: 'alice', token: ALICE, groups: ['climate'] }] },
        scheduler: { default: 'slurm', processes: { sleep: { wallTime: 60, nativeOptions: ['--hold'] } }, accounts: { groups: { climate: 'climate-proj' } } },
        jobs: { monitorInterval: 0.25 },
      },
      undefined,
      { store: 'postgres' },
    );
  }, 60_000);
  afterAll(() => s?.close());

  it('says why it waits and where it stands, in its status document and the jobs API, until it runs; it is charged to its owner’s account', async () => {
    const { id, location, xml } = await submitUntilItSays(s, /JobHeldUser/, bearer);
    await expectSchemaValid(xml);
    const view = statusOf(xml);
    expect(view.name).toBe('ProcessAccepted');
    expect(xml).toMatch(/Waiting in slurm \(\w+\): reason JobHeldUser, \d+ of \d+ pending/);
    const job = (await (await fetch(`${s.url}/jobs/${id}`, { headers: bearer })).json()) as { status: string; message: string };
    expect(job.status).toBe('accepted');
    expect(job.message).toMatch(/^Waiting in slurm \(\w+\): reason JobHeldUser, \d+ of \d+ pending/);

    // Released, it runs and ends as any job.
    const schedulerJobId = (await s.services.store.get(id))!.schedulerJobId!;
    expect(execFileSync('squeue', ['-h', '-j', schedulerJobId, '-o', '%a'], { encoding: 'utf8' }).trim()).toBe('climate-proj');
    execFileSync('scontrol', ['release', schedulerJobId]);
    const views = await followStatus(location, { timeoutMs: 60_000 });
    expect(views.at(-1)!.name).toBe('ProcessSucceeded');
  });
});

describe.runIf(available('gridengine'))('a job GridEngine holds', () => {
  let s: TestServer;
  beforeAll(async () => {
    // qsub -h: the job waits in hold until released.
    s = await startTestServer(
      { scheduler: { default: 'gridengine', processes: { sleep: { wallTime: 60, nativeOptions: ['-h'] } } }, jobs: { monitorInterval: 0.25 } },
      undefined,
      { store: 'postgres' },
    );
  }, 60_000);
  afterAll(() => s?.close());

  it('says it is held and where it stands among the pending jobs, until released', async () => {
    const { id, location, xml } = await submitUntilItSays(s, /reason held/);
    await expectSchemaValid(xml);
    expect(xml).toMatch(/Waiting in gridengine: reason held, \d+ of \d+ pending/);
    execFileSync('qrls', [(await s.services.store.get(id))!.schedulerJobId!]);
    const views = await followStatus(location, { timeoutMs: 60_000 });
    expect(views.at(-1)!.name).toBe('ProcessSucceeded');
  });
});

describe('what the cluster would refuse is refused at Execute', () => {
  const cases = [
    {
      system: 'slurm' as const,
      make: () => execFileSync('scontrol', ['create', 'PartitionName=wps_short', 'Nodes=ALL', 'MaxTime=1', 'State=UP']),
      remove: () => execFileSync('scontrol', ['delete', 'PartitionName=wps_short']),
      queue: 'wps_short',
      says: 'Process sleep needs 600 s of wall time; Slurm partition wps_short allows at most 60 s (MaxTime)',
    },
    {
      system: 'gridengine' as const,
      make: () => {
        const all = execFileSync('qconf', ['-sq', 'all.q'], { encoding: 'utf8' });
        const file = join(tempDir('wps-queue-'), 'wps_short.q');
        writeFileSync(file, all.replace(/^qname .*$/m, 'qname                 wps_short.q').replace(/^h_rt .*$/m, 'h_rt                  0:1:0'));
        execFileSync('qconf', ['-Aq', file], { stdio: 'ignore' });
      },
      remove: () => execFileSync('qconf', ['-dq', 'wps_short.q'], { stdio: 'ignore' }),
      queue: 'wps_short.q',
      says: 'Process sleep needs 600 s of wall time; GridEngine queue wps_short.q allows at most 60 s (h_rt)',
    },
  ];
  for (const c of cases) {
    it.runIf(available(c.system))(`on ${c.system}: a wall time over the queue's limit is InvalidParameterValue, and no job is made`, async () => {
      c.make();
      const s = await startTestServer({ scheduler: { default: c.system, processes: { sleep: { wallTime: 600, queue: c.queue } } } }, undefined, { store: 'postgres' });
      try {
        const r = await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&storeExecuteResponse=true&status=true&DataInputs=delay=0`);
        const ex = await expectException(r, 'InvalidParameterValue', 'identifier', 400);
        expect(ex.text).toBe(c.says);
        expect((await s.services.store.list({ limit: 10, offset: 0 })).total).toBe(0);
        // Other processes still run there within the limit.
        const ok = await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=x`);
        expect(ok.status).toBe(200);
      } finally {
        await s.close();
        c.remove();
      }
    }, 60_000);
  }
});
