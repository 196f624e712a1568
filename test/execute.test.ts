import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exceptionOf, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { complex, executeXml, literal } from './helpers/requests.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const kvp = (q: string) => get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&${q}`);
/** The ExecuteResponse after checking it is schema-valid and answered 200. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function response(r: { status: number; text: string }): Promise<any> {
  expect(r.status, r.text).toBe(200);
  await expectSchemaValid(r.text);
  return parseXml(r.text).ExecuteResponse;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const outputsOf = (doc: any): Record<string, any> =>
  Object.fromEntries(doc.ProcessOutputs.Output.map((o: { Identifier: string }) => [o.Identifier, o]));

describe('synchronous Execute', () => {
  it('runs hello over KVP GET', async () => {
    const doc = await response(await kvp('identifier=hello&DataInputs=name=World'));
    expect(doc['@serviceInstance']).toBe(`${s.wps}?service=WPS&request=GetCapabilities`);
    expect(doc.Process[0].Identifier).toBe('hello');
    expect(doc.Status.ProcessSucceeded).toBeDefined();
    expect(doc.Status['@creationTime']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(doc.Status.ProcessSucceeded['@percentCompleted']).toBeUndefined();
    expect(outputsOf(doc).output.Data.LiteralData).toEqual({ '#text': 'Hello World', '@dataType': 'string' });
  });

  it('runs hello over XML POST as text/xml and application/xml', async () => {
    for (const type of ['text/xml', 'application/xml']) {
      const doc = await response(await post(s.wps, executeXml('hello', literal('name', 'Ünïcödé &amp; co')), type));
      expect(outputsOf(doc).output.Data.LiteralData['#text']).toBe('Hello Ünïcödé & co');
    }
  });

  it('runs ultimate_question without inputs', async () => {
    const doc = await response(await kvp('identifier=ultimate_question'));
    expect(outputsOf(doc).answer.Data.LiteralData['#text']).toBe('42');
  });

  it('counts words of complex text given as text, CDATA, or a literal (as OWSLib sends plain strings)', async () => {
    const expected = { total: 5, counts: { the: 2, cat: 1, sat: 1, '42': 1 } };
    for (const input of [
      complex('text', 'The cat, the 42 sat.'),
      complex('text', '<![CDATA[The cat, the 42 sat.]]>'),
      literal('text', 'The cat, the 42 sat.'),
    ]) {
      const doc = await response(await post(s.wps, executeXml('wordcounter', input)));
      const cd = outputsOf(doc).output.Data.ComplexData;
      expect(cd['@mimeType']).toBe('application/json');
      expect(JSON.parse(cd['#text'])).toEqual(expected);
    }
    const raw = await kvp('identifier=wordcounter&DataInputs=text=a%20b%20a@mimeType=text/plain&RawDataOutput=output');
    expect(raw.contentType).toBe('application/json');
    expect(JSON.parse(raw.text)).toEqual({ total: 3, counts: { a: 2, b: 1 } });
  });

  it('decodes base64 complex input', async () => {
    const doc = await response(
      await post(s.wps, executeXml('wordcounter', complex('text', Buffer.from('one two two').toString('base64'), ' mimeType="text/plain" encoding="base64"'))),
    );
    expect(JSON.parse(outputsOf(doc).output.Data.ComplexData['#text']).total).toBe(3);
  });

  it('echoes a bounding box; a box without CRS (QGIS) takes the default', async () => {
    const box = (attrs: string) =>
      `<wps:Input><ows:Identifier>bboxin</ows:Identifier><wps:Data><wps:BoundingBoxData${attrs}><ows:LowerCorner>-10.5 40</ows:LowerCorner><ows:UpperCorner>5 52.25</ows:UpperCorner></wps:BoundingBoxData></wps:Data></wps:Input>`;
    let doc = await response(await post(s.wps, executeXml('bbox', box(' crs="urn:ogc:def:crs:EPSG::3857"'))));
    expect(outputsOf(doc).bboxout.Data.BoundingBoxData).toEqual({
      '@crs': 'EPSG:3857', '@dimensions': '2', LowerCorner: '-10.5 40', UpperCorner: '5 52.25',
    });
    doc = await response(await post(s.wps, executeXml('bbox', box(' dimensions="2"'))));
    expect(outputsOf(doc).bboxout.Data.BoundingBoxData['@crs']).toBe('EPSG:4326');
    doc = await response(await kvp('identifier=bbox&DataInputs=bboxin=1,2,3,4,EPSG:4326'));
    expect(outputsOf(doc).bboxout.Data.BoundingBoxData).toMatchObject({ LowerCorner: '1 2', UpperCorner: '3 4' });
    const raw = await kvp('identifier=bbox&DataInputs=bboxin=1,2,3,4&RawDataOutput=bboxout');
    expect(raw.contentType).toMatch(/^text\/xml/);
    await expectSchemaValid(raw.text);
  });

  it('echoes inout values in their XML lexical form, with the UOM', async () => {
    const doc = await response(await kvp('identifier=inout&DataInputs=int_in=+7;bool_in=1;float_in=2.50@uom=feet;string_in=paper;tags=a;tags=b%3Bc'));
    const out = outputsOf(doc);
    expect(out.int_out.Data.LiteralData).toEqual({ '#text': '7', '@dataType': 'integer' });
    expect(out.bool_out.Data.LiteralData).toEqual({ '#text': 'true', '@dataType': 'boolean' });
    expect(out.float_out.Data.LiteralData).toEqual({ '#text': '2.5', '@dataType': 'float', '@uom': 'feet' });
    expect(out.string_out.Data.LiteralData['#text']).toBe('paper');
    expect(out.tags_out.Data.LiteralData['#text']).toBe('a,b;c');
    const metre = outputsOf(await response(await kvp('identifier=inout&DataInputs=int_in=1;bool_in=false;float_in=1e3;string_in=rock')));
    expect(metre.float_out.Data.LiteralData).toEqual({ '#text': '1000', '@dataType': 'float', '@uom': 'metre' });
  });

  it("takes booleans in any case, as birdy sends Python's True and False", async () => {
    for (const [given, read] of [['True', 'true'], ['FALSE', 'false'], ['false', 'false'], ['0', 'false']]) {
      const out = outputsOf(await response(await kvp(`identifier=inout&DataInputs=int_in=1;bool_in=${given};float_in=1;string_in=rock`)));
      expect(out.bool_out.Data.LiteralData['#text'], given).toBe(read);
    }
    const ex = exceptionOf((await kvp('identifier=inout&DataInputs=int_in=1;bool_in=yes;float_in=1;string_in=rock')).text);
    expect({ code: ex.code, locator: ex.locator }).toEqual({ code: 'InvalidParameterValue', locator: 'bool_in' });
  });

  it('returns ProcessFailed with the process message, HTTP 200, and stays healthy', async () => {
    const r = await kvp('identifier=show_error');
    const doc = await response(r);
    const ex = doc.Status.ProcessFailed.ExceptionReport.Exception[0];
    expect(ex['@exceptionCode']).toBe('NoApplicableCode');
    expect(ex.ExceptionText).toBe('This process failed intentionally.');
    expect(doc.ProcessOutputs).toBeUndefined();
    expect((await kvp('identifier=hello&DataInputs=name=again')).status).toBe(200);
  });

  it('with lineage=true echoes DataInputs and OutputDefinitions', async () => {
    const xml = executeXml(
      'wordcounter',
      complex('text', '<doc xmlns="urn:x"><p>a b</p></doc>', ' mimeType="text/plain"'),
      '<wps:ResponseForm><wps:ResponseDocument lineage="true"><wps:Output><ows:Identifier>output</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>',
    );
    const doc = await response(await post(s.wps, xml));
    expect(doc.DataInputs.Input[0].Identifier).toBe('text');
    // XML given inline is echoed as text, never as elements a browser could run.
    expect(doc.DataInputs.Input[0].Data.ComplexData['#text']).toMatch(/^<doc [^>]*xmlns="urn:x"[^>]*><p>a b<\/p><\/doc>$/);
    expect(doc.OutputDefinitions.Output[0]).toMatchObject({ Identifier: 'output', '@asReference': 'false' });
    const kvpDoc = await response(await kvp('identifier=inout&DataInputs=int_in=2;bool_in=true;float_in=1@uom=metre;string_in=rock&lineage=true'));
    expect(kvpDoc.DataInputs.Input).toHaveLength(4);
    // No outputs asked for: the definitions list every output as it was produced.
    expect(kvpDoc.OutputDefinitions.Output.map((o: { Identifier: string }) => o.Identifier)).toEqual(['int_out', 'bool_out', 'float_out', 'string_out', 'tags_out']);
    expect(kvpDoc.OutputDefinitions.Output[2]['@uom']).toBe('metre');
    expect(kvpDoc.DataInputs.Input[2].Data.LiteralData).toEqual({ '#text': '1', '@uom': 'metre' });
  });

  it('returns only the outputs asked for', async () => {
    const doc = await response(await kvp('identifier=inout&DataInputs=int_in=2;bool_in=true;float_in=1;string_in=rock&ResponseDocument=int_out;string_out'));
    expect(Object.keys(outputsOf(doc))).toEqual(['int_out', 'string_out']);
  });

  it('returns RawDataOutput as the bare value with its mimeType', async () => {
    const r = await kvp('identifier=hello&DataInputs=name=Raw&RawDataOutput=output');
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('text/plain; charset=utf-8');
    expect(r.text).toBe('Hello Raw');
    const xml = await post(s.wps, executeXml('hello', literal('name', 'X'), '<wps:ResponseForm><wps:RawDataOutput><ows:Identifier>output</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>'));
    expect(xml.text).toBe('Hello X');
  });

  it('stores outputs asked for by reference and serves their bytes', async () => {
    const doc = await response(await kvp('identifier=wordcounter&DataInputs=text=x%20y@mimeType=text/plain&ResponseDocument=output@asReference=true'));
    const ref = outputsOf(doc).output.Reference;
    expect(ref['@mimeType']).toBe('application/json');
    expect(ref['@href']).toMatch(new RegExp(`^${s.url}/outputs/[0-9a-f-]{36}/output\\.json$`));
    const file = await fetch(ref['@href']);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await file.json()).toEqual({ total: 2, counts: { x: 1, y: 1 } });
    const lit = outputsOf(await response(await kvp('identifier=hello&DataInputs=name=R&ResponseDocument=output@asReference=true'))).output;
    expect(await (await fetch(lit.Reference['@href'])).text()).toBe('Hello R');
  });
});
