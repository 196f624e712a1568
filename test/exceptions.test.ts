import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processes } from '../processes/index.js';
import { complexInput, complexOutput, defineProcess, literalInput, literalOutput } from '../src/process/declare.js';
import { expectException, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { executeXml } from './helpers/requests.js';
import { syncOnly } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { smallDisk } from './helpers/temp-dir.js';

const small = defineProcess({
  identifier: 'small_input',
  title: 'Takes at most one megabyte',
  inputs: [complexInput('data', { title: 'Data', formats: [{ mimeType: 'text/plain' }, { mimeType: 'text/csv' }], maximumMegabytes: 1 })],
  outputs: [complexOutput('out', { title: 'Out', formats: [{ mimeType: 'text/plain' }] })],
  handler: ({ inputs }) => ({ out: String(inputs.complex('data')!.data.length) }),
});
const big = defineProcess({
  identifier: 'big_output',
  title: 'Writes a megabyte',
  inputs: [],
  outputs: [complexOutput('out', { title: 'Out', formats: [{ mimeType: 'text/plain' }] })],
  handler: () => ({ out: 'x'.repeat(1 << 20) }),
});
const crash = defineProcess({
  identifier: 'crash',
  title: 'Throws a TypeError',
  inputs: [],
  outputs: [literalOutput('out', { title: 'Out', dataType: 'string' })],
  handler: () => {
    const missing: { value?: { deep: string } } = {};
    return { out: missing.value!.deep };
  },
});
const slow = defineProcess({
  identifier: 'slow',
  title: 'Waits',
  inputs: [literalInput('seconds', { title: 'Seconds', dataType: 'float', default: 1 })],
  outputs: [literalOutput('out', { title: 'Out', dataType: 'string' })],
  handler: async ({ inputs, signal }) => {
    await wait(Number(inputs.literal('seconds')!.value) * 1000, undefined, { signal });
    return { out: 'woke' };
  },
});
const oddType = defineProcess({
  identifier: 'odd_type',
  title: 'An output type that cannot go in an HTTP header',
  inputs: [],
  outputs: [complexOutput('typed', { title: 'A type with a control character', formats: [{ mimeType: 'text/plain\u0001' }] })],
  handler: () => ({ typed: 'x' }),
});
const all = [...processes, syncOnly, small, big, crash, slow, oddType];

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ limits: { maxRequestSize: '2mb', maxQueryLength: '8kb', syncTimeout: 0.5, maxSyncExecutions: 2 } }, all);
});
afterAll(() => s.close());

const kvp = (q: string) => get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&${q}`);

describe('exceptions: every code with its locator and HTTP status', () => {
  it('MissingParameterValue (400)', async () => {
    await expectException(await get(s.wps), 'MissingParameterValue', 'service', 400);
    await expectException(await get(`${s.wps}?service=WPS`), 'MissingParameterValue', 'request', 400);
    await expectException(await kvp('identifier=hello'), 'MissingParameterValue', 'name', 400);
    await expectException(await kvp('DataInputs=name=x'), 'MissingParameterValue', 'identifier', 400);
  });

  it('InvalidParameterValue (400) for each kind of bad value', async () => {
    const cases: [string, string][] = [
      ['identifier=nope', 'identifier'],
      ['identifier=inout&DataInputs=int_in=11;bool_in=true;float_in=1;string_in=rock', 'int_in'],
      ['identifier=inout&DataInputs=int_in=two;bool_in=true;float_in=1;string_in=rock', 'int_in'],
      ['identifier=inout&DataInputs=int_in=1;bool_in=yes;float_in=1;string_in=rock', 'bool_in'],
      ['identifier=inout&DataInputs=int_in=1;bool_in=true;float_in=1@uom=inch;string_in=rock', 'float_in'],
      ['identifier=inout&DataInputs=int_in=1;bool_in=true;float_in=1;string_in=lizard', 'string_in'],
      ['identifier=inout&DataInputs=int_in=1;bool_in=true;float_in=1;string_in=rock;tags=a;tags=b;tags=c;tags=d', 'tags'],
      ['identifier=inout&DataInputs=int_in=1;int_in=2;bool_in=true;float_in=1;string_in=rock', 'int_in'],
      ['identifier=hello&DataInputs=name=x;colour=red', 'colour'],
      ['identifier=wordcounter&DataInputs=text=abc@mimeType=application/pdf', 'text'],
      ['identifier=hello&DataInputs=name=x&ResponseDocument=nothing', 'nothing'],
      ['identifier=wordcounter&DataInputs=text=a@mimeType=text/plain&RawDataOutput=output@mimeType=text/csv', 'output'],
      ['identifier=bbox&DataInputs=bboxin=1,2,3,4,EPSG:9999', 'bboxin'],
      ['identifier=bbox&DataInputs=bboxin=1,2,3', 'bboxin'],
      ['identifier=sleep&DataInputs=delay=61', 'delay'],
      ['identifier=hello&DataInputs=name=x&status=true', 'status'],
    ];
    for (const [q, locator] of cases) {
      const ex = await expectException(await kvp(q), 'InvalidParameterValue', locator, 400);
      expect(ex.text.length).toBeGreaterThan(10);
    }
  });

  it('InvalidParameterValue (400) on the request for malformed or non-XML bodies', async () => {
    for (const body of ['test', '<wps:getcapabilities xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS"></wps:GetCapabilities>', '\u00ff\u00fe<']) {
      await expectException(await post(s.wps, body), 'InvalidParameterValue', 'request', 400);
    }
    await expectException(await post(s.wps, new Uint8Array([0x3c, 0x61, 0xff, 0xfe, 0x2f, 0x3e])), 'InvalidParameterValue', 'request', 400);
  });

  it('a POST is judged by its body: empty means MissingParameterValue, never the query string', async () => {
    for (const q of ['service=wps&version=1.0.0&request=GetCapabilities', 'service=wps&request=DescribeProcess&Version=1.0.0']) {
      await expectException(await post(`${s.wps}?${q}`, ''), 'MissingParameterValue', 'request', 400);
    }
  });

  it('VersionNegotiationFailed (400)', async () => {
    await expectException(await get(`${s.wps}?service=WPS&request=GetCapabilities&AcceptVersions=2.0.0`), 'VersionNegotiationFailed', 'AcceptVersions', 400);
    await expectException(await get(`${s.wps}?service=WPS&request=Execute&version=0.4.0&identifier=hello`), 'VersionNegotiationFailed', 'version', 400);
  });

  it('OperationNotSupported (501, 405 for other HTTP methods)', async () => {
    await expectException(await get(`${s.wps}?service=WPS&request=GetMeASandwich`), 'OperationNotSupported', 'GetMeASandwich', 501);
    await expectException(
      await post(s.wps, '<wps:GetStatus xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS" version="1.0.0"/>'),
      'OperationNotSupported',
      'GetStatus',
      501,
    );
    const put = await fetch(s.wps, { method: 'PUT', body: 'x' });
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    await expectException({ status: put.status, contentType: put.headers.get('content-type')!, text: await put.text(), headers: put.headers }, 'OperationNotSupported', 'PUT', 405);
  });

  it('NoApplicableCode (500) when a raw output cannot be produced', async () => {
    const ex = await expectException(await kvp('identifier=show_error&RawDataOutput=output'), 'NoApplicableCode', undefined, 500);
    expect(ex.text).toBe('This process failed intentionally.');
  });

  it('StorageNotSupported (400) for a synchronous-only process', async () => {
    await expectException(await kvp('identifier=sync_only&storeExecuteResponse=true'), 'StorageNotSupported', 'storeExecuteResponse', 400);
  });

  it('FileSizeExceeded (413) for a body over the limit and an input over its maximumMegabytes', async () => {
    const huge = executeXml('hello', `<wps:Input><ows:Identifier>name</ows:Identifier><wps:Data><wps:LiteralData>${'x'.repeat(3 << 20)}</wps:LiteralData></wps:Data></wps:Input>`);
    await expectException(await post(s.wps, huge), 'FileSizeExceeded', undefined, 413);
    const over = executeXml('small_input', `<wps:Input><ows:Identifier>data</ows:Identifier><wps:Data><wps:ComplexData mimeType="text/csv">${'y'.repeat(1.5 * (1 << 20))}</wps:ComplexData></wps:Data></wps:Input>`);
    await expectException(await post(s.wps, over), 'FileSizeExceeded', 'data', 413);
  });

  it('FileSizeExceeded for a KVP query over the limit (414), even past what the HTTP parser holds, and for long headers (431)', async () => {
    await expectException(await kvp(`identifier=hello&DataInputs=name=${'z'.repeat(9000)}`), 'FileSizeExceeded', undefined, 414);
    const caps = '/wps?service=WPS&request=GetCapabilities';
    await expectException(await rawGet(`${caps}&x=${'z'.repeat(64 * 1024)}`), 'FileSizeExceeded', undefined, 414);
    await expectException(await rawGet(`${caps}&x=${'%20'.repeat(200 * 1024)}`), 'FileSizeExceeded', undefined, 414);
    const cookie = Array.from({ length: 8000 }, (_, i) => `c${i}=v${i}`).join('; ');
    await expectException(await rawGet(caps, { cookie }), 'FileSizeExceeded', undefined, 431);
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-header-${i}`, 'a value of some length']));
    await expectException(await rawGet(caps, many), 'FileSizeExceeded', undefined, 431);
  });

  it('ServerBusy (503) when every synchronous slot is taken', async () => {
    const running = [kvp('identifier=slow&DataInputs=seconds=0.3'), kvp('identifier=slow&DataInputs=seconds=0.3')];
    await wait(50);
    await expectException(await kvp('identifier=hello&DataInputs=name=x'), 'ServerBusy', undefined, 503);
    for (const r of await Promise.all(running)) expect(r.status).toBe(200);
    expect((await kvp('identifier=hello&DataInputs=name=x')).status).toBe(200);
  });

  it('NotEnoughStorage (507) when an output by reference does not fit on storage', async () => {
    const disk = smallDisk('wps-full-', '256k');
    const full = await startTestServer({ storage: { dir: disk.dir } }, all);
    try {
      const r = await get(`${full.wps}?service=WPS&request=Execute&version=1.0.0&identifier=big_output&ResponseDocument=out@asReference=true`);
      await expectException(r, 'NotEnoughStorage', 'out', 507);
      expect(readdirSync(disk.dir, { recursive: true }).filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
    } finally {
      await full.close().catch(() => undefined);
      disk.unmount();
    }
  });
});

describe('a failing process never hurts the server', () => {
  it('a process that throws an Error gives ProcessFailed with a generic text; the log has the cause', async () => {
    const logged: Record<string, unknown>[] = [];
    const log = s.services.log;
    s.services.log = (entry) => logged.push(entry);
    try {
      const r = await kvp('identifier=crash');
      await expectSchemaValid(r.text);
      const ex = parseXml(r.text).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0];
      expect(ex.ExceptionText).toBe("Process crash failed; the operator can find the cause in the server's log");
      expect(r.text).not.toMatch(/Cannot read properties|at .*\.js:\d+/);
    } finally {
      s.services.log = log;
    }
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', processId: 'crash', err: expect.stringMatching(/Cannot read properties of undefined/) }));
  });

  it('a process over the time limit is stopped and reported', async () => {
    const started = Date.now();
    const r = await kvp('identifier=slow&DataInputs=seconds=5');
    expect(Date.now() - started).toBeLessThan(3000);
    await expectSchemaValid(r.text);
    const ex = parseXml(r.text).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0];
    expect(ex.ExceptionText).toBe('Process slow did not finish within 0.5 s and was stopped');
    expect((await kvp('identifier=hello&DataInputs=name=after')).status).toBe(200);
  });

  it('a raw output whose type Node cannot send in a header is a NoApplicableCode report', async () => {
    await expectException(await kvp('identifier=odd_type&RawDataOutput=typed'), 'NoApplicableCode', undefined, 500);
    const raw = await rawGet('/wps?service=WPS&request=Execute&version=1.0.0&identifier=odd_type&RawDataOutput=typed');
    expect(raw.statusLine).toBe('500 Internal Server Error');
    expect((await kvp('identifier=hello&DataInputs=name=after')).status).toBe(200);
  });
});

describe('outputs URL', () => {
  it('serves nothing outside what the store hands out', async () => {
    for (const path of ['/outputs/../package.json', '/outputs/%2e%2e/%2e%2e/etc/passwd', '/outputs/.hidden', '/outputs/a/b/c', '/outputs/nope.xml']) {
      const r = await rawGet(path);
      expect(r.status, path).toBe(404);
    }
  });
});

/** A GET sent as written (fetch would normalize the path). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; statusLine: string; contentType: string; text: string; headers: Headers }> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          statusLine: `${res.statusCode} ${res.statusMessage}`,
          contentType: String(res.headers['content-type'] ?? ''),
          text,
          headers: new Headers(),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
