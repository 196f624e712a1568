import { existsSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSameProcessAlive } from '../src/scheduler/local/proc.js';
import type { RunnerInfo } from '../src/runner-contract.js';
import { followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { expectException, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { expectOgcValid } from './helpers/ogcapi.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ jobs: { parallel: 1 } });
});
afterAll(() => s.close());

const submit = async (q: string) =>
  statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&storeExecuteResponse=true&status=true&${q}`)).text);
const idOf = (location: string) => /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
/** A JSON answer of the jobs API, checked against OGC API - Processes' own schema for what it is. */
const json = async (path: string, init?: RequestInit) => {
  const res = await fetch(`${s.url}${path}`, init);
  const body = (await res.json()) as Record<string, any>;
  const schema = res.status >= 400 ? 'exception' : /^\/jobs\/?(\?|$)/.test(path) ? 'jobList' : /\/results$/.test(path) ? 'results' : /\/logs$/.test(path) ? undefined : 'statusInfo';
  if (schema) expectOgcValid(schema, body);
  return { status: res.status, type: res.headers.get('content-type'), body };
};
async function waitFor(location: string, name: string) {
  for (let i = 0; i < 200; i++) {
    if (statusOf(await (await fetch(location)).text()).name === name) return;
    await wait(25);
  }
  throw new Error(`never ${name}`);
}

describe('the jobs API (OGC API - Processes shape)', () => {
  it('gives a job’s statusInfo with links to its status document, results and logs', async () => {
    const location = await submit('identifier=hello&DataInputs=name=api');
    await followStatus(location);
    const { status, body } = await json(`/jobs/${idOf(location)}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ jobID: idOf(location), processID: 'hello', type: 'process', status: 'successful', progress: 100 });
    expect(Date.parse(body.created)).toBeLessThanOrEqual(Date.parse(body.finished));
    const rels = Object.fromEntries(body.links.map((l: { rel: string; href: string }) => [l.rel, l.href]));
    expect(rels.status).toBe(location);
    expect(rels['http://www.opengis.net/def/rel/ogc/1.0/results']).toBe(`${s.url}/jobs/${idOf(location)}/results`);
  });

  it('returns results: literals as values, complex text, references as links', async () => {
    const a = await submit('identifier=inout&DataInputs=int_in=3;bool_in=true;float_in=2@uom=feet;string_in=rock');
    await followStatus(a);
    expect((await json(`/jobs/${idOf(a)}/results`)).body).toMatchObject({ int_out: 3, bool_out: true, float_out: { value: 2, uom: 'feet' }, string_out: 'rock' });
    const b = await submit('identifier=wordcounter&DataInputs=text=a%20b@mimeType=text/plain&ResponseDocument=output@asReference=true');
    await followStatus(b);
    const out = (await json(`/jobs/${idOf(b)}/results`)).body.output;
    expect(out).toMatchObject({ type: 'application/json', href: expect.stringMatching(/\/outputs\/.*\/output\.json$/) });
    const c = await submit('identifier=wordcounter&DataInputs=text=a%20b@mimeType=text/plain');
    await followStatus(c);
    expect(JSON.parse((await json(`/jobs/${idOf(c)}/results`)).body.output.value)).toEqual({ total: 2, counts: { a: 1, b: 1 } });
  });

  it('keeps a failed job’s stderr for its logs, and answers its results with the failure', async () => {
    const location = await submit('identifier=show_error');
    await followStatus(location);
    const logs = await json(`/jobs/${idOf(location)}/logs`);
    expect(logs.body.stderr).toContain('show_error: about to fail on purpose');
    const results = await json(`/jobs/${idOf(location)}/results`);
    expect(results.status).toBe(500);
    expect(results.type).toBe('application/problem+json');
    expect(results.body.detail).toBe('This process failed intentionally.');
  });

  it("serves a job's logs only from regular files: a log replaced by a symbolic link reads empty", async () => {
    const location = await submit('identifier=show_error');
    await followStatus(location);
    const id = idOf(location);
    const stderr = s.services.files.stderrPath(id);
    rmSync(stderr);
    symlinkSync('/etc/passwd', stderr);
    const logs = await json(`/jobs/${id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body.stderr).toBe('');
    // A job directory that became a link is not followed either.
    const dir = s.services.files.dir(id);
    renameSync(dir, `${dir}.moved`);
    symlinkSync(`${dir}.moved`, dir);
    expect((await json(`/jobs/${id}/logs`)).body).toMatchObject({ stdout: '', stderr: '' });
  });

  it('answers ids of 36 characters that are not UUIDs with 404, not a server error', async () => {
    for (const id of ['-'.repeat(36), 'f'.repeat(36), `${'0'.repeat(8)}-${'0'.repeat(27)}`]) {
      expect((await fetch(`${s.url}/jobs/${id}`)).status, id).toBe(404);
      expect((await fetch(`${s.url}/jobs/${id}/logs`)).status, id).toBe(404);
      const report = await fetch(`${s.url}/internal/jobs/${id}/report`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer x' } });
      expect(report.status, id).toBe(404);
    }
  });

  it('lists jobs newest first, filtered by process and status, in pages', async () => {
    for (const n of ['p1', 'p2', 'p3']) await followStatus(await submit(`identifier=hello&DataInputs=name=${n}`));
    const page = await json('/jobs?processID=hello&status=successful&limit=2');
    expect(page.body.jobs).toHaveLength(2);
    expect(page.body.jobs.every((j: { processID: string; status: string }) => j.processID === 'hello' && j.status === 'successful')).toBe(true);
    expect(page.body.numberMatched).toBeGreaterThanOrEqual(3);
    const next = page.body.links.find((l: { rel: string }) => l.rel === 'next').href as string;
    const second = (await (await fetch(next)).json()) as { jobs: { jobID: string }[] };
    expect(second.jobs[0]?.jobID).not.toBe(page.body.jobs[0].jobID);
    expect((await json('/jobs?status=nonsense')).status).toBe(400);
  });

  it('filters the job list by creation time, run time, type and several processes (the job-list class)', async () => {
    const before = new Date().toISOString();
    const quickAt = await submit('identifier=hello&DataInputs=name=quick');
    const slowAt = await submit('identifier=sleep&DataInputs=delay=1.5');
    for (const at of [quickAt, slowAt]) await followStatus(at, { timeoutMs: 30_000 });
    const [quick, slow] = [idOf(quickAt), idOf(slowAt)];
    const ids = async (q: string) => (await json(`/jobs?limit=1000&${q}`)).body.jobs.map((j: { jobID: string }) => j.jobID) as string[];
    const mine = [quick, slow];
    expect(await ids(`datetime=${encodeURIComponent(`${before}/..`)}`)).toEqual(expect.arrayContaining(mine));
    expect(await ids(`datetime=${encodeURIComponent('2099-01-01T00:00:00Z/..')}`)).toEqual([]);
    expect(await ids(`datetime=${encodeURIComponent('../2000-01-01T00:00:00Z')}`)).toEqual([]);
    expect((await json('/jobs?datetime=yesterday')).status).toBe(400);
    const long = await ids(`minDuration=1&datetime=${encodeURIComponent(`${before}/..`)}`);
    expect(long).toContain(slow);
    expect(long).not.toContain(quick);
    const short = await ids(`maxDuration=1&datetime=${encodeURIComponent(`${before}/..`)}`);
    expect(short).toContain(quick);
    expect(short).not.toContain(slow);
    expect((await json('/jobs?minDuration=-1')).status).toBe(400);
    // A name every object has is no status.
    expect((await json('/jobs?status=constructor')).status).toBe(400);
    expect(await ids('type=process')).toEqual(expect.arrayContaining(mine));
    expect(await ids('type=coverage')).toEqual([]);
    expect(await ids(`processID=hello,sleep&datetime=${encodeURIComponent(`${before}/..`)}`)).toEqual(expect.arrayContaining(mine));
    expect(await ids(`processID=wordcounter&datetime=${encodeURIComponent(`${before}/..`)}`)).toEqual([]);
  }, 30_000);

  it('answers an unknown job with 404 and a problem document', async () => {
    const r = await json('/jobs/00000000-0000-0000-0000-000000000000');
    expect(r.status).toBe(404);
    expect(r.body.type).toMatch(/no-such-job$/);
  });
});

describe('dismissing jobs', () => {
  it('a waiting job never starts; a running one is killed; both end ProcessFailed, outputs gone', async () => {
    const running = await submit('identifier=sleep&DataInputs=delay=20&ResponseDocument=sleep_output@asReference=true');
    await waitFor(running, 'ProcessStarted');
    const waiting = await submit('identifier=sleep&DataInputs=delay=1');
    expect(statusOf(await (await fetch(waiting)).text()).name).toBe('ProcessAccepted');

    const w = await json(`/jobs/${idOf(waiting)}`, { method: 'DELETE' });
    expect(w.body.status).toBe('dismissed');
    const runner = JSON.parse(readFileSync(join(s.config.jobsDir, idOf(running), 'runner.json'), 'utf8')) as RunnerInfo;
    const dismissed = await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${idOf(running)}`);
    expect(dismissed.status).toBe(200);
    await expectSchemaValid(dismissed.text);
    const doc = parseXml(dismissed.text).ExecuteResponse;
    expect(doc.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText).toBe('The job was dismissed by the client');

    for (let i = 0; i < 100 && isSameProcessAlive(runner.pid, runner.startTicks); i++) await wait(50);
    expect(isSameProcessAlive(runner.pid, runner.startTicks)).toBe(false);
    await wait(500);
    expect(existsSync(join(s.config.jobsDir, idOf(waiting), 'attempts'))).toBe(false);
    expect(existsSync(join(s.config.storageDir, idOf(running)))).toBe(false);
    for (const l of [waiting, running]) {
      const final = statusOf(await (await fetch(l)).text());
      expect(final.name).toBe('ProcessFailed');
      expect(final.xml).toContain('dismissed by the client');
    }
    expect((await json(`/jobs/${idOf(running)}`)).body.status).toBe('dismissed');
    // The slot is free again.
    expect((await followStatus(await submit('identifier=hello&DataInputs=name=next')))[0]).toBeDefined();
  });

  it('refuses to dismiss a finished or unknown job, clearly', async () => {
    const done = await submit('identifier=hello&DataInputs=name=done');
    await followStatus(done);
    expect((await json(`/jobs/${idOf(done)}`, { method: 'DELETE' })).status).toBe(409);
    expect((await json('/jobs/00000000-0000-0000-0000-000000000000', { method: 'DELETE' })).status).toBe(404);
    const ex = await expectException(await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${idOf(done)}`), 'InvalidParameterValue', 'jobId', 400);
    expect(ex.text).toMatch(/has already succeeded/);
    await expectException(await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=00000000-0000-0000-0000-000000000000`), 'InvalidParameterValue', 'jobId', 400);
    await expectException(await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=../../etc`), 'InvalidParameterValue', 'jobId', 400);
    await expectException(await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0`), 'MissingParameterValue', 'jobId', 400);
    await expectException(
      await post(s.wps, `<wps:Dismiss xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS" version="1.0.0"><wps:JobID>${idOf(done)}</wps:JobID></wps:Dismiss>`),
      'InvalidParameterValue',
      'jobId',
      400,
    );
  });
});
