import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processes } from '../processes/index.js';
import { expectException, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { syncOnly } from './helpers/processes.js';
import { defineProcess, literalOutput } from '../src/process/declare.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({}, [...processes, syncOnly]);
});
afterAll(() => s.close());

const describeUrl = (ids: string) => `${s.wps}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=${ids}`;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const descriptionsOf = (xml: string): any[] => parseXml(xml).ProcessDescriptions.ProcessDescription;

describe('DescribeProcess', () => {
  it('describes every process with identifier=ALL, schema-valid', async () => {
    const r = await get(describeUrl('ALL'));
    expect(r.status).toBe(200);
    await expectSchemaValid(r.text);
    expect(descriptionsOf(r.text).map((d) => d.Identifier)).toEqual([...processes, syncOnly].map((p) => p.identifier));
  });

  it('takes ALL in any case, as birdy asks it (identifier=all); no process may be called all', async () => {
    for (const all of ['all', 'All']) {
      const r = await get(describeUrl(all));
      expect(r.status, all).toBe(200);
      expect(descriptionsOf(r.text)).toHaveLength(processes.length + 1);
    }
    expect(() => defineProcess({ identifier: 'all', title: 'All', inputs: [], outputs: [literalOutput('o', { title: 'O', dataType: 'string' })], handler: () => ({ o: '' }) })).toThrow(/reserved/);
  });

  it('describes each process on its own, schema-valid, children of ProcessDescriptions unqualified', async () => {
    for (const p of processes) {
      const r = await get(describeUrl(p.identifier));
      expect(r.status).toBe(200);
      await expectSchemaValid(r.text);
      expect(r.text).toContain('<ProcessDescription wps:processVersion="1.0.0"');
      expect(r.text).not.toMatch(/<wps:(ProcessDescription|DataInputs|Input|LiteralData|ProcessOutputs)\b/);
      expect(descriptionsOf(r.text)[0].Identifier).toBe(p.identifier);
    }
  });

  it('gives literal inputs their dataType, UOMs, allowed values, ranges and defaults', async () => {
    const [inout] = descriptionsOf((await get(describeUrl('inout'))).text);
    const inputs = Object.fromEntries(inout.DataInputs.Input.map((i: { Identifier: string }) => [i.Identifier, i]));
    expect(inputs.int_in.LiteralData.DataType).toEqual({ '#text': 'integer', '@reference': 'http://www.w3.org/TR/xmlschema-2/#integer' });
    expect(inputs.int_in.LiteralData.AllowedValues.Range).toMatchObject({ MinimumValue: '1', MaximumValue: '10', '@rangeClosure': 'closed' });
    expect(inputs.float_in.LiteralData.UOMs).toEqual({ Default: { UOM: 'metre' }, Supported: { UOM: ['metre', 'feet'] } });
    expect(inputs.string_in.LiteralData.AllowedValues.Value).toEqual(['rock', 'paper', 'scissors']);
    expect(inputs.bool_in.LiteralData.AnyValue).toBe('');
    expect(inputs.tags).toMatchObject({ '@minOccurs': '0', '@maxOccurs': '3' });
    const [sleep] = descriptionsOf((await get(describeUrl('sleep'))).text);
    expect(sleep.DataInputs.Input[0]).toMatchObject({ '@minOccurs': '0', '@maxOccurs': '1', LiteralData: { DefaultValue: '10' } });
    expect(sleep['@storeSupported']).toBe('true');
    expect(sleep['@statusSupported']).toBe('true');
  });

  it('gives complex inputs their formats and size limit, bounding boxes their CRSs', async () => {
    const [wc, bbox] = descriptionsOf((await get(describeUrl('wordcounter,bbox'))).text);
    expect(wc.DataInputs.Input[0].ComplexData).toEqual({
      '@maximumMegabytes': '50',
      Default: { Format: { MimeType: 'text/plain' } },
      Supported: { Format: { MimeType: 'text/plain' } },
    });
    expect(wc.ProcessOutputs.Output[0].ComplexOutput.Default.Format.MimeType).toBe('application/json');
    expect(bbox.DataInputs.Input[0].BoundingBoxData).toEqual({
      Default: { CRS: 'EPSG:4326' },
      Supported: { CRS: ['EPSG:4326', 'EPSG:3857', 'EPSG:3035'] },
    });
    expect(bbox.ProcessOutputs.Output[0].BoundingBoxOutput.Default.CRS).toBe('EPSG:4326');
  });

  it('says storeSupported and statusSupported false for a synchronous-only process', async () => {
    const r = await get(describeUrl('sync_only'));
    await expectSchemaValid(r.text);
    expect(descriptionsOf(r.text)[0]).toMatchObject({ '@storeSupported': 'false', '@statusSupported': 'false' });
  });

  it('answers XML POST, including ALL', async () => {
    const r = await post(
      s.wps,
      '<wps:DescribeProcess xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" service="WPS" version="1.0.0"><ows:Identifier>ALL</ows:Identifier></wps:DescribeProcess>',
      'application/xml',
    );
    expect(r.status).toBe(200);
    expect(descriptionsOf(r.text)).toHaveLength(processes.length + 1);
  });

  it('refuses a missing or unknown identifier with locator identifier', async () => {
    await expectException(await get(`${s.wps}?service=WPS&request=DescribeProcess&version=1.0.0`), 'MissingParameterValue', 'identifier', 400);
    await expectException(await get(describeUrl('hello,urn:ogc:object:process:CITE:NFL:AstroDome')), 'InvalidParameterValue', 'identifier', 400);
    await expectException(
      await post(s.wps, '<DescribeProcess service="WPS" version="1.0.0" xmlns="http://www.opengis.net/wps/1.0.0"/>'),
      'MissingParameterValue',
      'identifier',
      400,
    );
  });

  it('reflects the requested language', async () => {
    const r = await get(`${describeUrl('ALL')}&language=en-US`);
    expect(parseXml(r.text).ProcessDescriptions['@lang']).toBe('en-US');
    await expectException(await get(`${describeUrl('hello')}&language=xx-XX`), 'InvalidParameterValue', 'language', 400);
  });
});
