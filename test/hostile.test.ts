import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as wait } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from './helpers/child-server.js';
import { exceptionOf, expectSchemaValid, parseXml, post } from './helpers/http.js';
import { freePort, startTestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * Hostile input against the built server in its own process: each request gets its
 * precise answer within a bounded time, the server's memory stays bounded, and nothing
 * is left behind (no job, no file, no process).
 */
let server: ChildServer;
let base = '';
let dataDir = '';
beforeAll(async () => {
  const port = await freePort();
  dataDir = tempDir('wps-hostile-');
  base = `http://127.0.0.1:${port}`;
  server = await spawnServer({ PORT: String(port), WPS_DATA_DIR: dataDir, WPS_BASE_URL: base, WPS_REFERENCE_TIMEOUT: '1' });
});
afterAll(() => server.stop());

const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))![1]);
const files = () => ['outputs', 'jobs'].flatMap((d) => {
  try {
    return readdirSync(join(dataDir, d), { recursive: true }).map(String);
  } catch {
    return [];
  }
});
const children = () => {
  try {
    return execFileSync('pgrep', ['-P', String(server.child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const jobCount = async () => ((await (await fetch(`${base}/jobs?limit=1`)).json()) as { numberMatched: number }).numberMatched;

/** Sends bytes exactly as given (fetch would refuse or fix some of them). */
function raw(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function expectRefused(r: { status: number; text: string }, code: string, locator: string | undefined, status: number) {
  const ex = exceptionOf(r.text);
  expect({ code: ex.code, locator: ex.locator, status: r.status }).toEqual({ code, locator, status });
  await expectSchemaValid(r.text);
}

const WPS_NS = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"';
const hello = (name: string) => `/wps?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=${name}`;

describe('hostile input', () => {
  let before: { files: string[]; jobs: number; children: string[] };
  beforeAll(async () => {
    before = { files: files(), jobs: await jobCount(), children: children() };
  });
  afterAll(async () => {
    // Nothing any of it left behind.
    expect(files()).toEqual(before.files);
    expect(await jobCount()).toBe(before.jobs);
    expect(children()).toEqual(before.children);
  });

  it.each([
    ['malformed XML', '<wps:GetCapabilities service="WPS"><oops></wps:GetCapabilities>'],
    ['an external entity (XXE)', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><wps:GetCapabilities ${WPS_NS} service="&e;"/>`],
    ['entity expansion (billion laughs)', `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><wps:GetCapabilities ${WPS_NS} service="&c;"/>`],
    ['10,000-deep nesting', `<wps:Execute ${WPS_NS} service="WPS" version="1.0.0">${'<x>'.repeat(10_000)}${'</x>'.repeat(10_000)}</wps:Execute>`],
    ['a NUL byte', `<wps:GetCapabilities ${WPS_NS} service="W\u0000PS"/>`],
  ])('refuses %s: InvalidParameterValue on the request', async (_, body) => {
    const started = Date.now();
    await expectRefused(await raw('POST', '/wps', body, { 'content-type': 'text/xml' }), 'InvalidParameterValue', 'request', 400);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a body that is not UTF-8', async () => {
    await expectRefused(await raw('POST', '/wps', Buffer.from([0x3c, 0x61, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x61, 0x3e])), 'InvalidParameterValue', 'request', 400);
  });

  it('refuses a 100 MB body early, in bounded time and memory', async () => {
    const rss = rssKb();
    const started = Date.now();
    const body = Buffer.alloc(100 * 1024 * 1024, 0x20);
    await expectRefused(await raw('POST', '/wps', body, { 'content-type': 'text/xml' }), 'FileSizeExceeded', undefined, 413);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The limit is 3 MB: the rest is read and dropped, never kept.
    expect(rssKb() - rss).toBeLessThan(40 * 1024);
  });

  it('refuses a 1 MB query string with an ExceptionReport, as URI Too Long', async () => {
    await expectRefused(await raw('GET', `/wps?service=WPS&request=GetCapabilities&x=${'a'.repeat(1024 * 1024)}`), 'FileSizeExceeded', undefined, 414);
  });

  it('refuses invalid UTF-8 and NUL bytes in KVP values, naming the parameter or input', async () => {
    await expectRefused(await raw('GET', '/wps?service=WPS&request=GetCapabilities&language=%FF%FE'), 'InvalidParameterValue', 'language', 400);
    await expectRefused(await raw('GET', hello('A%00B')), 'InvalidParameterValue', 'name', 400);
  });

  it('refuses a parameter given twice with different values, and ignores unknown ones', async () => {
    await expectRefused(await raw('GET', '/wps?service=WPS&request=GetCapabilities&request=DescribeProcess'), 'InvalidParameterValue', 'request', 400);
    const r = await raw('GET', '/wps?service=WPS&request=GetCapabilities&colour=blue&x=%3Cscript%3E');
    expect(r.status).toBe(200);
  });

  it('answers path traversal on the outputs URL with 404', async () => {
    for (const path of ['/outputs/../../etc/passwd', '/outputs/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/outputs/..%5c..%5cwindows', '/outputs/%00', '/outputs/.env']) {
      expect((await raw('GET', path)).status, path).toBe(404);
    }
  });

  it('refuses file: and unanswering or stalling references within the timeout', async () => {
    const r = await raw('GET', `/wps?service=WPS&request=Execute&version=1.0.0&identifier=wordcounter&DataInputs=text=@xlink:href=file%3A%2F%2F%2Fetc%2Fpasswd`);
    await expectRefused(r, 'InvalidParameterValue', 'text', 400);
    // The default policy refuses loopback before connecting: no request leaves for the port at all.
    const started = Date.now();
    const l = await raw('GET', `/wps?service=WPS&request=Execute&version=1.0.0&identifier=wordcounter&DataInputs=text=@xlink:href=http%3A%2F%2F127.0.0.1%3A9%2F`);
    await expectRefused(l, 'InvalidParameterValue', 'text', 400);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('describes each process once, however often a request names it', async () => {
    const ids = Array.from({ length: 5000 }, () => '<ows:Identifier>hello</ows:Identifier>').join('');
    const r = await raw('POST', '/wps', `<wps:DescribeProcess ${WPS_NS} service="WPS" version="1.0.0">${ids}<ows:Identifier>inout</ows:Identifier></wps:DescribeProcess>`);
    expect(r.status).toBe(200);
    expect(parseXml(r.text).ProcessDescriptions.ProcessDescription.map((p: { Identifier: string }) => p.Identifier)).toEqual(['hello', 'inout']);
    await expectSchemaValid(r.text);
    // Past limits.maxXmlElements a request is refused before it is parsed.
    const huge = await raw('POST', '/wps', `<wps:DescribeProcess ${WPS_NS} service="WPS" version="1.0.0">${ids.repeat(10)}</wps:DescribeProcess>`);
    const ex = exceptionOf(huge.text);
    expect({ code: ex.code, locator: ex.locator, status: huge.status }).toEqual({ code: 'InvalidParameterValue', locator: 'request', status: 400 });
    expect(ex.text).toMatch(/more than 10000 elements/);
    await expectSchemaValid(huge.text);
    const k = await raw('GET', `/wps?service=WPS&request=DescribeProcess&version=1.0.0&identifier=${'inout,hello,'.repeat(500)}inout`);
    expect(parseXml(k.text).ProcessDescriptions.ProcessDescription.map((p: { Identifier: string }) => p.Identifier)).toEqual(['inout', 'hello']);
  });

  it('sends nosniff and a sandboxing content security policy with every answer', async () => {
    const paths = ['/wps?service=WPS&request=GetCapabilities', '/wps?service=WPS&request=Nope', hello('x'), '/outputs/missing.xml', '/jobs', '/health', '/metrics', '/nowhere'];
    for (const path of paths) {
      const r = await fetch(`${base}${path}`);
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(r.headers.get('content-security-policy'), path).toBe("default-src 'none'; sandbox");
    }
  });

  it('takes no Execute or Dismiss from a page on another site, and still serves other clients', async () => {
    const job = '0b0c4c5e-1f5e-4a39-9a7c-3f1c1f9a1b2c';
    const dismiss = `/wps?service=WPS&request=Dismiss&version=1.0.0&jobId=${job}`;
    const from = (site: string, mode: string) => ({ 'sec-fetch-site': site, 'sec-fetch-mode': mode });
    // An image tag or a script on another site:
    await expectRefused(await raw('GET', dismiss, undefined, from('cross-site', 'no-cors')), 'NoApplicableCode', 'request', 403);
    await expectRefused(await raw('GET', dismiss, undefined, from('same-site', 'navigate')), 'NoApplicableCode', 'request', 403);
    const dismissXml = `<wps:Dismiss ${WPS_NS} service="WPS" version="1.0.0"><wps:JobID>${job}</wps:JobID></wps:Dismiss>`;
    await expectRefused(await raw('POST', '/wps', dismissXml, { 'content-type': 'text/plain', ...from('cross-site', 'navigate') }), 'NoApplicableCode', 'request', 403);
    // A form on another site posting an Execute:
    const execute = `<wps:Execute ${WPS_NS} service="WPS" version="1.0.0"><ows:Identifier>hello</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>name</ows:Identifier><wps:Data><wps:LiteralData>x</wps:LiteralData></wps:Data></wps:Input></wps:DataInputs></wps:Execute>`;
    await expectRefused(await raw('POST', '/wps', execute, { 'content-type': 'text/plain', ...from('cross-site', 'navigate') }), 'NoApplicableCode', 'request', 403);
    // A link followed to an Execute, capabilities read from anywhere, and clients that are not browsers: served.
    expect((await raw('GET', hello('link'), undefined, from('cross-site', 'navigate'))).status).toBe(200);
    expect((await raw('GET', '/wps?service=WPS&request=GetCapabilities', undefined, from('cross-site', 'cors'))).status).toBe(200);
    expect((await raw('POST', '/wps', execute, { 'content-type': 'text/xml', ...from('same-origin', 'cors') })).status).toBe(200);
    await expectRefused(await raw('GET', dismiss), 'InvalidParameterValue', 'jobId', 400); // GET Dismiss still served: no such job
  });

  it('counts a client that hangs up mid-upload as 499, not as a server error', async () => {
    const metric = async (code: number) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(new RegExp(`wps_requests_total\\{operation="unparsed",code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const before = { 499: await metric(499), 500: await metric(500) };
    const { hostname, port } = new URL(base);
    const socket = connect(Number(port), hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST /wps HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<wps:GetCapabilities`);
    await wait(100);
    socket.destroy();
    for (let i = 0; i < 100 && (await metric(499)) === before[499]; i++) await wait(20);
    expect(await metric(499)).toBe(before[499] + 1);
    expect(await metric(500)).toBe(before[500]);
  });

  it('echoes values crafted for shells and SQL unchanged, and the store is intact', async () => {
    const sql = `'; DROP TABLE jobs; -- " OR 1=1 $(id) \`id\``;
    const r = await raw('GET', hello(encodeURIComponent(sql)));
    expect(r.status).toBe(200);
    expect(parseXml(r.text).ExecuteResponse.ProcessOutputs.Output[0].Data.LiteralData['#text']).toBe(`Hello ${sql}`);
    const list = await fetch(`${base}/jobs?processID=${encodeURIComponent("' OR '1'='1")}&status=running`);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { jobs: unknown[] }).jobs).toEqual([]);
    expect((await raw('GET', `/jobs/${encodeURIComponent("1' OR '1'='1")}`)).status).toBe(404);
    await expectRefused(await raw('GET', `/wps?service=WPS&request=Dismiss&version=1.0.0&jobId=${encodeURIComponent("1' OR 1=1 --")}`), 'InvalidParameterValue', 'jobId', 400);
    await expectRefused(await raw('GET', `/wps?service=WPS&request=DescribeProcess&version=1.0.0&identifier=${encodeURIComponent("hello'; --")}`), 'InvalidParameterValue', 'identifier', 400);
  });
});

describe('slow uploads', () => {
  it('bodies being read count against limits.requestMemory (beyond: ServerBusy); senders too slow are cut off', async () => {
    const s = await startTestServer({ limits: { maxRequestSize: '64kb', requestMemory: '256kb', requestTimeout: 2, headersTimeout: 1 } });
    const { hostname, port } = new URL(s.url);
    const stalled: Socket[] = [];
    try {
      // Five uploads that send most of their body, then nothing more.
      for (let i = 0; i < 5; i++) {
        const socket = connect(Number(port), hostname);
        socket.on('error', () => undefined);
        socket.write(`POST /wps HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 60000\r\n\r\n${' '.repeat(50_000)}`);
        stalled.push(socket);
      }
      const answers = stalled.map((socket) => {
        let text = '';
        socket.on('data', (d) => (text += d));
        return new Promise<string>((resolve) => socket.on('close', () => resolve(text)));
      });
      for (let i = 0; i < 200 && s.services.requestMemory.inUse < 250_000; i++) await wait(10);
      expect(s.services.requestMemory.inUse).toBe(250_000);
      const busy = await post(s.wps, `<wps:GetCapabilities ${WPS_NS} service="WPS">${' '.repeat(20_000)}</wps:GetCapabilities>`);
      await expectRefused(busy, 'ServerBusy', undefined, 503);
      expect((await fetch(`${s.wps}?service=WPS&request=GetCapabilities`)).status).toBe(200);
      // The server ends the stalled uploads itself (408), and their memory is free again.
      for (const text of await Promise.all(answers)) {
        expect(text).toMatch(/^HTTP\/1\.1 408/);
        // The answer is an ExceptionReport, schema-valid, for a client that can read it.
        const report = text.slice(text.indexOf('\r\n\r\n') + 4);
        expect(exceptionOf(report)).toMatchObject({ code: 'NoApplicableCode', text: 'The request did not arrive whole within 2 s' });
        await expectSchemaValid(report);
      }
      // The server's side of each connection closes just after the client's.
      for (let i = 0; i < 200 && s.services.requestMemory.inUse > 0; i++) await wait(10);
      expect(s.services.requestMemory.inUse).toBe(0);
      const r = await post(s.wps, `<wps:GetCapabilities ${WPS_NS} service="WPS">${' '.repeat(20_000)}</wps:GetCapabilities>`);
      expect(r.status).toBe(200);
    } finally {
      for (const socket of stalled) socket.destroy();
      await s.close();
    }
  });
});
