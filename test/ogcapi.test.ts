import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { expectOgcValid } from './helpers/ogcapi.js';
import { runPython } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * OGC API - Processes - Part 1 beside WPS 1.0.0: the landing page, the conformance
 * declaration and the process documents, each checked against the standard's schemas.
 */

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s?.close());

async function json(path: string, schema: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: any }> {
  const res = await fetch(`${s.url}${path}`, { headers: { accept: 'application/json', ...headers } });
  const body = await res.json();
  expectOgcValid(res.status >= 400 ? 'exception' : schema, body);
  return { status: res.status, type: res.headers.get('content-type'), body };
}

const EXCEPTIONS = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0';

type StatusInfo = { jobID: string; status: string; links: { rel: string; href: string }[] };

/** Polls a job's statusInfo until it ends (or 5 s pass); its last one. */
async function untilEnded(server: TestServer, jobID: string): Promise<StatusInfo> {
  let job: StatusInfo | undefined;
  for (let i = 0; i < 100; i++) {
    job = (await (await fetch(`${server.url}/jobs/${jobID}`)).json()) as StatusInfo;
    if (['successful', 'failed', 'dismissed'].includes(job.status)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return job!;
}

describe('OGC API - Processes: landing page, conformance, processes', () => {
  it('the landing page links the API’s parts; a browser gets it as a page', async () => {
    const { status, type, body } = await json('/', 'landingPage');
    expect(status).toBe(200);
    expect(type).toMatch(/^application\/json/);
    const rels = body.links.map((l: { rel: string }) => l.rel);
    for (const rel of ['self', 'http://www.opengis.net/def/rel/ogc/1.0/conformance', 'http://www.opengis.net/def/rel/ogc/1.0/processes', 'http://www.opengis.net/def/rel/ogc/1.0/job-list']) expect(rels).toContain(rel);
    const page = await fetch(`${s.url}/`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // A page runs its own script only, and talks to this server only.
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    expect(await page.text()).toContain(`<a href="${s.url}/wps?service=WPS&amp;request=GetCapabilities">`);
  });

  it('defines itself in OpenAPI 3.0 (a valid document), and as a page for a browser', async () => {
    const res = await fetch(`${s.url}/api`);
    expect(res.headers.get('content-type')).toBe('application/vnd.oai.openapi+json;version=3.0');
    const definition = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(definition.openapi).toMatch(/^3\.0\./);
    for (const path of ['/', '/conformance', '/api', '/processes', '/processes/{processID}', '/processes/{processID}/execution', '/jobs', '/jobs/{jobId}', '/jobs/{jobId}/results']) {
      expect(definition.paths).toHaveProperty([path]);
    }
    // The standard's schemas are referenced by their published address: checked here without fetching them.
    await SwaggerParser.validate(structuredClone(definition) as never, { resolve: { external: false } });
    for (const [path, op] of [['/jobs/{jobId}/logs', 'get'], ['/processes/{processID}/execution', 'post']] as const) {
      expect(Object.keys((definition.paths[path] as Record<string, { responses: object }>)[op]!.responses)).toEqual(expect.arrayContaining(['401', '405', '503']));
    }
    const conformance = await fetch(`${s.url}/conformance`, { headers: { accept: 'text/html' } });
    expect(await conformance.text()).toContain('<a href="http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html">html</a>');
    const page = await fetch(`${s.url}/api`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toMatch(/<td>POST<\/td><td><code>\/processes\/\{processID\}\/execution<\/code><\/td>/);
  });

  it('declares its conformance classes, and answers HEAD where it answers GET', async () => {
    const { body } = await json('/conformance', 'confClasses');
    expect([...body.conformsTo].sort()).toEqual(
      ['callback', 'core', 'dismiss', 'html', 'job-list', 'json', 'oas30', 'ogc-process-description'].map((c) => `http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/${c}`),
    );
    for (const path of ['/', '/conformance', '/api', '/processes', '/processes/hello', '/jobs']) {
      const head = await fetch(`${s.url}${path}`, { method: 'HEAD' });
      expect(head.status, path).toBe(200);
      expect(await head.text()).toBe('');
    }
  });

  it('lists the processes in pages, with next and prev links', async () => {
    const all = (await json('/processes?limit=100', 'processList')).body;
    expect(all.processes.map((p: { id: string }) => p.id).sort()).toEqual(['bbox', 'hello', 'inout', 'show_error', 'sleep', 'ultimate_question', 'wordcounter']);
    const first = (await json('/processes?limit=2', 'processList')).body;
    expect(first.processes).toHaveLength(2);
    const rels = first.links.map((l: { rel: string; type: string }) => `${l.rel} ${l.type}`);
    expect(rels).toEqual(expect.arrayContaining(['self application/json', 'alternate text/html', 'next application/json']));
    const next = first.links.find((l: { rel: string }) => l.rel === 'next').href as string;
    const second = (await json(next.replace(s.url, ''), 'processList')).body;
    expect(second.processes[0].id).toBe(all.processes[2].id);
    expect(second.links.some((l: { rel: string }) => l.rel === 'prev')).toBe(true);
    const refused = await json('/processes?limit=0', 'processList');
    expect(refused.status).toBe(400);
  });

  it('describes every process with JSON schemas for its inputs and outputs', async () => {
    for (const { id } of (await json('/processes?limit=100', 'processList')).body.processes) {
      const { status, body } = await json(`/processes/${id}`, 'process');
      expect(status).toBe(200);
      expect(body.id).toBe(id);
    }
    const inout = (await json('/processes/inout', 'process')).body;
    expect(inout.jobControlOptions).toEqual(['sync-execute', 'async-execute', 'dismiss']);
    expect(inout.inputs.int_in.schema).toEqual({ type: 'integer', minimum: 1, maximum: 10 });
    expect(inout.inputs.string_in.schema).toMatchObject({ type: 'string', enum: ['rock', 'paper', 'scissors'] });
    expect(inout.inputs.tags).toMatchObject({ minOccurs: 0, maxOccurs: 3 });
    const words = (await json('/processes/wordcounter', 'process')).body;
    expect(words.inputs.text.schema).toMatchObject({ type: 'string', contentMediaType: 'text/plain' });
    const box = (await json('/processes/bbox', 'process')).body;
    expect(box.inputs.bboxin.schema.properties.crs.enum[0]).toMatch(/4326/);
  });

  it('answers an unknown process with 404 and the standard’s exception type', async () => {
    const { status, body } = await json('/processes/no_such_thing', 'process');
    expect(status).toBe(404);
    expect(body.type).toBe(`${EXCEPTIONS}/no-such-process`);
  });

  it('OWSLib’s ogcapi.processes client lists and describes the processes', async () => {
    const out = await runPython('-c', [
      `from owslib.ogcapi.processes import Processes
import json, sys
p = Processes(sys.argv[1])
print(json.dumps({"ids": [x["id"] for x in p.processes()["processes"]], "hello": p.process("hello")["inputs"]["name"]["schema"]}))`,
      s.url,
    ]);
    const seen = JSON.parse(out.trim().split('\n').pop()!) as { ids: string[]; hello: unknown };
    expect(seen.ids).toContain('hello');
    expect(seen.hello).toEqual({ type: 'string' });
  });
});

describe('OGC API - Processes: execution', () => {
  const execute = async (id: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.url}/processes/${id}/execution`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return res;
  };
  const results = async (res: Response) => {
    const body = await res.json();
    expectOgcValid(res.status >= 400 ? 'exception' : 'results', body);
    return { status: res.status, body: body as Record<string, any> };
  };

  it('runs synchronously by default and answers a results document', async () => {
    expect(await results(await execute('hello', { inputs: { name: 'api' } }))).toEqual({ status: 200, body: { output: 'Hello api' } });
    const inout = await results(await execute('inout', { inputs: { int_in: 3, bool_in: true, float_in: { value: '2.5', uom: 'metre' }, string_in: 'rock', tags: ['a', 'b'] } }));
    expect(inout.status).toBe(200);
    expect(inout.body).toMatchObject({ int_out: 3, bool_out: true, string_out: 'rock' });
    const words = await results(await execute('wordcounter', { inputs: { text: { value: 'a b a', mediaType: 'text/plain' } } }));
    expect(JSON.parse(words.body.output.value)).toMatchObject({ total: 3 });
    const box = await results(await execute('bbox', { inputs: { bboxin: { bbox: [51.9, 7.0, 53.0, 8.0], crs: 'EPSG:4326' } } }));
    // EPSG:4326 is latitude first; the standard's bbox is CRS84, longitude first.
    expect(box.body.bboxout).toEqual({ bbox: [7, 51.9, 8, 53], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' });
  });

  it('answers one output raw when asked for response raw', async () => {
    const res = await execute('hello', { inputs: { name: 'raw' }, outputs: { output: {} }, response: 'raw' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('Hello raw');
  });

  it('with Prefer: respond-async creates a job (201, Location, statusInfo) that WPS and /jobs both show', async () => {
    const res = await execute('sleep', { inputs: { delay: 0.2 } }, { prefer: 'respond-async' });
    expect(res.status).toBe(201);
    expect(res.headers.get('preference-applied')).toBe('respond-async');
    const info = (await res.json()) as StatusInfo;
    expectOgcValid('statusInfo', info);
    expect(res.headers.get('location')).toBe(`${s.url}/jobs/${info.jobID}`);
    const job = await untilEnded(s, info.jobID);
    expectOgcValid('statusInfo', job);
    expect(job.status).toBe('successful');
    expect((await results(await fetch(`${s.url}/jobs/${info.jobID}/results`))).body).toEqual({ sleep_output: 'done sleeping' });
    const wps = job.links.find((l) => l.rel === 'status')!.href;
    expect(await (await fetch(wps)).text()).toContain('<wps:ProcessSucceeded>');
  });

  it('several outputs raw come as multipart/related, a part each, synchronously and as a job’s results', async () => {
    const inputs = { int_in: 3, bool_in: true, float_in: 1.5, string_in: 'paper' };
    const parts = async (res: Response) => {
      const type = res.headers.get('content-type')!;
      expect(type).toMatch(/^multipart\/related; boundary=/);
      const boundary = /boundary=(\S+)/.exec(type)![1]!;
      return Object.fromEntries(
        (await res.text())
          .split(`--${boundary}`)
          .slice(1, -1)
          .map((part) => [/Content-ID: <([^>]+)>/.exec(part)![1], part.split('\r\n\r\n')[1]!.replace(/\r\n$/, '')]),
      );
    };
    const sync = await execute('inout', { inputs, response: 'raw' });
    expect(sync.status).toBe(200);
    expect(await parts(sync)).toMatchObject({ int_out: '3', bool_out: 'true', string_out: 'paper' });
    const job = await execute('inout', { inputs, outputs: { int_out: {}, string_out: { transmissionMode: 'value' } }, response: 'raw' }, { prefer: 'respond-async' });
    const { jobID } = (await job.json()) as { jobID: string };
    expect((await untilEnded(s, jobID)).status).toBe('successful');
    expect(await parts(await fetch(`${s.url}/jobs/${jobID}/results`))).toEqual({ int_out: '3', string_out: 'paper' });
  });

  it('an asynchronous job asked for raw answers its results with its one output as it is', async () => {
    const res = await execute('hello', { inputs: { name: 'later' }, outputs: { output: {} }, response: 'raw' }, { prefer: 'respond-async' });
    expect(res.status).toBe(201);
    const { jobID } = (await res.json()) as { jobID: string };
    expect((await untilEnded(s, jobID)).status).toBe('successful');
    const raw = await fetch(`${s.url}/jobs/${jobID}/results`);
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await raw.text()).toBe('Hello later');
  });

  it('a job’s results before it ended: 404 result-not-ready; the job list refuses a limit out of range and links itself', async () => {
    const res = await execute('sleep', { inputs: { delay: 2 } }, { prefer: 'respond-async' });
    const { jobID } = (await res.json()) as { jobID: string };
    const early = await fetch(`${s.url}/jobs/${jobID}/results`);
    expect(early.status).toBe(404);
    const problem = (await early.json()) as { type: string };
    expectOgcValid('exception', problem);
    expect(problem.type).toBe(`${EXCEPTIONS}/result-not-ready`);
    expect((await json('/jobs?limit=0', 'jobList')).status).toBe(400);
    expect((await json('/jobs?limit=1001', 'jobList')).status).toBe(400);
    const page = (await json('/jobs?limit=1', 'jobList')).body;
    const rels = page.links.map((l: { rel: string; type: string }) => `${l.rel} ${l.type}`);
    expect(rels).toEqual(expect.arrayContaining(['self application/json', 'alternate text/html', 'next application/json']));
    await fetch(`${s.url}/jobs/${jobID}`, { method: 'DELETE' });
  });

  it('refuses a value the process does not allow, a malformed body, and a GET, with the standard’s exceptions', async () => {
    const bad = await results(await execute('inout', { inputs: { int_in: 99, bool_in: true, float_in: 1, string_in: 'rock' } }));
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/int_in/);
    const malformed = await fetch(`${s.url}/processes/hello/execution`, { method: 'POST', body: '{not json' });
    expect(malformed.status).toBe(400);
    expectOgcValid('exception', await malformed.json());
    const get = await fetch(`${s.url}/processes/hello/execution`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});

describe('OGC API - Processes: callbacks', () => {
  let cb: TestServer;
  let receiver: Server;
  let receiverUrl: string;
  const received: { path: string; body: any }[] = [];
  beforeAll(async () => {
    // The receiver is on loopback, which a callback reaches only through an address entry.
    cb = await startTestServer({ references: { allow: ['127.0.0.1/32'] } });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ path: req.url!, body: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await cb?.close();
    receiver?.close();
  });

  const executeAsync = (id: string, body: unknown) =>
    fetch(`${cb.url}/processes/${id}/execution`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify(body) });
  const until = async (test: () => boolean) => {
    for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 50));
  };

  it('posts progress, then success with the results, in order; a failure to failedUri', async () => {
    const subscriber = (tag: string) => ({ successUri: `${receiverUrl}/${tag}/success`, inProgressUri: `${receiverUrl}/${tag}/progress`, failedUri: `${receiverUrl}/${tag}/failed` });
    const res = await executeAsync('sleep', { inputs: { delay: 0.5 }, subscriber: subscriber('a') });
    expect(res.status).toBe(201);
    await until(() => received.some((r) => r.path === '/a/success'));
    const mine = received.filter((r) => r.path.startsWith('/a/'));
    expect(mine.at(-1)).toEqual({ path: '/a/success', body: { sleep_output: 'done sleeping' } });
    expectOgcValid('results', mine.at(-1)!.body);
    const progress = mine.slice(0, -1);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p.path).toBe('/a/progress');
      expectOgcValid('statusInfo', p.body);
    }
    const percents = progress.map((p) => p.body.progress as number);
    expect([...percents].sort((x, y) => x - y)).toEqual(percents);

    expect((await executeAsync('show_error', { subscriber: subscriber('b') })).status).toBe(201);
    await until(() => received.some((r) => r.path === '/b/failed'));
    const failed = received.find((r) => r.path === '/b/failed')!;
    expectOgcValid('exception', failed.body);
    expect(failed.body.detail).toBe('This process failed intentionally.');
  });

  it('never calls an address references may not reach: refused at once when written as an address, at the call when named', async () => {
    // The first server has no allow list: loopback is closed to references and callbacks alike.
    const on = (server: TestServer, id: string, body: unknown) =>
      fetch(`${server.url}/processes/${id}/execution`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify(body) });
    for (const uri of ['http://169.254.169.254/latest/meta-data/', `${receiverUrl}/literal`]) {
      const refused = await on(s, 'hello', { inputs: { name: 'x' }, subscriber: { successUri: uri } });
      expect(refused.status).toBe(400);
      expectOgcValid('exception', await refused.json());
    }
    // A name opens public addresses only: localhost is loopback, so the receiver hears nothing.
    const named = await on(s, 'hello', { inputs: { name: 'x' }, subscriber: { successUri: `${receiverUrl.replace('127.0.0.1', 'localhost')}/named` } });
    expect(named.status).toBe(201);
    const { jobID } = (await named.json()) as { jobID: string };
    expect((await untilEnded(s, jobID)).status).toBe('successful');
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((r) => r.path === '/named' || r.path === '/literal')).toEqual([]);
  });
});
