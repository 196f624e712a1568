import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusalReason } from '../src/inout/address-policy.js';
import { checkedLookup } from '../src/inout/fetch-reference.js';
import { expectException, expectSchemaValid, parseXml, post } from './helpers/http.js';
import { executeXml, reference } from './helpers/requests.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A loopback server playing the remote data host, good and bad. */
let remote: Server;
let origin: string;
const sockets = new Set<import('node:net').Socket>();
beforeAll(async () => {
  remote = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      switch (req.url) {
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
});

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    references: { allow: ['127.0.0.1'] },
    limits: { referenceTimeout: 1, maxInputSize: '64kb' },
  });
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

  it('allows private ranges only when the allow list names them, and honours the deny list', () => {
    const lab = { allow: ['10.0.0.0/8', 'data.example.org', '*.cluster.local'], deny: ['10.9.0.0/16'] };
    expect(refusalReason('10.1.2.3', '10.1.2.3', lab)).toBeUndefined();
    expect(refusalReason('10.9.0.5', '10.9.0.5', lab)).toMatch(/deny/);
    expect(refusalReason('192.168.1.1', 'data.example.org', lab)).toBeUndefined();
    expect(refusalReason('192.168.1.1', 'nfs.cluster.local', lab)).toBeUndefined();
    expect(refusalReason('93.184.216.34', 'example.org', lab)).toMatch(/not on the allow list/);
    expect(refusalReason('93.184.216.34', 'evil.org', { allow: [], deny: ['evil.org'] })).toMatch(/deny/);
  });

  it('checks the address a host name resolves to', async () => {
    const lookup = checkedLookup(open);
    const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
    expect(err?.message).toMatch(/loopback/);
    const allowed = checkedLookup({ allow: ['localhost'], deny: [] });
    const ok = await new Promise<Error | null>((resolve) => allowed('localhost', {}, (e) => resolve(e)));
    expect(ok).toBeNull();
  });
});
