import { describe, expect, it } from 'vitest';
import { OwsException } from '../src/exceptions.js';
import type { ExecuteRequest } from '../src/ows/request.js';
import { readXml } from '../src/ows/xml-reader.js';
import { parseXmlRequest } from '../src/ows/xml-request.js';

const LANGS = ['en-US'];
const NSDECL = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink"';
const exec = (inner: string, extraNs = '') =>
  parseXmlRequest(
    `<?xml version="1.0" encoding="UTF-8"?><wps:Execute service="WPS" version="1.0.0" ${NSDECL} ${extraNs}><ows:Identifier>p</ows:Identifier>${inner}</wps:Execute>`,
    LANGS,
  ) as ExecuteRequest;
const input = (id: string, data: string) => `<wps:DataInputs><wps:Input><ows:Identifier>${id}</ows:Identifier>${data}</wps:Input></wps:DataInputs>`;

function owsError(fn: () => unknown): { code: string; locator: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OwsException);
    const e = err as OwsException;
    return { code: e.code, locator: e.locator, message: e.message };
  }
  throw new Error('expected an OwsException');
}

describe('XML POST requests', () => {
  it('reads GetCapabilities with AcceptVersions and language', () => {
    const r = parseXmlRequest(
      `<wps:GetCapabilities ${NSDECL} service="WPS" language="en-US"><wps:AcceptVersions><ows:Version>1.0.0</ows:Version></wps:AcceptVersions></wps:GetCapabilities>`,
      LANGS,
    );
    expect(r).toEqual({ operation: 'GetCapabilities', acceptVersions: ['1.0.0'], language: 'en-US' });
  });

  it('reads requests in the default namespace, as the CITE scripts write them', () => {
    const r = parseXmlRequest(
      `<DescribeProcess xmlns="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" service="WPS" version="1.0.0"><ows:Identifier>a</ows:Identifier><ows:Identifier>b</ows:Identifier></DescribeProcess>`,
      LANGS,
    );
    expect(r).toEqual({ operation: 'DescribeProcess', identifiers: ['a', 'b'], language: undefined });
  });

  it('reads literal, complex (text, CDATA, XML, base64) and bounding box data', () => {
    const r = exec(
      `<wps:DataInputs>
        <wps:Input><ows:Identifier>lit</ows:Identifier><ows:Title>A literal</ows:Title><wps:Data><wps:LiteralData dataType="float" uom="metre">2.5</wps:LiteralData></wps:Data></wps:Input>
        <wps:Input><ows:Identifier>txt</ows:Identifier><wps:Data><wps:ComplexData mimeType="text/plain">a &amp; b &#x41;</wps:ComplexData></wps:Data></wps:Input>
        <wps:Input><ows:Identifier>cdata</ows:Identifier><wps:Data><wps:ComplexData mimeType="text/plain"><![CDATA[<not> & markup]]></wps:ComplexData></wps:Data></wps:Input>
        <wps:Input><ows:Identifier>xml</ows:Identifier><wps:Data><wps:ComplexData mimeType="application/gml+xml"><gml:Point gml:id="p1"><gml:pos>1 2</gml:pos></gml:Point></wps:ComplexData></wps:Data></wps:Input>
        <wps:Input><ows:Identifier>bin</ows:Identifier><wps:Data><wps:ComplexData mimeType="image/png" encoding="base64">iVBORw0KGgo=</wps:ComplexData></wps:Data></wps:Input>
        <wps:Input><ows:Identifier>box</ows:Identifier><wps:Data><wps:BoundingBoxData dimensions="2"><ows:LowerCorner>1 2</ows:LowerCorner><ows:UpperCorner>3 4</ows:UpperCorner></wps:BoundingBoxData></wps:Data></wps:Input>
      </wps:DataInputs>`,
      'xmlns:gml="http://www.opengis.net/gml"',
    );
    expect(r.inputs.map((i) => i.data)).toEqual([
      { kind: 'literal', value: '2.5', dataType: 'float', uom: 'metre' },
      { kind: 'complex', value: 'a & b A', xml: false, mimeType: 'text/plain' },
      { kind: 'complex', value: '<not> & markup', xml: false, mimeType: 'text/plain' },
      {
        kind: 'complex',
        // The inherited namespace bindings travel with the fragment.
        value: expect.stringContaining('xmlns:gml="http://www.opengis.net/gml"'),
        xml: true,
        mimeType: 'application/gml+xml',
      },
      { kind: 'complex', value: 'iVBORw0KGgo=', xml: false, mimeType: 'image/png', encoding: 'base64' },
      { kind: 'bbox', lowerCorner: [1, 2], upperCorner: [3, 4], dimensions: 2 },
    ]);
    expect(r.inputs[0]!.title).toBe('A literal');
    const gml = readXml(String(r.inputs[3]!.data.kind === 'complex' && r.inputs[3]!.data.value));
    expect({ ns: gml.ns, local: gml.local }).toEqual({ ns: 'http://www.opengis.net/gml', local: 'Point' });
  });

  it('reads references: GET, and POST with a Body or a BodyReference', () => {
    const r = exec(
      `<wps:DataInputs>
        <wps:Input><ows:Identifier>a</ows:Identifier><wps:Reference xlink:href="http://127.0.0.1/a.txt" mimeType="text/plain"/></wps:Input>
        <wps:Input><ows:Identifier>b</ows:Identifier><wps:Reference xlink:href="http://127.0.0.1/q" method="POST"><wps:Header key="X-Token" value="t"/><wps:Body><q>1</q></wps:Body></wps:Reference></wps:Input>
        <wps:Input><ows:Identifier>c</ows:Identifier><wps:Reference xlink:href="http://127.0.0.1/q" method="POST"><wps:BodyReference xlink:href="http://127.0.0.1/body.xml"/></wps:Reference></wps:Input>
      </wps:DataInputs>`,
    );
    expect(r.inputs.map((i) => i.data)).toEqual([
      { kind: 'reference', href: 'http://127.0.0.1/a.txt', method: 'GET', headers: [], mimeType: 'text/plain' },
      { kind: 'reference', href: 'http://127.0.0.1/q', method: 'POST', headers: [{ key: 'X-Token', value: 't' }], body: expect.stringMatching(/^<q[^>]*>1<\/q>$/) },
      { kind: 'reference', href: 'http://127.0.0.1/q', method: 'POST', headers: [], bodyReference: 'http://127.0.0.1/body.xml' },
    ]);
  });

  it('reads ResponseDocument and RawDataOutput; an empty ResponseDocument means every output', () => {
    expect(exec('<wps:ResponseForm><wps:ResponseDocument lineage="true"><wps:Output asReference="true" mimeType="application/json"><ows:Identifier>o</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>').responseForm)
      .toEqual({ kind: 'document', outputs: [{ identifier: 'o', asReference: true, mimeType: 'application/json' }], lineage: true, storeExecuteResponse: false, status: false });
    expect(exec('<wps:ResponseForm><wps:ResponseDocument/></wps:ResponseForm>').responseForm).toMatchObject({ kind: 'document', outputs: [] });
    expect(exec('<wps:ResponseForm><wps:RawDataOutput mimeType="text/plain"><ows:Identifier>o</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>').responseForm)
      .toEqual({ kind: 'raw', output: { identifier: 'o', asReference: false, mimeType: 'text/plain' } });
    expect(exec('').responseForm).toEqual({ kind: 'document', outputs: [], lineage: false, storeExecuteResponse: false, status: false });
  });

  it('judges the Execute identifier before anything else', () => {
    expect(owsError(() => parseXmlRequest('<Execute service="WPS" version="1.0.0" xmlns="http://www.opengis.net/wps/1.0.0"></Execute>', LANGS)))
      .toMatchObject({ code: 'MissingParameterValue', locator: 'identifier' });
  });

  it('refuses an input without data, status without store, and bad booleans', () => {
    expect(owsError(() => exec(input('x', '')))).toMatchObject({ code: 'MissingParameterValue', locator: 'x' });
    expect(owsError(() => exec('<wps:ResponseForm><wps:ResponseDocument status="true"/></wps:ResponseForm>'))).toMatchObject({ code: 'InvalidParameterValue', locator: 'status' });
    expect(owsError(() => exec('<wps:ResponseForm><wps:ResponseDocument lineage="yes"/></wps:ResponseForm>'))).toMatchObject({ code: 'InvalidParameterValue', locator: 'lineage' });
    expect(owsError(() => exec(input('b', '<wps:Data><wps:BoundingBoxData><ows:LowerCorner>a b</ows:LowerCorner><ows:UpperCorner>1 2</ows:UpperCorner></wps:BoundingBoxData></wps:Data>'))))
      .toMatchObject({ code: 'InvalidParameterValue', locator: 'b' });
  });

  it('names an unknown root element as the unsupported operation', () => {
    expect(owsError(() => parseXmlRequest(`<wps:GetStatus ${NSDECL} service="WPS"/>`, LANGS))).toMatchObject({ code: 'OperationNotSupported', locator: 'GetStatus' });
    expect(owsError(() => parseXmlRequest('<GetCapabilities service="WPS"/>', LANGS))).toMatchObject({ code: 'OperationNotSupported', locator: 'GetCapabilities' });
  });

  it.each([
    ['mismatched tags', `<wps:getcapabilities ${NSDECL} service="WPS"></wps:GetCapabilities>`],
    ['not XML at all', 'test'],
    ['two roots', '<a/><b/>'],
    ['an undeclared prefix', '<wps:GetCapabilities service="WPS"/>'],
    ['an undefined entity', `<wps:GetCapabilities ${NSDECL} service="&foo;"/>`],
    ['a DOCTYPE with an external entity', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><wps:GetCapabilities ${NSDECL} service="&e;"/>`],
    ['entity expansion (billion laughs)', `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><wps:GetCapabilities ${NSDECL} service="&b;"/>`],
    ['a NUL character', `<wps:GetCapabilities ${NSDECL} service="W\u0000PS"/>`],
    ['10,000-deep nesting', `<wps:Execute ${NSDECL} service="WPS" version="1.0.0">${'<a>'.repeat(10000)}${'</a>'.repeat(10000)}</wps:Execute>`],
  ])('refuses %s as InvalidParameterValue on the request', (_, body) => {
    expect(owsError(() => parseXmlRequest(body, LANGS))).toMatchObject({ code: 'InvalidParameterValue', locator: 'request' });
  });

  it('accepts DOCTYPE-like text inside CDATA', () => {
    const r = exec(input('t', '<wps:Data><wps:ComplexData mimeType="text/html"><![CDATA[<!DOCTYPE html><p>hi</p>]]></wps:ComplexData></wps:Data>'));
    expect(r.inputs[0]!.data).toMatchObject({ value: '<!DOCTYPE html><p>hi</p>' });
  });
});
