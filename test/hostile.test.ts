import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from './helpers/child-server.js';
import { exceptionOf, expectSchemaValid, parseXml } from './helpers/http.js';
import { freePort } from './helpers/server.js';
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

  it('refuses a 1 MB query string with an ExceptionReport', async () => {
    await expectRefused(await raw('GET', `/wps?service=WPS&request=GetCapabilities&x=${'a'.repeat(1024 * 1024)}`), 'FileSizeExceeded', undefined, 431);
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
