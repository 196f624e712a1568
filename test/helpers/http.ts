import { XMLParser } from 'fast-xml-parser';
import { expect } from 'vitest';
import { validateDocument } from '../../xsd/index.js';

export interface Reply {
  status: number;
  contentType: string;
  text: string;
  headers: Headers;
}

async function reply(res: Response): Promise<Reply> {
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return reply(await fetch(url, { headers }));
}

export async function post(url: string, body: string | Uint8Array, contentType = 'text/xml', headers: Record<string, string> = {}): Promise<Reply> {
  return reply(await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } }));
}

/** Asserts the document validates against the official OGC schemas. */
export async function expectSchemaValid(xml: string): Promise<void> {
  const result = await validateDocument(xml);
  expect(result.errors, xml.slice(0, 2000)).toBe('');
  expect(result.valid).toBe(true);
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => ['Output', 'Input', 'Process', 'ProcessDescription', 'Language', 'Exception', 'Operation'].includes(name),
});

/** A loose object view of a response document, namespace prefixes removed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const parseXml = (xml: string): any => parser.parse(xml);

export interface ReportedException {
  code: string;
  locator: string | undefined;
  text: string;
}

/** Asserts an ows:ExceptionReport with one exception and returns it. */
export function exceptionOf(xml: string): ReportedException {
  const doc = parseXml(xml);
  expect(doc.ExceptionReport, xml).toBeDefined();
  const ex = doc.ExceptionReport.Exception[0];
  return { code: ex['@exceptionCode'], locator: ex['@locator'], text: String(ex.ExceptionText ?? '') };
}

/** Asserts a schema-valid ExceptionReport with this code, locator and HTTP status. */
export async function expectException(r: Reply, code: string, locator: string | undefined, status: number): Promise<ReportedException> {
  const ex = exceptionOf(r.text);
  expect({ code: ex.code, locator: ex.locator, status: r.status }).toEqual({ code, locator, status });
  expect(r.contentType).toMatch(/^text\/xml/);
  await expectSchemaValid(r.text);
  return ex;
}
