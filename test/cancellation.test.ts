import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProcesses } from '../src/packages/load-processes.js';
import type { RunnerInfo } from '../src/runner-contract.js';
import { isSameProcessAlive } from '../src/scheduler/local/proc.js';
import { expectAllValid, followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { get, parseXml } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * A job that is dismissed or runs past its wall time is asked to stop (SIGTERM to its
 * process group, its handler's signal aborts) and killed only after the grace period.
 * The processes live in a package file of the test's own, so warm runners load them.
 */
const api = pathToFileURL(resolve('dist/src/index.js')).href;
const PACKAGE = `
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineProcess, literalInput, literalOutput } from '${api}';

const dir = literalInput('dir', { title: 'Where to write', dataType: 'string' });
const out = literalOutput('out', { title: 'Out', dataType: 'string' });

/** Works until told to stop, then writes what it has and removes its scratch files. */
export const careful = defineProcess({
  identifier: 'careful', title: 'Careful', inputs: [dir], outputs: [out],
  async handler({ inputs, signal, progress }) {
    const at = inputs.literal('dir').value;
    mkdirSync(join(at, 'scratch'), { recursive: true });
    writeFileSync(join(at, 'scratch', 'part'), 'x');
    progress(10, 'working');
    let steps = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => steps++, 20);
      signal.addEventListener('abort', () => { clearInterval(timer); resolve(); }, { once: true });
    });
    writeFileSync(join(at, 'partial.txt'), 'stopped cleanly after ' + steps + ' steps: ' + signal.reason.message);
    rmSync(join(at, 'scratch'), { recursive: true });
    throw signal.reason;
  },
});

/** Ignores being asked. */
export const stubborn = defineProcess({
  identifier: 'stubborn', title: 'Stubborn', inputs: [dir], outputs: [out],
  async handler({ progress }) {
    progress(10, 'not listening');
    await new Promise(() => undefined);
  },
});
`;

let s: TestServer;
beforeAll(async () => {
  const file = join(tempDir('wps-cancel-package-'), 'index.mjs');
  writeFileSync(file, PACKAGE);
  s = await startTestServer({ jobs: { wallTime: 3, killGrace: 1, parallel: 2 } }, await loadProcesses([file]));
});
afterAll(() => s?.close());

const submit = async (process: string, dir: string) =>
  statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&storeExecuteResponse=true&status=true&identifier=${process}&DataInputs=dir=${encodeURIComponent(dir)}`)).text);
const idOf = (location: string) => /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
const runnerOf = (location: string): RunnerInfo => JSON.parse(readFileSync(join(s.config.jobsDir, idOf(location), 'runner.json'), 'utf8')) as RunnerInfo;
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await wait(25);
  }
}
const started = (location: string) => until('started', async () => statusOf(await (await fetch(location)).text()).name === 'ProcessStarted');

describe('stopping a job lets it end cleanly', () => {
  it('a dismissed job gets SIGTERM: its handler sees the abort, writes what it has and cleans up', async () => {
    const dir = tempDir('wps-careful-');
    const location = await submit('careful', dir);
    await started(location);
    const dismissed = await fetch(`${s.url}/jobs/${idOf(location)}`, { method: 'DELETE' });
    expect(dismissed.status).toBe(200);
    // The handler writes its partial result, then removes its scratch files.
    await until('the scratch files removed', () => !existsSync(join(dir, 'scratch')));
    expect(readFileSync(join(dir, 'partial.txt'), 'utf8')).toMatch(/^stopped cleanly after \d+ steps: The job was stopped \(SIGTERM\) before it finished$/);
    const final = (await followStatus(location)).at(-1)!;
    expect(final.name).toBe('ProcessFailed');
    expect(parseXml(final.xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText).toMatch(/dismissed/);
    // The runner ended the job and went; another takes its place.
    const runner = runnerOf(location);
    await until('the runner gone', () => !isSameProcessAlive(runner.pid, runner.startTicks));
  });

  it('a job past its wall time is stopped the same way and fails for that reason', async () => {
    const dir = tempDir('wps-careful-');
    const location = await submit('careful', dir);
    const views = await followStatus(location, { timeoutMs: 15_000 });
    await expectAllValid(views);
    const text = parseXml(views.at(-1)!.xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText;
    expect(text).toBe('The job was stopped: it exceeded its wall-clock limit of 3 s');
    expect(readFileSync(join(dir, 'partial.txt'), 'utf8')).toMatch(/^stopped cleanly/);
    expect(existsSync(join(dir, 'scratch'))).toBe(false);
  });

  it('a job that ignores SIGTERM is killed with its process group after the grace period', async () => {
    const location = await submit('stubborn', tempDir('wps-stubborn-'));
    await started(location);
    const runner = runnerOf(location);
    const asked = Date.now();
    expect((await fetch(`${s.url}/jobs/${idOf(location)}`, { method: 'DELETE' })).status).toBe(200);
    await until('the runner killed', () => !isSameProcessAlive(runner.pid, runner.startTicks));
    // Not before the grace period of 1 s: it was asked first.
    expect(Date.now() - asked).toBeGreaterThanOrEqual(900);
    expect((await followStatus(location)).at(-1)!.name).toBe('ProcessFailed');
  });
});
