import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join, resolve as resolvePath } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSameProcessAlive } from '../src/scheduler/local/proc.js';
import type { RunnerInfo } from '../src/runner-contract.js';
import { available } from './helpers/schedulers.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

const WPS = 'dist/src/cli/wps.js';
const cacheHome = tempDir('wps-cli-cache-');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `wps` binary in a child process. */
function wps(url: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WPS, ...args], { env: { ...process.env, WPS_SERVICE: url, XDG_CACHE_HOME: cacheHome, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const jsonLines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

async function runningJob(s: TestServer, jobId: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if ((await s.services.store.get(jobId))?.state === 'running') return;
    await wait(100);
  }
  throw new Error(`job ${jobId} never ran`);
}

describe('the wps command against this server', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  it('-h lists the processes from GetCapabilities', async () => {
    const r = await wps(s.wps, ['-h']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: wps/);
    expect(r.stdout).toMatch(/^ {2}hello +Say Hello$/m);
    expect(r.stdout).toMatch(/^ {2}wordcounter +Word counter$/m);
  });

  it('a process’s -h shows its title, abstract, typed inputs, allowed values and defaults', async () => {
    const r = await wps(s.wps, ['sleep', '-h']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: wps sleep [--delay VALUE]');
    expect(r.stdout).toContain('Waits for the given number of seconds');
    expect(r.stdout).toMatch(/--delay {2}Delay: float; one of 0\.\.60; default 10/);
    const inout = await wps(s.wps, ['inout', '-h']);
    expect(inout.stdout).toMatch(/--string-in {2}Choice: string; one of rock, paper, scissors/);
    expect(inout.stdout).toMatch(/--tags {2}Tags: string; optional; up to 3 times/);
    expect(inout.stdout).toMatch(/--float-in {2}Length: float; units metre\|feet/);
  });

  it('runs hello synchronously and prints the output', async () => {
    const r = await wps(s.wps, ['hello', '--name', 'Birdy']);
    expect(r).toMatchObject({ code: 0, stdout: 'output: Hello Birdy\n' });
    const j = await wps(s.wps, ['--json', 'hello', '--name=Birdy']);
    expect(jsonLines(j.stdout)).toEqual([{ event: 'result', status: 'ProcessSucceeded', outputs: { output: 'Hello Birdy' } }]);
  });

  it('runs sleep with --async --json: progress events, then the result', async () => {
    const r = await wps(s.wps, ['sleep', '--delay', '1.5', '--async', '--json']);
    expect(r.code).toBe(0);
    const events = jsonLines(r.stdout);
    expect(events[0]).toMatchObject({ event: 'status', status: 'ProcessAccepted' });
    const percents = events.filter((e) => e.status === 'ProcessStarted').map((e) => e.percent as number);
    expect(new Set(percents).size).toBeGreaterThanOrEqual(2);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(events[events.length - 1]).toMatchObject({ event: 'result', status: 'ProcessSucceeded', outputs: { sleep_output: 'done sleeping' } });
  });

  it('follows a job through its event stream, not by polling, where the server has one', async () => {
    const r = await new Promise<Run>((resolve) =>
      execFile(process.execPath, ['--import', resolvePath('test/helpers/fetch-spy.mjs'), WPS, 'sleep', '--delay', '1', '--async', '--json'], { env: { ...process.env, WPS_SERVICE: s.wps, XDG_CACHE_HOME: cacheHome } }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(r.code).toBe(0);
    const fetched = r.stderr.split('\n').filter((l) => l.startsWith('fetch '));
    expect(fetched.filter((l) => /^fetch text\/event-stream .*\/jobs\/[0-9a-f-]{36}$/.test(l))).toHaveLength(1);
    // The status document once, for the outputs at the end.
    expect(fetched.filter((l) => /\/outputs\/[0-9a-f-]{36}\.xml$/.test(l))).toHaveLength(1);
    expect(jsonLines(r.stdout).filter((e) => e.status === 'ProcessStarted').length).toBeGreaterThanOrEqual(2);
  });

  it('sends a complex input from a file, and saves complex outputs with --output-dir', async () => {
    const dir = tempDir('wps-cli-');
    writeFileSync(join(dir, 'words.txt'), 'To be, or not to be');
    const r = await wps(s.wps, ['wordcounter', '--text', join(dir, 'words.txt')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.replace(/^output:\n/, ''))).toEqual({ total: 6, counts: { to: 2, be: 2, or: 1, not: 1 } });
    const saved = await wps(s.wps, ['wordcounter', '--text', join(dir, 'words.txt'), '--output-dir', join(dir, 'out')]);
    expect(saved.stdout).toBe(`output: saved to ${join(dir, 'out', 'output.json')}\n`);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'output.json'), 'utf8')).total).toBe(6);
  });

  it('an invalid value exits non-zero with the server’s exception code and text', async () => {
    const r = await wps(s.wps, ['inout', '--int-in', '11', '--bool-in', 'true', '--float-in', '1', '--string-in', 'rock']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('wps: the server refused: InvalidParameterValue (int_in): Input int_in: 11 is not one of the allowed values ([1, 10])\n');
    const failed = await wps(s.wps, ['show_error']);
    expect(failed).toMatchObject({ code: 1, stderr: 'ProcessFailed: NoApplicableCode: This process failed intentionally.\n' });
    expect((await wps(s.wps, ['hello', '--nmae', 'x'])).code).toBe(2);
    expect((await wps(`http://127.0.0.1:${1 + 40000}/wps`, ['hello', '--name', 'x'])).code).toBe(4);
  });

  it('--no-wait prints where to look; jobs, status and logs show the job; dismiss stops it', async () => {
    const r = await wps(s.wps, ['sleep', '--delay', '30', '--async', '--no-wait', '--json']);
    const { jobID, statusLocation } = jsonLines(r.stdout)[0]!;
    expect(statusLocation).toContain(jobID);
    await runningJob(s, jobID);
    const list = await wps(s.wps, ['jobs', '--status', 'running']);
    expect(list.stdout).toMatch(new RegExp(`^${jobID} +running`, 'm'));
    const status = jsonLines((await wps(s.wps, ['--json', 'status', jobID])).stdout)[0]!;
    expect(status).toMatchObject({ jobID, processID: 'sleep', status: 'running' });
    const runner = JSON.parse(readFileSync(join(s.config.jobsDir, jobID, 'runner.json'), 'utf8')) as RunnerInfo;
    const d = await wps(s.wps, ['dismiss', jobID]);
    expect(d).toMatchObject({ code: 0, stdout: `${jobID}: The job was dismissed by the client\n` });
    for (let i = 0; i < 100 && isSameProcessAlive(runner.pid, runner.startTicks); i++) await wait(50);
    expect(isSameProcessAlive(runner.pid, runner.startTicks)).toBe(false);
    expect(jsonLines((await wps(s.wps, ['--json', 'status', jobID])).stdout)[0]).toMatchObject({ status: 'dismissed' });
    const again = await wps(s.wps, ['dismiss', jobID]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/InvalidParameterValue \(jobId\): .*already been dismissed/);
    const logs = await wps(s.wps, ['logs', jobID]);
    expect(logs.stdout).toMatch(/^--- stdout ---\n[\s\S]*--- stderr ---\n/);
  });
});

describe.runIf(available('gridengine'))('the wps command with GridEngine behind the server', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ scheduler: { default: 'gridengine' }, jobs: { monitorInterval: 0.5 } });
  });
  afterAll(() => s.close());

  it('dismissing a running job removes it from GridEngine', async () => {
    const { jobID } = jsonLines((await wps(s.wps, ['sleep', '--delay', '30', '--async', '--no-wait', '--json'])).stdout)[0]!;
    await runningJob(s, jobID);
    const sgeId = (await s.services.store.get(jobID))!.schedulerJobId!;
    expect(execFileSync('qstat', ['-u', '*'], { encoding: 'utf8' })).toMatch(new RegExp(`^\\s*${sgeId}\\s`, 'm'));
    expect((await wps(s.wps, ['dismiss', jobID])).code).toBe(0);
    let listed = true;
    for (let i = 0; i < 100 && listed; i++) {
      listed = new RegExp(`^\\s*${sgeId}\\s`, 'm').test(execFileSync('qstat', ['-u', '*'], { encoding: 'utf8' }));
      if (listed) await wait(100);
    }
    expect(listed).toBe(false);
  });
});

/**
 * PyWPS rewrites a status document in place (open for writing, then write), so a poll
 * can read it empty or cut short: seen as a failed `wps` run against PyWPS under load.
 * A proxy in front of this server serves every status document that way first.
 */
describe('the wps command against a server whose status documents are read mid-write', () => {
  let s: TestServer;
  let proxy: Server;
  const cut: string[] = [];
  beforeAll(async () => {
    const port = await freePort();
    s = await startTestServer({ server: { baseUrl: `http://127.0.0.1:${port}` } });
    const target = new URL(s.url);
    const reads = new Map<string, number>();
    proxy = createServer((req, res) => {
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, async (up) => {
        const chunks: Buffer[] = [];
        for await (const c of up) chunks.push(c as Buffer);
        let body = Buffer.concat(chunks);
        const n = reads.get(req.url!) ?? 0;
        if (req.method === 'GET' && req.url!.endsWith('.xml') && n < 2) {
          reads.set(req.url!, n + 1);
          body = n === 0 ? body.subarray(0, body.length >> 1) : Buffer.alloc(0);
          cut.push(req.url!);
        }
        res.writeHead(up.statusCode!, { 'content-type': up.headers['content-type'] ?? 'text/xml' });
        res.end(body);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await s.close();
  });

  it('reads such a document again and follows the job to its end', async () => {
    const r = await wps(s.config.baseUrl + '/wps', ['sleep', '--delay', '0.5', '--async', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({ event: 'result', status: 'ProcessSucceeded', outputs: { sleep_output: 'done sleeping' } });
    expect(cut.length).toBeGreaterThanOrEqual(2);
  });
});
