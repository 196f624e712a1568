import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processes } from '../processes/index.js';
import type { ConfigFile } from '../src/config.js';
import { loadProcesses } from '../src/packages/load-processes.js';
import { expectAllValid, followStatus, statusLocationOf } from './helpers/async.js';
import { get, parseXml, post } from './helpers/http.js';
import { runPython } from './helpers/python.js';
import { executeXml, literal } from './helpers/requests.js';
import { available, SSH_DIR, SSH_PORT, sshAvailable, type BatchSystem } from './helpers/schedulers.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const combos: [BatchSystem, 'local' | 'ssh'][] = [
  ['gridengine', 'local'],
  ['slurm', 'local'],
  ['gridengine', 'ssh'],
  ['slurm', 'ssh'],
];

/** Is the job in the batch system's own queue listing right now? */
function listed(system: BatchSystem, schedulerJobId: string): string | undefined {
  if (system === 'gridengine') {
    const out = execFileSync('qstat', ['-u', '*'], { encoding: 'utf8' });
    return out.split('\n').find((l) => l.trim().split(/\s+/)[0] === schedulerJobId)?.trim().split(/\s+/)[4];
  }
  const out = execFileSync('squeue', ['-h', '-j', schedulerJobId, '-o', '%T'], { encoding: 'utf8' }).trim();
  return out || undefined;
}

const killOutside = (system: BatchSystem, id: string) =>
  execFileSync(system === 'gridengine' ? 'qdel' : 'scancel', [id], { stdio: 'ignore' });

describe.each(combos)('jobs on %s (commands %s)', (system, via) => {
  const runs = available(system) && (via === 'local' || sshAvailable());
  let s: TestServer;
  beforeAll(async () => {
    if (!runs) return;
    // A short wall-clock limit only where a test outlives it: a job's own start (a node
    // runner, loading) takes seconds on a busy host, and the batch system counts them too.
    const scheduler: NonNullable<ConfigFile['scheduler']> = { default: system, processes: { sleep_for: { wallTime: 4 } } };
    if (via === 'ssh') {
      scheduler.ssh = {
        // A command node that never answers comes first: it is skipped.
        nodes: [
          { host: '127.0.0.1', port: 1, user: 'root', key: join(SSH_DIR, 'id_ed25519') },
          { host: '127.0.0.1', port: SSH_PORT, user: 'root', key: join(SSH_DIR, 'id_ed25519') },
        ],
        knownHosts: join(SSH_DIR, 'known_hosts'),
      };
    }
    // The demo processes and the CWL tools (whose runner on the node loads the .cwl file the job names).
    s = await startTestServer({ scheduler, jobs: { monitorInterval: 0.5, wallGrace: 2, parallel: 4 } }, [...processes, ...(await loadProcesses([resolve('test/cwl')]))], { store: 'postgres' });
  }, 60_000);
  afterAll(() => s?.close());

  const submit = async (q: string) =>
    statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&storeExecuteResponse=true&status=true&${q}`)).text);
  const jobOf = async (location: string) => (await s.services.store.get(/([0-9a-f-]{36})\.xml$/.exec(location)![1]!))!;
  const failureText = (xml: string) => parseXml(xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText as string;

  it.runIf(runs)('OWSLib runs sleep asynchronously: visible in the batch queue, ProcessStarted, then ProcessSucceeded', async () => {
    const owslib = runPython('test/interop/owslib_async.py', [s.wps, '2']);
    let seenInQueue: string | undefined;
    for (let i = 0; i < 100 && !seenInQueue; i++) {
      const [job] = await s.services.store.unfinished();
      if (job?.schedulerJobId) seenInQueue = listed(system, job.schedulerJobId);
      if (!seenInQueue) await wait(100);
    }
    expect(seenInQueue).toBeDefined();
    const out = JSON.parse((await owslib).trim().split('\n').pop()!);
    expect(out.status).toBe('ProcessSucceeded');
    expect(out.outputs).toEqual({ sleep_output: ['done sleeping'] });
    expect(out.seen.some((v: { status: string }) => v.status === 'ProcessStarted')).toBe(true);
    const job = await jobOf(out.statusLocation);
    expect(job).toMatchObject({ scheduler: system, state: 'succeeded' });
    expect(job.schedulerJobId).toMatch(/^\d+$/);
  }, 60_000);

  // Once per batch system: the limit is the dispatcher's, whatever carries the commands.
  if (via === 'local') it.runIf(runs)('hands the batch system no more jobs at once than jobs.parallel (4); the rest wait their turn', async () => {
    const locations = await Promise.all(Array.from({ length: 6 }, () => submit('identifier=sleep&DataInputs=delay=1')));
    let most = 0;
    for (let i = 0; i < 300; i++) {
      const handed = (await s.services.store.unfinished()).filter((j) => j.schedulerJobId).length;
      most = Math.max(most, handed);
      if ((await s.services.store.unfinished()).length === 0) break;
      await wait(50);
    }
    expect(most).toBe(4);
    for (const l of locations) {
      const views = await followStatus(l, { timeoutMs: 30_000 });
      expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
    }
  }, 60_000);

  it.runIf(runs)('show_error ends in ProcessFailed with the process message', async () => {
    const views = await followStatus(await submit('identifier=show_error'), { timeoutMs: 30_000 });
    await expectAllValid(views);
    expect(failureText(views[views.length - 1]!.xml)).toBe('This process failed intentionally.');
  });

  it.runIf(runs)(`a job ${system === 'gridengine' ? 'qdel' : 'scancel'}-ed from outside ends in ProcessFailed, with the scheduler’s verdict`, async () => {
    const location = await submit('identifier=sleep&DataInputs=delay=3');
    let job = await jobOf(location);
    for (let i = 0; i < 100 && job.state !== 'running'; i++) {
      await wait(100);
      job = await jobOf(location);
    }
    expect(job.state).toBe('running');
    killOutside(system, job.schedulerJobId!);
    const views = await followStatus(location, { timeoutMs: 30_000 });
    const final = views[views.length - 1]!;
    expect(final.name).toBe('ProcessFailed');
    expect(failureText(final.xml)).toMatch(system === 'gridengine' ? /GridEngine job \d+ ended: exit status 137.*failed/ : /Slurm job \d+ ended CANCELLED/);
  }, 40_000);

  it.runIf(runs)('a job over its wall time is failed', async () => {
    const views = await followStatus(await submit('identifier=sleep_for&DataInputs=seconds=60'), { timeoutMs: 40_000 });
    const final = views[views.length - 1]!;
    expect(final.name).toBe('ProcessFailed');
    expect(failureText(final.xml)).toMatch(
      system === 'gridengine' ? /exit status 137|h_rt|wall-clock limit of 4 s/ : /wall-clock limit of 4 s|TIMEOUT/,
    );
  }, 60_000);

  // Once per batch system: the tool's values travel in the job's spec, whatever carries the commands.
  if (via === 'local') it.runIf(runs)('a CWL tool runs through cwltool on the compute node, its output in storage', async () => {
    const message = `$(id) ; ../x`;
    const body = executeXml(
      'echo_args',
      literal('message', message) + literal('extras', '-n'),
      '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"><wps:Output asReference="true"><ows:Identifier>printed</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>',
    );
    const location = statusLocationOf((await post(s.wps, body)).text);
    const views = await followStatus(location, { timeoutMs: 60_000 });
    await expectAllValid(views);
    const final = parseXml(views.at(-1)!.xml).ExecuteResponse;
    expect(final.Status.ProcessSucceeded, views.at(-1)!.xml).toBeDefined();
    expect((await jobOf(location)).schedulerJobId).toBeTruthy();
    const href = final.ProcessOutputs.Output[0].Reference['@href'];
    expect(await (await fetch(href)).text()).toBe(`${message}\n--mode\nfast\n-n\n`);
  });

  it.runIf(runs)('values crafted for a shell reach the process unchanged and run nothing', async () => {
    const marker = join(tmpdir(), `wps-pwned-${randomUUID()}`);
    const nasty = `$(touch ${marker}) \`touch ${marker}\` ; touch ${marker} ' " \\ && | > ${marker}\nnext line`;
    const xmlEscaped = nasty.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const body = executeXml(
      'hello',
      literal('name', xmlEscaped),
      '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm>',
    );
    const views = await followStatus(statusLocationOf((await post(s.wps, body)).text), { timeoutMs: 30_000 });
    const final = parseXml(views[views.length - 1]!.xml).ExecuteResponse;
    expect(final.ProcessOutputs.Output[0].Data.LiteralData['#text']).toBe(`Hello ${nasty}`);
    const tags = await followStatus(
      await submit(`identifier=inout&DataInputs=int_in=1;bool_in=true;float_in=1;string_in=rock;tags=${encodeURIComponent(`$(touch ${marker})`)};tags=${encodeURIComponent('`id`;x')}`),
      { timeoutMs: 30_000 },
    );
    const out = parseXml(tags[tags.length - 1]!.xml).ExecuteResponse.ProcessOutputs.Output;
    expect(out.find((o: { Identifier: string }) => o.Identifier === 'tags_out').Data.LiteralData['#text']).toBe(`$(touch ${marker}),\`id\`;x`);
    expect(existsSync(marker)).toBe(false);
  }, 60_000);
});
