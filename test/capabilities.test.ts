import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectException, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { processes as defaultProcesses } from '../processes/index.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    server: { languages: ['en-US', 'de-DE'] },
    metadata: {
      title: 'Test WPS',
      abstract: 'A WPS under test',
      keywords: ['test', 'wps'],
      provider: { name: 'Test Org', site: 'https://example.org' },
      contact: { individualName: 'Ada', email: 'ada@example.org', city: 'Zürich', phone: '+41 1', role: 'pointOfContact' },
    },
  });
});
afterAll(() => s.close());

describe('GetCapabilities', () => {
  it('answers KVP GET with a schema-valid wps:Capabilities', async () => {
    const r = await get(`${s.wps}?service=wps&request=GetCapabilities`);
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('text/xml; charset=utf-8');
    // The root is literally wps:Capabilities: the CITE scripts compare the prefixed name.
    expect(r.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><wps:Capabilities /);
    await expectSchemaValid(r.text);
    const doc = parseXml(r.text).Capabilities;
    expect(doc['@version']).toBe('1.0.0');
    expect(doc['@lang']).toBe('en-US');
    expect(doc.ServiceIdentification.Title).toBe('Test WPS');
    expect(doc.ServiceIdentification.ServiceTypeVersion).toBe('1.0.0');
    expect(doc.ServiceIdentification.Keywords.Keyword).toEqual(['test', 'wps']);
    expect(doc.ServiceProvider.ProviderName).toBe('Test Org');
    expect(doc.ServiceProvider.ServiceContact.ContactInfo.Address.ElectronicMailAddress).toBe('ada@example.org');
    expect(doc.Languages.Supported.Language).toEqual(['en-US', 'de-DE']);
    expect(doc.ProcessOfferings.Process.map((p: { Identifier: string }) => p.Identifier)).toEqual(
      ['hello', 'sleep', 'ultimate_question', 'wordcounter', 'bbox', 'inout', 'show_error'],
    );
    expect(doc.ProcessOfferings.Process[0]['@processVersion']).toBe('1.0.0');
  });

  it('advertises exactly one GET and one POST URL per operation, under the public base URL', async () => {
    const doc = parseXml((await get(`${s.wps}?service=WPS&request=GetCapabilities`)).text).Capabilities;
    const ops = doc.OperationsMetadata.Operation;
    expect(ops.map((o: { '@name': string }) => o['@name'])).toEqual(['GetCapabilities', 'DescribeProcess', 'Execute', 'Dismiss']);
    for (const op of ops) {
      expect(op.DCP.HTTP.Get['@href']).toBe(`${s.wps}?`);
      expect(op.DCP.HTTP.Post['@href']).toBe(s.wps);
      expect(op.Parameter).toBeUndefined();
    }
  });

  it('answers the same document over XML POST, as text/xml or application/xml', async () => {
    const body = `<wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" service="WPS"><wps:AcceptVersions><ows:Version>1.0.0</ows:Version></wps:AcceptVersions></wps:GetCapabilities>`;
    const byGet = await get(`${s.wps}?service=WPS&request=GetCapabilities`);
    for (const type of ['text/xml', 'application/xml']) {
      const r = await post(s.wps, body, type);
      expect(r.status).toBe(200);
      expect(r.text).toBe(byGet.text);
    }
  });

  it('takes parameter names in any case and ignores unknown AcceptFormats', async () => {
    for (const q of ['SERVICE=WPS&REQUEST=GetCapabilities', 'aCcepTVersioNS=1.0.0&service=wps&request=GetCapabilities', 'service=WPS&request=GetCapabilities&AcceptFormats=application/x-bxml']) {
      const r = await get(`${s.wps}?${q}`);
      expect(r.status).toBe(200);
      await expectSchemaValid(r.text);
    }
  });

  it('reflects the requested language in xml:lang', async () => {
    const r = await get(`${s.wps}?service=WPS&request=GetCapabilities&language=de-DE`);
    expect(parseXml(r.text).Capabilities['@lang']).toBe('de-DE');
    await expectException(await get(`${s.wps}?service=WPS&request=GetCapabilities&language=fr-FR`), 'InvalidParameterValue', 'language', 400);
  });

  it('fails version negotiation without 1.0.0', async () => {
    for (const v of ['3.0.0', '0.0.1', '2000-01-01']) {
      await expectException(await get(`${s.wps}?service=WPS&request=GetCapabilities&AcceptVersions=${v}`), 'VersionNegotiationFailed', 'AcceptVersions', 400);
    }
  });

  it('follows the configured public base URL', async () => {
    const proxied = await startTestServer({ server: { baseUrl: 'https://maps.example.org/birdhouse' } });
    try {
      const r = await get(`${proxied.wps}?service=WPS&request=GetCapabilities`);
      const op = parseXml(r.text).Capabilities.OperationsMetadata.Operation[0];
      expect(op.DCP.HTTP.Post['@href']).toBe('https://maps.example.org/birdhouse/wps');
    } finally {
      await proxied.close();
    }
  });

  it('answers HEAD with the head alone, and an absolute-form request line like any other', async () => {
    const full = await get(`${s.wps}?service=WPS&request=GetCapabilities`);
    const head = await fetch(`${s.wps}?service=WPS&request=GetCapabilities`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(full.text)));
    expect(await head.text()).toBe('');

    // The form a client sends to a proxy: GET http://host/wps?... HTTP/1.1
    const raw = await rawHttp(`${s.wps}?service=WPS&request=GetCapabilities`);
    expect(raw).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe(full.text);
    // A fragment sent as is (fetch would drop it) is not part of the request.
    const fragment = await rawHttp('/wps?service=WPS&request=GetCapabilities#section');
    expect(fragment.slice(fragment.indexOf('\r\n\r\n') + 4)).toBe(full.text);
  });
});

describe('updateSequence (OWS Common 1.1, 7.3.4)', () => {
  const caps = () => `${s.wps}?service=WPS&request=GetCapabilities`;
  const sequenceOf = async (server: TestServer) => parseXml((await get(`${server.wps}?service=WPS&request=GetCapabilities`)).text).Capabilities['@updateSequence'] as string;

  it('is in the document, and the value a client holds decides the answer', async () => {
    const full = await get(caps());
    const current = parseXml(full.text).Capabilities['@updateSequence'];
    expect(current).toMatch(/^[1-9]\d*$/);
    // The current value: nothing new to send.
    const same = await fetch(`${caps()}&updateSequence=${current}`);
    expect(same.status).toBe(304);
    expect(await same.text()).toBe('');
    // A value this server never gave.
    await expectException(await get(`${caps()}&UPDATESEQUENCE=${BigInt(current) + 1n}`), 'InvalidUpdateSequence', 'updateSequence', 400);
    // An earlier or unreadable value: the whole document.
    for (const held of ['0', 'yesterday', '', '-1']) {
      const r = await get(`${caps()}&updateSequence=${held}`);
      expect(r.status).toBe(200);
      expect(r.text).toBe(full.text);
    }
    const post304 = await fetch(s.wps, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: `<wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS" updateSequence="${current}"/>`,
    });
    expect(post304.status).toBe(304);
  });

  it('grows when the offered processes change, on every server sharing the database, and stays while they do not', async () => {
    // One public address for all: it is part of the document, as behind a load balancer.
    const shared = { database: { schema: `wps_test_sequence_${Date.now()}` }, server: { baseUrl: 'https://wps.example.org' } };
    const first = await startTestServer(shared);
    const started = [first];
    try {
      const fewer = await startTestServer(shared, defaultProcesses.filter((p) => p.identifier !== 'sleep'));
      started.push(fewer);
      const again = await startTestServer(shared);
      started.push(again);
      const same = await startTestServer(shared);
      started.push(same);
      // The same processes, but one for a group only: what callers are offered changed.
      const restricted = await startTestServer({ ...shared, auth: { processes: { sleep: { users: [], groups: ['night-owls'] } } } });
      started.push(restricted);
      const [a, b, c, d, e] = await Promise.all(started.map(sequenceOf));
      expect(BigInt(e!)).toBeGreaterThan(BigInt(d!));
      expect(BigInt(b!)).toBeGreaterThan(BigInt(a!));
      // The first set offered again is a change from the newest: the number never goes back.
      expect(BigInt(c!)).toBeGreaterThan(BigInt(b!));
      expect(d).toBe(c);
      // A server still offering the old set answers by its own sequence.
      await expectException(await get(`${first.url}/wps?service=WPS&request=GetCapabilities&updateSequence=${c}`), 'InvalidUpdateSequence', 'updateSequence', 400);
    } finally {
      for (const server of started.reverse()) await server.close();
    }
  });
});

/** One request sent with its request target exactly as given; the whole answer as text. */
function rawHttp(target: string): Promise<string> {
  const { host, port } = new URL(s.wps);
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.end(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
