import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSameProcessAlive, killGroup } from '../src/scheduler/local/proc.js';
import type { RunnerInfo } from '../src/runner-contract.js';
import { expectAllValid, followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { get, parseXml } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const idOf = (location: string) => /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
const failureText = (xml: string) => parseXml(xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText;

describe.each([true, false])('the local scheduler (warm runners: %s)', (warm) => {
  let s: TestServer;
  beforeAll(async () => {
    // A limit a short job stays well inside even when a busy host takes seconds to start its runner.
    s = await startTestServer({ jobs: { wallTime: 3, warmRunners: warm, parallel: 2 } });
  });
  afterAll(() => s.close());

  const submit = async (q: string) =>
    statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&storeExecuteResponse=true&status=true&${q}`)).text);
  const runnerOf = (location: string): RunnerInfo =>
    JSON.parse(readFileSync(join(s.config.jobsDir, idOf(location), 'runner.json'), 'utf8')) as RunnerInfo;

  it('runs a job in a process of its own, with stdout and stderr files in its directory', async () => {
    const location = await submit('identifier=hello&DataInputs=name=logs');
    const views = await followStatus(location);
    expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
    expect(runnerOf(location).pid).not.toBe(process.pid);
    for (const log of ['stdout.log', 'stderr.log']) expect(existsSync(join(s.config.jobsDir, idOf(location), log))).toBe(true);
  });

  it('stops a job at its wall-clock limit, with its whole process group, and says so', async () => {
    const location = await submit('identifier=sleep&DataInputs=delay=20');
    const started = Date.now();
    const views = await followStatus(location, { timeoutMs: 15_000 });
    await expectAllValid(views);
    const final = views[views.length - 1]!;
    expect(final.name).toBe('ProcessFailed');
    expect(failureText(final.xml)).toMatch(/exceeded its wall-clock limit of 3 s/);
    expect(Date.now() - started).toBeLessThan(8000);
    const runner = runnerOf(location);
    expect(isSameProcessAlive(runner.pid, runner.startTicks)).toBe(false);
  });

  it('a runner that crashes fails only its job; the next job runs', async () => {
    const location = await submit('identifier=sleep&DataInputs=delay=1');
    for (let i = 0; i < 100 && statusOf(await (await fetch(location)).text()).name !== 'ProcessStarted'; i++) await wait(20);
    killGroup(runnerOf(location).pid);
    const views = await followStatus(location);
    const final = views[views.length - 1]!;
    expect(final.name).toBe('ProcessFailed');
    expect(failureText(final.xml)).toMatch(/ended \(SIGKILL\)/);
    const next = await followStatus(await submit('identifier=hello&DataInputs=name=after'));
    expect(next[next.length - 1]!.name).toBe('ProcessSucceeded');
    expect((await get(`${s.wps}?service=WPS&request=GetCapabilities`)).status).toBe(200);
  });

  it('a job whose directory is removed while it runs ends failed, and its runner does not bring the directory back', async () => {
    const location = await submit('identifier=sleep&DataInputs=delay=0.5');
    for (let i = 0; i < 100 && statusOf(await (await fetch(location)).text()).name !== 'ProcessStarted'; i++) await wait(20);
    const dir = join(s.config.jobsDir, idOf(location));
    rmSync(dir, { recursive: true, force: true });
    const views = await followStatus(location);
    await expectAllValid(views);
    expect(views[views.length - 1]!.name).toBe('ProcessFailed');
    expect(failureText(views[views.length - 1]!.xml)).toMatch(/^The job ended without a result: /);
    await wait(300);
    expect(existsSync(dir)).toBe(false);
    const next = await followStatus(await submit('identifier=hello&DataInputs=name=after'));
    expect(next[next.length - 1]!.name).toBe('ProcessSucceeded');
  });

  it('a job whose directory is removed while it waits for a slot ends failed and says why', async () => {
    const busy = [await submit('identifier=sleep&DataInputs=delay=1'), await submit('identifier=sleep&DataInputs=delay=1')];
    const location = await submit('identifier=hello&DataInputs=name=late');
    const dir = join(s.config.jobsDir, idOf(location));
    for (let i = 0; i < 100 && !existsSync(join(dir, 'job.json')); i++) await wait(10);
    expect(statusOf(await (await fetch(location)).text()).name).toBe('ProcessAccepted');
    rmSync(dir, { recursive: true, force: true });
    const views = await followStatus(location);
    await expectAllValid(views);
    expect(views[views.length - 1]!.name).toBe('ProcessFailed');
    expect(failureText(views[views.length - 1]!.xml)).toBe("The job ended without a result: the job's directory is gone (the job was removed)");
    for (const b of busy) await followStatus(b);
    expect(existsSync(dir)).toBe(false);
  });
});
