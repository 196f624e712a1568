import { describe, expect, it } from 'vitest';
import { OwsException } from '../src/exceptions.js';
import { parseKvp } from '../src/ows/kvp.js';
import type { ExecuteRequest } from '../src/ows/request.js';

const LANGS = ['en-US', 'de-DE'];
const execute = (q: string) => parseKvp(`service=WPS&request=Execute&version=1.0.0&identifier=p&${q}`, LANGS) as ExecuteRequest;

function owsError(fn: () => unknown): { code: string; locator: string | undefined } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OwsException);
    const e = err as OwsException;
    return { code: e.code, locator: e.locator };
  }
  throw new Error('expected an OwsException');
}

describe('KVP parameters', () => {
  it('matches parameter names without case and keeps values as given', () => {
    const r = parseKvp('SeRvIcE=wps&REQUEST=DescribeProcess&Version=1.0.0&IdEnTiFiEr=Hello,world', LANGS);
    expect(r).toEqual({ operation: 'DescribeProcess', identifiers: ['Hello', 'world'], language: undefined });
  });

  it('reads identifier=ALL in any case as every process (birdy sends all)', () => {
    for (const all of ['ALL', 'all', 'All']) {
      expect(parseKvp(`service=WPS&request=DescribeProcess&version=1.0.0&identifier=${all}`, LANGS)).toMatchObject({ identifiers: 'ALL' });
    }
    expect(parseKvp('service=WPS&request=DescribeProcess&version=1.0.0&identifier=all,hello', LANGS)).toMatchObject({ identifiers: ['all', 'hello'] });
  });

  it('ignores an empty identifier on GetCapabilities (QGIS sends one)', () => {
    expect(parseKvp('service=WPS&request=GetCapabilities&identifier=', LANGS)).toMatchObject({ operation: 'GetCapabilities' });
  });

  it('negotiates AcceptVersions and ignores AcceptFormats', () => {
    expect(parseKvp('service=WPS&request=GetCapabilities&AcceptVersions=0.5.0,1.0.0&AcceptFormats=application/x-bxml', LANGS))
      .toMatchObject({ acceptVersions: ['0.5.0', '1.0.0'] });
    expect(owsError(() => parseKvp('service=WPS&request=GetCapabilities&acceptversions=2000-01-01', LANGS)))
      .toEqual({ code: 'VersionNegotiationFailed', locator: 'AcceptVersions' });
  });

  it('matches the language tag without case and refuses unsupported ones', () => {
    expect(parseKvp('service=WPS&request=GetCapabilities&language=DE-de', LANGS)).toMatchObject({ language: 'de-DE' });
    expect(parseKvp('service=WPS&request=GetCapabilities&language=en', LANGS)).toMatchObject({ language: 'en-US' });
    expect(owsError(() => parseKvp('service=WPS&request=GetCapabilities&language=xx-XX', LANGS)))
      .toEqual({ code: 'InvalidParameterValue', locator: 'language' });
  });

  it('answers missing and unknown service and request precisely', () => {
    expect(owsError(() => parseKvp('request=GetCapabilities', LANGS))).toEqual({ code: 'MissingParameterValue', locator: 'service' });
    expect(owsError(() => parseKvp('service=ASDF&request=GetCapabilities', LANGS))).toEqual({ code: 'InvalidParameterValue', locator: 'service' });
    expect(owsError(() => parseKvp('service=WPS', LANGS))).toEqual({ code: 'MissingParameterValue', locator: 'request' });
    expect(owsError(() => parseKvp('service=WPS&request=GetMeASandwich', LANGS))).toEqual({ code: 'OperationNotSupported', locator: 'GetMeASandwich' });
    expect(owsError(() => parseKvp('request~GetCapabilities!service~!WPSversion~1.0.0', LANGS))).toEqual({ code: 'MissingParameterValue', locator: 'service' });
  });

  it('refuses a parameter given twice with different values', () => {
    expect(owsError(() => parseKvp('service=WPS&request=GetCapabilities&request=Execute', LANGS)))
      .toEqual({ code: 'InvalidParameterValue', locator: 'request' });
    expect(parseKvp('service=WPS&request=GetCapabilities&service=WPS', LANGS)).toMatchObject({ operation: 'GetCapabilities' });
  });

  it('refuses invalid percent-encoding with the parameter as locator', () => {
    expect(owsError(() => parseKvp('service=WPS&request=GetCapabilities&language=%E0%A4%A', LANGS)))
      .toEqual({ code: 'InvalidParameterValue', locator: 'language' });
  });

  it('DescribeProcess and Execute need an identifier and speak only 1.0.0', () => {
    expect(owsError(() => parseKvp('service=WPS&request=DescribeProcess&version=1.0.0', LANGS)))
      .toEqual({ code: 'MissingParameterValue', locator: 'identifier' });
    expect(owsError(() => parseKvp('service=WPS&request=Execute&version=1.0.0&identifier=', LANGS)))
      .toEqual({ code: 'MissingParameterValue', locator: 'identifier' });
    expect(owsError(() => parseKvp('service=WPS&request=DescribeProcess&version=2.0.0&identifier=x', LANGS)))
      .toEqual({ code: 'VersionNegotiationFailed', locator: 'version' });
    expect(owsError(() => parseKvp('service=WPS&request=Execute&version=1.0.0&identifier=a,b', LANGS)))
      .toEqual({ code: 'InvalidParameterValue', locator: 'identifier' });
  });
});

describe('DataInputs in the WPS 1.0.0 KVP syntax', () => {
  it('reads literals with attributes, repeated inputs and references', () => {
    const r = execute('DataInputs=a=1;b=x@uom=m;b=y@uom=feet@datatype=string;c=@xlink:href=http%3A%2F%2Fexample.org%2Fdata%3Fx%3D1%26y%3D2@mimeType=text/plain');
    expect(r.inputs).toEqual([
      { identifier: 'a', data: { kind: 'literal', value: '1' } },
      { identifier: 'b', data: { kind: 'literal', value: 'x', uom: 'm' } },
      { identifier: 'b', data: { kind: 'literal', value: 'y', uom: 'feet', dataType: 'string' } },
      {
        identifier: 'c',
        data: { kind: 'reference', href: 'http://example.org/data?x=1&y=2', method: 'GET', headers: [], mimeType: 'text/plain' },
      },
    ]);
  });

  it('keeps percent-encoded separators inside values', () => {
    const r = execute('DataInputs=text=a%3Bb%40c%3Dd%20e@mimeType=text%2Fplain');
    expect(r.inputs).toEqual([{ identifier: 'text', data: { kind: 'complex', value: 'a;b@c=d e', xml: false, mimeType: 'text/plain' } }]);
  });

  it('reads a DataInputs value whose separators were percent-encoded as a whole', () => {
    // What Python's urlencode({'DataInputs': 'name=World;x=1@uom=m'}) sends.
    const r = execute('DataInputs=name%3DWorld%3Bx%3D1%40uom%3Dm');
    expect(r.inputs).toEqual([
      { identifier: 'name', data: { kind: 'literal', value: 'World' } },
      { identifier: 'x', data: { kind: 'literal', value: '1', uom: 'm' } },
    ]);
  });

  it('decodes + as a space and UTF-8 escapes', () => {
    expect(execute('DataInputs=name=J%C3%BCrgen+M').inputs[0]!.data).toEqual({ kind: 'literal', value: 'Jürgen M' });
  });

  it('reads ResponseDocument, lineage, storeExecuteResponse and status', () => {
    const r = execute('ResponseDocument=out1@asReference=true@mimeType=application/json;out2&lineage=true&storeExecuteResponse=true&status=true');
    expect(r.responseForm).toEqual({
      kind: 'document',
      outputs: [
        { identifier: 'out1', asReference: true, mimeType: 'application/json' },
        { identifier: 'out2', asReference: false },
      ],
      storeExecuteResponse: true,
      lineage: true,
      status: true,
    });
  });

  it('reads an empty ResponseDocument as every output', () => {
    expect(execute('ResponseDocument=').responseForm).toMatchObject({ kind: 'document', outputs: [] });
  });

  it('reads RawDataOutput with its mimeType', () => {
    expect(execute('RawDataOutput=output@mimeType=application/json').responseForm).toEqual({
      kind: 'raw',
      output: { identifier: 'output', asReference: false, mimeType: 'application/json' },
    });
  });

  it('refuses contradictory response forms and bad flags', () => {
    expect(owsError(() => execute('status=true'))).toEqual({ code: 'InvalidParameterValue', locator: 'status' });
    expect(owsError(() => execute('lineage=maybe'))).toEqual({ code: 'InvalidParameterValue', locator: 'lineage' });
    expect(owsError(() => execute('RawDataOutput=a&ResponseDocument=b'))).toEqual({ code: 'InvalidParameterValue', locator: 'RawDataOutput' });
    expect(owsError(() => execute('RawDataOutput=a&storeExecuteResponse=true'))).toEqual({ code: 'InvalidParameterValue', locator: 'storeExecuteResponse' });
  });
});
