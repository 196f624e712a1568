import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepExpiredJobs } from '../src/processing/retention.js';
import { expectAllValid, followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { expectException, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { executeXml, reference } from './helpers/requests.js';
import { startTestServer, type QueueKind, type StoreKind, type TestServer } from './helpers/server.js';

const combos: [StoreKind, QueueKind][] = [
  ['pglite', 'in-process'],
  ['postgres', 'in-process'],
  ['pglite', 'bullmq'],
  ['postgres', 'bullmq'],
];

/** A loopback data host for inputs by reference. */
let remote: Server;
let origin: string;
beforeAll(async () => {
  remote = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('red green red'));
  await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(remote.address() as { port: number }).port}`;
});
afterAll(() => new Promise((r) => remote.close(r)));

describe.each(combos)('asynchronous Execute (store %s, queue %s)', (store, queue) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ references: { allow: ['127.0.0.1'] } }, undefined, { store, queue });
  });
  afterAll(() => s?.close());

  const submit = (q: string) => get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&storeExecuteResponse=true&${q}`);

  it('answers ProcessAccepted at once, with a status document already in place', async () => {
    const started = Date.now();
    const r = await submit('identifier=sleep&DataInputs=delay=1&status=true');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.status).toBe(200);
    await expectSchemaValid(r.text);
    const accepted = statusOf(r.text);
    expect(accepted.name).toBe('ProcessAccepted');
    expect(accepted.percent).toBeUndefined();
    const location = statusLocationOf(r.text);
    expect(location).toMatch(new RegExp(`^${s.url}/outputs/[0-9a-f-]{36}\\.xml$`));
    const doc = await fetch(location);
    expect(doc.status).toBe(200);
    expect(doc.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    expect(doc.headers.get('cache-control')).toBe('no-cache');
    await followStatus(location);
  });

  it('with status=true, the document rises through ProcessStarted percentages to ProcessSucceeded, never backwards', async () => {
    const r = await submit('identifier=sleep&DataInputs=delay=1.5&status=true');
    const views = await followStatus(statusLocationOf(r.text), { intervalMs: 5 });
    await expectAllValid(views);
    expect(views[0]!.name).toBe('ProcessAccepted');
    const started = views.filter((v) => v.name === 'ProcessStarted');
    const percents = [...new Set(started.map((v) => v.percent))];
    expect(percents.length).toBeGreaterThanOrEqual(2);
    expect(started.every((v) => v.percent! >= 0 && v.percent! <= 99)).toBe(true);
    expect(started.some((v) => /^slept [\d.]+ of 1.5 seconds$/.test(v.message))).toBe(true);
    const final = views[views.length - 1]!;
    expect(final.name).toBe('ProcessSucceeded');
    const out = parseXml(final.xml).ExecuteResponse.ProcessOutputs.Output[0];
    expect(out.Data.LiteralData['#text']).toBe('done sleeping');
    expect(final.xml).toContain(`statusLocation="${statusLocationOf(r.text)}"`);
  });

  it('with status=false, the document stays ProcessAccepted until the final one replaces it', async () => {
    const r = await submit('identifier=sleep&DataInputs=delay=0.6');
    const views = await followStatus(statusLocationOf(r.text), { intervalMs: 5 });
    expect(views.map((v) => v.name)).toEqual(['ProcessAccepted', 'ProcessSucceeded']);
    await expectAllValid(views);
  });

  it('a failing process ends in ProcessFailed with its message', async () => {
    const r = await submit('identifier=show_error&status=true');
    const views = await followStatus(statusLocationOf(r.text));
    await expectAllValid(views);
    const ex = parseXml(views[views.length - 1]!.xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0];
    expect(ex).toMatchObject({ '@exceptionCode': 'NoApplicableCode', ExceptionText: 'This process failed intentionally.' });
  });

  it('stores outputs by reference and carries lineage in the final document', async () => {
    const body = executeXml(
      'wordcounter',
      reference('text', `${origin}/words.txt`, ' mimeType="text/plain"'),
      '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true" lineage="true"><wps:Output asReference="true"><ows:Identifier>output</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>',
    );
    const r = await post(s.wps, body);
    expect(statusOf(r.text).name).toBe('ProcessAccepted');
    expect(parseXml(r.text).ExecuteResponse.DataInputs.Input[0].Reference['@href']).toBe(`${origin}/words.txt`);
    const views = await followStatus(statusLocationOf(r.text));
    await expectAllValid(views);
    const doc = parseXml(views[views.length - 1]!.xml).ExecuteResponse;
    expect(doc.OutputDefinitions.Output[0]).toMatchObject({ Identifier: 'output', '@asReference': 'true' });
    const ref = doc.ProcessOutputs.Output[0].Reference;
    expect(ref['@mimeType']).toBe('application/json');
    const file = await fetch(ref['@href']);
    expect(file.headers.get('cache-control')).toMatch(/max-age/);
    expect(await file.json()).toEqual({ total: 3, counts: { red: 2, green: 1 } });
  });

  it('refuses bad input before accepting: no job, no document', async () => {
    const before = await s.services.store.countWaiting();
    await expectException(await submit('identifier=sleep&DataInputs=delay=99'), 'InvalidParameterValue', 'delay', 400);
    await expectException(await submit('identifier=hello'), 'MissingParameterValue', 'name', 400);
    await expectException(await submit('identifier=hello&DataInputs=name=x&ResponseDocument=nope'), 'InvalidParameterValue', 'nope', 400);
    expect(await s.services.store.countWaiting()).toBe(before);
  });

  it('fails a job whose reference cannot be fetched, in the status document', async () => {
    const r = await post(
      s.wps,
      executeXml('wordcounter', reference('text', 'http://169.254.169.254/latest/meta-data/'), '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true"/></wps:ResponseForm>'),
    );
    const views = await followStatus(statusLocationOf(r.text));
    const ex = parseXml(views[views.length - 1]!.xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0];
    expect(ex['@exceptionCode']).toBe('InvalidParameterValue');
    expect(ex['@locator']).toBe('text');
    expect(ex.ExceptionText).toMatch(/linkLocal/);
  });

  it('keeps a job row with the request, states, timestamps and the scheduler', async () => {
    const r = await submit('identifier=hello&DataInputs=name=row');
    await followStatus(statusLocationOf(r.text));
    const id = /([0-9a-f-]{36})\.xml$/.exec(statusLocationOf(r.text))![1]!;
    const job = (await s.services.store.get(id))!;
    expect(job).toMatchObject({ processId: 'hello', state: 'succeeded', percent: 100, scheduler: 'local', schedulerJobId: id });
    expect((job.request as { inputs: unknown[] }).inputs).toEqual([{ identifier: 'name', data: { kind: 'literal', value: 'row' } }]);
    expect(job.createdAt.getTime()).toBeLessThanOrEqual(job.startedAt!.getTime());
    expect(job.startedAt!.getTime()).toBeLessThanOrEqual(job.finishedAt!.getTime());
    expect(readFileSync(join(s.config.jobsDir, id, 'attempts'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('removes finished jobs after the retention period', async () => {
    const r = await submit('identifier=wordcounter&DataInputs=text=a@mimeType=text/plain&ResponseDocument=output@asReference=true');
    const views = await followStatus(statusLocationOf(r.text));
    const href = parseXml(views[views.length - 1]!.xml).ExecuteResponse.ProcessOutputs.Output[0].Reference['@href'];
    const id = /([0-9a-f-]{36})\.xml$/.exec(statusLocationOf(r.text))![1]!;
    const sweep = (now: number) =>
      sweepExpiredJobs({ store: s.services.store, files: s.services.files, outputDir: s.config.storageDir, retentionMs: 3_600_000 }, now);
    await sweep(Date.now());
    expect((await fetch(statusLocationOf(r.text))).status).toBe(200);
    expect(await sweep(Date.now() + 3_600_000 + 60_000)).toBeGreaterThanOrEqual(1);
    expect(await s.services.store.get(id)).toBeUndefined();
    expect((await fetch(statusLocationOf(r.text))).status).toBe(404);
    expect((await fetch(href)).status).toBe(404);
    expect(existsSync(join(s.config.jobsDir, id))).toBe(false);
  });

  it('accepts runner reports only with the job secret', async () => {
    const r = await submit('identifier=sleep&DataInputs=delay=0.3');
    const id = /([0-9a-f-]{36})\.xml$/.exec(statusLocationOf(r.text))![1]!;
    const report = (secret: string | undefined, target = id) =>
      fetch(`${s.url}/internal/jobs/${target}/report`, {
        method: 'POST',
        headers: secret ? { authorization: `Bearer ${secret}` } : {},
        body: JSON.stringify({ event: 'progress', percent: 50 }),
      });
    expect((await report(undefined)).status).toBe(401);
    expect((await report('guessed')).status).toBe(401);
    expect((await report('x', '00000000-0000-0000-0000-000000000000')).status).toBe(404);
    await followStatus(statusLocationOf(r.text));
  });
});

describe('limits on waiting jobs', () => {
  it('answers ServerBusy beyond the maximum number of waiting jobs, without creating a job', async () => {
    const s = await startTestServer({ jobs: { parallel: 1, maxWaiting: 1 } });
    try {
      const submit = (delay: number) =>
        get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=${delay}&storeExecuteResponse=true&status=true`);
      const first = await submit(2);
      // Wait until the first runs, so it no longer counts as waiting.
      for (let i = 0; i < 100 && statusOf(await (await fetch(statusLocationOf(first.text))).text()).name !== 'ProcessStarted'; i++) await wait(50);
      const second = await submit(0);
      expect(statusOf(second.text).name).toBe('ProcessAccepted');
      // Twice: the first refusal takes back a document written beside the insert; then, while
      // the store is turning submissions away, none is written.
      await expectException(await submit(0), 'ServerBusy', undefined, 503);
      await expectException(await submit(0), 'ServerBusy', undefined, 503);
      expect((await s.services.store.unfinished()).length).toBe(2);
      const documents = () => readdirSync(s.config.storageDir).filter((f) => f.endsWith('.xml')).sort();
      const nameOf = (r: { text: string }) => statusLocationOf(r.text).split('/').pop()!;
      expect(documents()).toEqual([nameOf(first), nameOf(second)].sort());
      const views = await followStatus(statusLocationOf(second.text));
      expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
      // Room again: accepted, with its document.
      const third = await submit(0);
      expect(statusOf(third.text).name).toBe('ProcessAccepted');
      expect(documents()).toContain(nameOf(third));
      await followStatus(statusLocationOf(third.text));
    } finally {
      await s.close();
    }
  });
});
