import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusalReason } from '../src/inout/address-policy.js';
import { checkedLookup } from '../src/inout/fetch-reference.js';
import { expectException, expectSchemaValid, parseXml, post } from './helpers/http.js';
import { executeXml, reference } from './helpers/requests.js';
import { expectAllValid, followStatus, statusLocationOf } from './helpers/async.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { processes } from '../processes/index.js';
import { complexInput, defineProcess, literalOutput } from '../src/process/declare.js';

/** A loopback server playing the remote data host, good and bad. */
let remote: Server;
let origin: string;
/** A second remote host: another origin (another port) that tells which headers reached it. */
let other: Server;
let otherOrigin: string;
const sockets = new Set<import('node:net').Socket>();
/** Requests the remote host received, by path, and the most it served at once. */
const hits = new Map<string, number>();
let inFlight = 0;
let mostInFlight = 0;
const resetCounts = () => {
  hits.clear();
  mostInFlight = 0;
};
const hitsOf = (path: string) => hits.get(path) ?? 0;
beforeAll(async () => {
  other = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`token ${req.headers['x-token'] ?? 'none'}`));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  otherOrigin = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  remote = createServer((req, res) => {
    const chunks: Buffer[] = [];
    hits.set(req.url!, hitsOf(req.url!) + 1);
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    res.on('close', () => inFlight--);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      switch (req.url) {
        case '/slow':
          setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow words'), 200);
          break;
        case '/60kb':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('w '.repeat(30 * 1024));
          break;
        case '/to-other':
          res.writeHead(302, { location: `${otherOrigin}/headers` }).end();
          break;
        case '/to-echo':
          res.writeHead(302, { location: '/echo' }).end();
          break;
        case '/text':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('alpha beta alpha');
          break;
        case '/echo':
          res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.headers['x-token'] ?? ''} ${body}`);
          break;
        case '/body':
          res.writeHead(200).end('from the body reference');
          break;
        case '/redirect':
          res.writeHead(302, { location: '/text' }).end();
          break;
        case '/to-metadata':
          res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
          break;
        case '/big':
          res.writeHead(200, { 'content-length': String(200 * 1024) }).end('b'.repeat(200 * 1024));
          break;
        case '/endless': {
          // Streams forever without announcing a length.
          res.writeHead(200, { 'content-type': 'text/plain' });
          const timer = setInterval(() => res.write('word '.repeat(1000)), 1);
          res.on('close', () => clearInterval(timer));
          break;
        }
        case '/stall':
          // Accepts, answers nothing.
          break;
        default:
          res.writeHead(500).end('broken');
      }
    });
  });
  remote.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(remote.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => remote.close(r));
  await new Promise((r) => other.close(r));
});

/** Takes any number of text parts (by reference, mostly) and counts their bytes. */
const concat = defineProcess({
  identifier: 'concat',
  title: 'Concatenates text parts',
  inputs: [complexInput('part', { title: 'Part', formats: [{ mimeType: 'text/plain' }], minOccurs: 1, maxOccurs: 500 })],
  outputs: [literalOutput('bytes', { title: 'Bytes', dataType: 'integer' })],
  handler: ({ inputs }) => ({ bytes: inputs.all('part').reduce((n, p) => n + (p.type === 'complex' ? p.data.length : 0), 0) }),
});

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(
    {
      references: { allow: ['127.0.0.1'] },
      limits: { referenceTimeout: 1, maxInputSize: '64kb', maxReferences: 20, maxFetchedBytes: '150kb' },
    },
    [...processes, concat],
  );
});
afterAll(() => s.close());

const count = (ref: string) => post(s.wps, executeXml('wordcounter', ref));

async function totalOf(ref: string): Promise<unknown> {
  const r = await count(ref);
  expect(r.status, r.text).toBe(200);
  await expectSchemaValid(r.text);
  const out = parseXml(r.text).ExecuteResponse.ProcessOutputs.Output[0];
  return JSON.parse(out.Data.ComplexData['#text']);
}

describe('inputs by reference', () => {
  it('fetches a GET reference, following a redirect', async () => {
    expect(await totalOf(reference('text', `${origin}/text`, ' mimeType="text/plain"'))).toEqual({ total: 3, counts: { alpha: 2, beta: 1 } });
    expect(await totalOf(reference('text', `${origin}/redirect`))).toMatchObject({ total: 3 });
  });

  it('sends a POST reference with its Body and headers', async () => {
    const ref = reference('text', `${origin}/echo`, ' method="POST"', '<wps:Header key="X-Token" value="secret"/><wps:Body>payload words</wps:Body>');
    expect(await totalOf(ref)).toEqual({ total: 4, counts: { post: 1, secret: 1, payload: 1, words: 1 } });
  });

  it('fetches a BodyReference before sending the POST', async () => {
    const ref = reference('text', `${origin}/echo`, ' method="POST"', `<wps:BodyReference xlink:href="${origin}/body"/>`);
    expect(await totalOf(ref)).toMatchObject({ counts: { from: 1, the: 1, body: 1, reference: 1 } });
  });

  it('fetches references given in KVP DataInputs', async () => {
    const r = await fetch(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=wordcounter&DataInputs=text=@xlink:href=${encodeURIComponent(`${origin}/text`)}@mimeType=text/plain&RawDataOutput=output`);
    expect(await r.json()).toMatchObject({ total: 3 });
  });

  it('answers an HTTP error from the remote host as InvalidParameterValue', async () => {
    const ex = await expectException(await count(reference('text', `${origin}/missing`)), 'InvalidParameterValue', 'text', 400);
    expect(ex.text).toMatch(/HTTP 500/);
  });

  it('stops a reference over the size cap: announced, or streamed without end', async () => {
    await expectException(await count(reference('text', `${origin}/big`)), 'FileSizeExceeded', 'text', 413);
    await expectException(await count(reference('text', `${origin}/endless`)), 'FileSizeExceeded', 'text', 413);
  });

  it('gives up on a host that accepts and never answers, within the timeout', async () => {
    const started = Date.now();
    const ex = await expectException(await count(reference('text', `${origin}/stall`)), 'InvalidParameterValue', 'text', 400);
    expect(ex.text).toMatch(/longer than 1 s/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives up on a port that never accepts, within the timeout', async () => {
    const ex = await expectException(await count(reference('text', 'http://127.0.0.1:9/')), 'InvalidParameterValue', 'text', 400);
    expect(ex.text).toMatch(/could not be fetched|longer than/);
  });

  it('refuses file: and other schemes', async () => {
    for (const href of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1/']) {
      const ex = await expectException(await count(reference('text', href)), 'InvalidParameterValue', 'text', 400);
      expect(ex.text).toMatch(/only http and https/);
    }
  });

  it('refuses a redirect to a metadata address before connecting', async () => {
    const ex = await expectException(await count(reference('text', `${origin}/to-metadata`)), 'InvalidParameterValue', 'text', 400);
    expect(ex.text).toMatch(/169\.254\.169\.254 is a linkLocal address/);
  });

  it('refuses loopback under the default policy', async () => {
    const strict = await startTestServer();
    try {
      const r = await post(strict.wps, executeXml('wordcounter', reference('text', `${origin}/text`)));
      const ex = await expectException(r, 'InvalidParameterValue', 'text', 400);
      expect(ex.text).toMatch(/loopback/);
    } finally {
      await strict.close();
    }
  });
});

describe('references are counted and checked before any is fetched', () => {
  const parts = (...hrefs: string[]) => executeXml('concat', hrefs.map((h) => reference('part', h, ' mimeType="text/plain"')).join(''));
  const many = (n: number, path: string) => Array.from({ length: n }, () => `${origin}${path}`);
  const jobs = async () => ((await (await fetch(`${s.url}/jobs?limit=1`)).json()) as { numberMatched: number }).numberMatched;

  it('ten references to an input taken once: refused, nothing fetched (sync and async)', async () => {
    resetCounts();
    const refs = many(10, '/text').map((h) => reference('text', h)).join('');
    const ex = await expectException(await post(s.wps, executeXml('wordcounter', refs)), 'InvalidParameterValue', 'text', 400);
    expect(ex.text).toMatch(/given 10 times; at most 1/);
    const before = await jobs();
    const form = '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm>';
    await expectException(await post(s.wps, executeXml('wordcounter', refs, form)), 'InvalidParameterValue', 'text', 400);
    expect(await jobs()).toBe(before);
    expect(hitsOf('/text')).toBe(0);
  });

  it('a format the input does not take, or an invalid header: refused before fetching', async () => {
    resetCounts();
    const png = reference('text', `${origin}/text`, ' mimeType="image/png"');
    await expectException(await post(s.wps, executeXml('wordcounter', png)), 'InvalidParameterValue', 'text', 400);
    const badHeader = reference('text', `${origin}/text`, '', '<wps:Header key="X Bad:" value="v"/>');
    const ex = await expectException(await post(s.wps, executeXml('wordcounter', badHeader)), 'InvalidParameterValue', 'text', 400);
    expect(ex.text).toMatch(/not a valid HTTP header/);
    const badValue = reference('text', `${origin}/text`, '', '<wps:Header key="X-Token" value="a&#x7f;b"/>');
    await expectException(await post(s.wps, executeXml('wordcounter', badValue)), 'InvalidParameterValue', 'text', 400);
    expect(hitsOf('/text')).toBe(0);
  });

  it('more references than limits.maxReferences: refused before fetching', async () => {
    resetCounts();
    const ex = await expectException(await post(s.wps, parts(...many(21, '/text'))), 'InvalidParameterValue', 'DataInputs', 400);
    expect(ex.text).toMatch(/gives 21 references; at most 20/);
    expect(hitsOf('/text')).toBe(0);
  });

  it('fetches at most four at once', async () => {
    resetCounts();
    const r = await post(s.wps, parts(...many(12, '/slow')));
    expect(r.status, r.text).toBe(200);
    expect(parseXml(r.text).ExecuteResponse.ProcessOutputs.Output[0].Data.LiteralData['#text']).toBe(String(12 * 'slow words'.length));
    expect(hitsOf('/slow')).toBe(12);
    expect(mostInFlight).toBe(4);
  });

  it('the first failure stops the rest', async () => {
    resetCounts();
    const ex = await expectException(await post(s.wps, parts(`${origin}/missing`, ...many(11, '/slow'))), 'InvalidParameterValue', 'part', 400);
    expect(ex.text).toMatch(/HTTP 500/);
    // The three begun beside the failing one are cut off; the other eight never start.
    expect(hitsOf('/slow')).toBeLessThanOrEqual(3);
  });

  it('the references of one request add up to at most limits.maxFetchedBytes', async () => {
    resetCounts();
    const ex = await expectException(await post(s.wps, parts(...many(3, '/60kb'))), 'FileSizeExceeded', 'DataInputs', 413);
    expect(ex.text).toMatch(/add up to more than 153600 bytes/);
    const r = await post(s.wps, parts(...many(2, '/60kb')));
    expect(r.status, r.text).toBe(200);
  });

  it("references of synchronous runs count against limits.requestMemory: beyond, ServerBusy", async () => {
    const tight = await startTestServer(
      { references: { allow: ['127.0.0.1'] }, limits: { maxRequestSize: '64kb', requestMemory: '100kb' } },
      [concat],
    );
    try {
      await expectException(await post(tight.wps, parts(...many(2, '/60kb'))), 'ServerBusy', undefined, 503);
      expect(tight.services.requestMemory.inUse).toBe(0);
      const r = await post(tight.wps, parts(`${origin}/60kb`));
      expect(r.status, r.text).toBe(200);
    } finally {
      await tight.close();
    }
  });
});

describe("a reference's headers", () => {
  it('are sent on a redirect within the origin, dropped on one to another origin', async () => {
    const withToken = (path: string) => reference('text', `${origin}${path}`, '', '<wps:Header key="X-Token" value="secret"/>');
    expect(await totalOf(withToken('/to-echo'))).toMatchObject({ counts: { get: 1, secret: 1 } });
    expect(await totalOf(withToken('/to-other'))).toEqual({ total: 2, counts: { token: 1, none: 1 } });
  });

  it('appear in lineage by key only, never with their value', async () => {
    const form = '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true" lineage="true"/></wps:ResponseForm>';
    const ref = reference('text', `${origin}/text`, '', '<wps:Header key="Authorization" value="Bearer s3cr3t-t0ken"/>');
    const r = await post(s.wps, executeXml('wordcounter', ref, form));
    expect(r.status, r.text).toBe(200);
    const views = await followStatus(statusLocationOf(r.text));
    expect(views.at(-1)!.name).toBe('ProcessSucceeded');
    for (const doc of [r.text, ...views.map((v) => v.xml)]) {
      expect(doc).not.toMatch(/s3cr3t/);
      expect(doc).toMatch(/<wps:Header key="Authorization" value=""\/>/);
    }
    await expectAllValid(views);
  });
});

describe('the address check', () => {
  const open = { allow: [], deny: [] };

  it('always refuses metadata, link-local, unspecified and multicast addresses, even when allowed', () => {
    const everything = { allow: ['0.0.0.0/0', '::/0'], deny: [] };
    for (const ip of ['169.254.169.254', '169.254.170.2', '::ffff:169.254.169.254', 'fd00:ec2::254', '100.100.100.200', 'fe80::1', '0.0.0.0', '::', '224.0.0.1', '255.255.255.255']) {
      expect(refusalReason(ip, ip, everything), ip).toBeDefined();
    }
  });

  it('refuses private, loopback and shared ranges by default', () => {
    for (const ip of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '::1', 'fc00::1', '100.64.0.1']) {
      expect(refusalReason(ip, ip, open), ip).toBeDefined();
    }
    expect(refusalReason('93.184.216.34', 'example.org', open)).toBeUndefined();
  });

  it('allows private ranges only through an address or CIDR entry, and honours the deny list', () => {
    const lab = { allow: ['10.0.0.0/8', 'data.example.org', '*.cluster.local'], deny: ['10.9.0.0/16'] };
    expect(refusalReason('10.1.2.3', '10.1.2.3', lab)).toBeUndefined();
    expect(refusalReason('10.1.2.3', 'nfs.cluster.local', lab)).toBeUndefined();
    expect(refusalReason('10.9.0.5', '10.9.0.5', lab)).toMatch(/deny/);
    expect(refusalReason('93.184.216.34', 'data.example.org', lab)).toBeUndefined();
    expect(refusalReason('93.184.216.34', 'nfs.cluster.local', lab)).toBeUndefined();
    expect(refusalReason('93.184.216.34', 'example.org', lab)).toMatch(/not on the allow list/);
    expect(refusalReason('93.184.216.34', 'evil.org', { allow: [], deny: ['evil.org'] })).toMatch(/deny/);
    expect(refusalReason('127.0.0.1', '127.0.0.1', { allow: ['127.0.0.1'], deny: [] })).toBeUndefined();
    expect(refusalReason('::1', '::1', { allow: ['[::1]'], deny: [] })).toBeUndefined();
  });

  it('opens no loopback, private or unique-local address through a host name on the allow list', () => {
    const names = { allow: ['*.example.org', 'data.example.org'], deny: [] };
    for (const ip of ['127.0.0.1', '10.0.0.5', '172.16.0.1', '192.168.1.1', '100.64.0.1', '::1', 'fd00::1', 'fc00::5', '198.18.0.1']) {
      for (const host of ['data.example.org', 'a.example.org']) {
        expect(refusalReason(ip, host, names), `${ip} as ${host}`).toMatch(/opens public addresses only/);
      }
    }
    // A name resolving to a public and a loopback address: every address is checked.
    const lookup = checkedLookup({ allow: ['localhost'], deny: [] });
    return new Promise<void>((resolve) =>
      lookup('localhost', { all: true }, (err) => {
        expect(err?.message).toMatch(/loopback/);
        resolve();
      }),
    );
  });

  it('judges NAT64, 6to4, Teredo, IPv4-compatible and translated forms as the IPv4 address they carry', () => {
    const nat64 = { allow: ['64:ff9b::/96'], deny: [] };
    const forms = {
      '64:ff9b::a9fe:a9fe': '169.254.169.254', // NAT64 of the metadata address
      '64:ff9b:1::a9fe:a9fe': '169.254.169.254',
      '2002:a9fe:a9fe::1': '169.254.169.254', // 6to4
      '2001:0:4136:e378:8000:63bf:5601:5601': '169.254.169.254', // Teredo: the client address inverted
      '::a9fe:a9fe': '169.254.169.254', // IPv4-compatible
      '::ffff:0:a9fe:a9fe': '169.254.169.254', // SIIT
    };
    for (const [ip, carried] of Object.entries(forms)) {
      expect(refusalReason(ip, ip, nat64), ip).toBe(`${carried} is a linkLocal address`);
      expect(refusalReason(ip, ip, { allow: ['0.0.0.0/0', '::/0'], deny: [] }), ip).toMatch(/linkLocal/);
    }
    // A carried private address needs its own IPv4 entry, not the NAT64 prefix.
    expect(refusalReason('64:ff9b::a00:5', '64:ff9b::a00:5', nat64)).toMatch(/10\.0\.0\.5 is a private address/);
    expect(refusalReason('64:ff9b::7f00:1', 'x.example.org', { allow: ['*.example.org'], deny: [] })).toMatch(/loopback/);
    expect(refusalReason('64:ff9b::a00:5', '64:ff9b::a00:5', { allow: ['10.0.0.0/8'], deny: [] })).toBeUndefined();
    // A carried public address passes as that address would, and a deny entry sees it too.
    expect(refusalReason('64:ff9b::5db8:d822', '64:ff9b::5db8:d822', nat64)).toBeUndefined();
    expect(refusalReason('64:ff9b::5db8:d822', 'h', { allow: [], deny: ['93.184.216.0/24'] })).toMatch(/deny/);
  });

  it('checks the address a host name resolves to', async () => {
    const lookup = checkedLookup(open);
    const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
    expect(err?.message).toMatch(/loopback/);
    const allowed = checkedLookup({ allow: ['127.0.0.0/8', '::1'], deny: [] });
    const ok = await new Promise<Error | null>((resolve) => allowed('localhost', {}, (e) => resolve(e)));
    expect(ok).toBeNull();
  });
});
