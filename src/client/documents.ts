import { NS } from '../ows/namespaces.js';
import { attribute, element, elements, isElement, readXml, serializeElement, textContent, type XmlElement } from '../ows/xml-reader.js';

/**
 * What a client reads from any WPS 1.0.0 server's documents: capabilities, process
 * descriptions, execute responses and exception reports. Lenient where servers differ
 * (PyWPS and others), strict only where meaning depends on it.
 */

export interface ProcessBrief {
  identifier: string;
  title: string;
  abstract?: string;
}

export interface Capabilities {
  title: string;
  abstract?: string;
  processes: ProcessBrief[];
}

export type AllowedValue = string | { min?: number; max?: number };

export interface Format {
  mimeType: string;
  encoding?: string;
  schema?: string;
}

export interface InputInfo {
  identifier: string;
  title: string;
  abstract?: string;
  minOccurs: number;
  maxOccurs: number;
  kind: 'literal' | 'complex' | 'bbox';
  dataType?: string;
  allowedValues?: AllowedValue[];
  defaultValue?: string;
  uoms?: string[];
  formats?: Format[];
  crss?: string[];
}

export interface OutputInfo {
  identifier: string;
  title: string;
  abstract?: string;
  kind: 'literal' | 'complex' | 'bbox';
  dataType?: string;
  formats?: Format[];
}

export interface ProcessInfo extends ProcessBrief {
  storeSupported: boolean;
  statusSupported: boolean;
  inputs: InputInfo[];
  outputs: OutputInfo[];
}

export type OutputData =
  | { kind: 'literal'; value: string; dataType?: string; uom?: string }
  | { kind: 'complex'; value: string; mimeType?: string; encoding?: string; xml: boolean }
  | { kind: 'bbox'; lowerCorner: number[]; upperCorner: number[]; crs?: string }
  | { kind: 'reference'; href: string; mimeType?: string };

export interface ServerException {
  code: string;
  locator?: string;
  text: string;
}

export interface ExecuteStatus {
  status: 'ProcessAccepted' | 'ProcessStarted' | 'ProcessPaused' | 'ProcessSucceeded' | 'ProcessFailed';
  percent?: number;
  message: string;
  statusLocation?: string;
  exception?: ServerException;
  outputs: { identifier: string; title?: string; data: OutputData }[];
}

export class NotAWpsDocument extends Error {}

const child = (el: XmlElement, ns: string, local: string) => element(el, ns, local);
const text = (el: XmlElement | undefined) => (el ? textContent(el).trim() : undefined);
/** Unqualified in DescribeProcess (the schema says so), qualified by some servers anyway. */
const loose = (el: XmlElement, local: string) => element(el, '', local) ?? element(el, NS.wps, local);
const looseAll = (el: XmlElement, local: string) => [...elements(el, '', local), ...elements(el, NS.wps, local)];

function brief(el: XmlElement): ProcessBrief {
  const b: ProcessBrief = { identifier: text(child(el, NS.ows, 'Identifier')) ?? '', title: text(child(el, NS.ows, 'Title')) ?? '' };
  const abstract = text(child(el, NS.ows, 'Abstract'));
  if (abstract) b.abstract = abstract;
  return b;
}

function read(xml: string): XmlElement {
  try {
    return readXml(xml, 1000);
  } catch (err) {
    throw new NotAWpsDocument(`the server did not answer with XML: ${(err as Error).message}`);
  }
}

/** An ows:ExceptionReport, if that is what the document is. */
export function exceptionOf(xml: string): ServerException | undefined {
  let root: XmlElement;
  try {
    root = readXml(xml, 1000);
  } catch {
    return undefined;
  }
  return root.local === 'ExceptionReport' ? firstException(root) : undefined;
}

function firstException(report: XmlElement): ServerException {
  const ex = elements(report).find((e) => e.local === 'Exception');
  if (!ex) return { code: 'NoApplicableCode', text: 'the server reported an exception without details' };
  const out: ServerException = {
    code: attribute(ex, 'exceptionCode') ?? 'NoApplicableCode',
    text: elements(ex).filter((e) => e.local === 'ExceptionText').map((e) => textContent(e).trim()).join('\n'),
  };
  const locator = attribute(ex, 'locator');
  if (locator) out.locator = locator;
  return out;
}

export function parseCapabilities(xml: string): Capabilities {
  const root = read(xml);
  if (root.local !== 'Capabilities') throw new NotAWpsDocument(`expected wps:Capabilities, got ${root.local}`);
  const si = child(root, NS.ows, 'ServiceIdentification');
  const offerings = child(root, NS.wps, 'ProcessOfferings');
  const caps: Capabilities = {
    title: (si && text(child(si, NS.ows, 'Title'))) ?? '',
    processes: offerings ? elements(offerings, NS.wps, 'Process').map(brief) : [],
  };
  const abstract = si && text(child(si, NS.ows, 'Abstract'));
  if (abstract) caps.abstract = abstract;
  return caps;
}

function formats(el: XmlElement | undefined): Format[] {
  if (!el) return [];
  const supported = loose(el, 'Supported');
  const def = loose(el, 'Default');
  const list = [...(def ? looseAll(def, 'Format') : []), ...(supported ? looseAll(supported, 'Format') : [])].map((f) => {
    const out: Format = { mimeType: text(loose(f, 'MimeType')) ?? '' };
    const encoding = text(loose(f, 'Encoding'));
    const schema = text(loose(f, 'Schema'));
    if (encoding) out.encoding = encoding;
    if (schema) out.schema = schema;
    return out;
  });
  return list.filter((f, i) => list.findIndex((g) => g.mimeType === f.mimeType && g.encoding === f.encoding && g.schema === f.schema) === i);
}

function crss(el: XmlElement): string[] {
  const def = loose(el, 'Default');
  const supported = loose(el, 'Supported');
  const all = [...(def ? looseAll(def, 'CRS') : []), ...(supported ? looseAll(supported, 'CRS') : [])].map((c) => textContent(c).trim());
  return [...new Set(all)];
}

function dataType(el: XmlElement): string | undefined {
  const dt = child(el, NS.ows, 'DataType');
  if (!dt) return undefined;
  return (text(dt) || attribute(dt, 'reference', NS.ows) || '').replace(/^.*[#:]/, '') || undefined;
}

function allowedValues(lit: XmlElement): AllowedValue[] | undefined {
  const av = child(lit, NS.ows, 'AllowedValues');
  if (!av) return undefined;
  return elements(av).flatMap((e): AllowedValue[] => {
    if (e.local === 'Value') return [textContent(e).trim()];
    if (e.local !== 'Range') return [];
    const r: { min?: number; max?: number } = {};
    const min = text(child(e, NS.ows, 'MinimumValue'));
    const max = text(child(e, NS.ows, 'MaximumValue'));
    if (min !== undefined) r.min = Number(min);
    if (max !== undefined) r.max = Number(max);
    return [r];
  });
}

function uoms(el: XmlElement): string[] | undefined {
  const u = loose(el, 'UOMs');
  if (!u) return undefined;
  const all = [...(loose(u, 'Default') ? elements(loose(u, 'Default')!, NS.ows, 'UOM') : []), ...(loose(u, 'Supported') ? elements(loose(u, 'Supported')!, NS.ows, 'UOM') : [])];
  return [...new Set(all.map((x) => textContent(x).trim()))];
}

function inputInfo(el: XmlElement): InputInfo {
  const b = brief(el);
  const lit = loose(el, 'LiteralData');
  const cd = loose(el, 'ComplexData');
  const bb = loose(el, 'BoundingBoxData');
  const maxRaw = attribute(el, 'maxOccurs') ?? '1';
  const info: InputInfo = {
    ...b,
    minOccurs: Number(attribute(el, 'minOccurs') ?? 1),
    maxOccurs: maxRaw === 'unbounded' ? Infinity : Number(maxRaw),
    kind: lit ? 'literal' : cd ? 'complex' : 'bbox',
  };
  if (lit) {
    const dt = dataType(lit);
    const av = allowedValues(lit);
    const def = text(loose(lit, 'DefaultValue'));
    const u = uoms(lit);
    if (dt) info.dataType = dt;
    if (av) info.allowedValues = av;
    if (def !== undefined) info.defaultValue = def;
    if (u) info.uoms = u;
  }
  if (cd) info.formats = formats(cd);
  if (bb) info.crss = crss(bb);
  return info;
}

function outputInfo(el: XmlElement): OutputInfo {
  const lit = loose(el, 'LiteralOutput');
  const cd = loose(el, 'ComplexOutput');
  const info: OutputInfo = { ...brief(el), kind: lit ? 'literal' : cd ? 'complex' : 'bbox' };
  if (lit) {
    const dt = dataType(lit);
    if (dt) info.dataType = dt;
  }
  if (cd) info.formats = formats(cd);
  return info;
}

export function parseDescriptions(xml: string): ProcessInfo[] {
  const root = read(xml);
  if (root.local !== 'ProcessDescriptions') throw new NotAWpsDocument(`expected wps:ProcessDescriptions, got ${root.local}`);
  return looseAll(root, 'ProcessDescription').map((p) => {
    const dataInputs = loose(p, 'DataInputs');
    const processOutputs = loose(p, 'ProcessOutputs');
    return {
      ...brief(p),
      storeSupported: attribute(p, 'storeSupported') === 'true',
      statusSupported: attribute(p, 'statusSupported') === 'true',
      inputs: dataInputs ? looseAll(dataInputs, 'Input').map(inputInfo) : [],
      outputs: processOutputs ? looseAll(processOutputs, 'Output').map(outputInfo) : [],
    };
  });
}

function outputData(output: XmlElement): OutputData {
  const ref = child(output, NS.wps, 'Reference');
  if (ref) {
    const r: OutputData = { kind: 'reference', href: attribute(ref, 'href') ?? attribute(ref, 'href', NS.xlink) ?? '' };
    const mimeType = attribute(ref, 'mimeType');
    if (mimeType) r.mimeType = mimeType;
    return r;
  }
  const data = child(output, NS.wps, 'Data');
  const payload = data ? elements(data)[0] : undefined;
  if (payload?.local === 'LiteralData') {
    const d: OutputData = { kind: 'literal', value: textContent(payload) };
    const dt = attribute(payload, 'dataType');
    const uom = attribute(payload, 'uom');
    if (dt) d.dataType = dt;
    if (uom) d.uom = uom;
    return d;
  }
  if (payload?.local === 'BoundingBoxData' || payload?.local === 'BoundingBox') {
    const corner = (n: string) => (text(child(payload, NS.ows, n)) ?? '').split(/\s+/).filter(Boolean).map(Number);
    const d: OutputData = { kind: 'bbox', lowerCorner: corner('LowerCorner'), upperCorner: corner('UpperCorner') };
    const crs = attribute(payload, 'crs');
    if (crs) d.crs = crs;
    return d;
  }
  if (payload?.local === 'ComplexData') {
    const children = payload.children.filter(isElement);
    const d: OutputData =
      children.length > 0
        ? { kind: 'complex', value: children.map(serializeElement).join(''), xml: true }
        : { kind: 'complex', value: textContent(payload).trim(), xml: false };
    const mimeType = attribute(payload, 'mimeType');
    const encoding = attribute(payload, 'encoding');
    if (mimeType) d.mimeType = mimeType;
    if (encoding) d.encoding = encoding;
    return d;
  }
  return { kind: 'literal', value: data ? textContent(data).trim() : '' };
}

export function parseExecuteResponse(xml: string): ExecuteStatus {
  const root = read(xml);
  if (root.local === 'ExceptionReport') {
    const ex = firstException(root);
    return { status: 'ProcessFailed', message: ex.text, exception: ex, outputs: [] };
  }
  if (root.local !== 'ExecuteResponse') throw new NotAWpsDocument(`expected wps:ExecuteResponse, got ${root.local}`);
  const statusEl = child(root, NS.wps, 'Status');
  const state = statusEl ? elements(statusEl)[0] : undefined;
  const name = (state?.local ?? 'ProcessFailed') as ExecuteStatus['status'];
  const out: ExecuteStatus = { status: name, message: '', outputs: [] };
  if (state) {
    const report = elements(state).find((e) => e.local === 'ExceptionReport');
    if (report) {
      out.exception = firstException(report);
      out.message = out.exception.text;
    } else {
      out.message = textContent(state).trim();
    }
    const percent = attribute(state, 'percentCompleted');
    if (percent !== undefined) out.percent = Number(percent);
  }
  const location = attribute(root, 'statusLocation');
  if (location) out.statusLocation = location;
  const po = child(root, NS.wps, 'ProcessOutputs');
  for (const o of po ? elements(po, NS.wps, 'Output') : []) {
    const entry: ExecuteStatus['outputs'][number] = { identifier: text(child(o, NS.ows, 'Identifier')) ?? '', data: outputData(o) };
    const title = text(child(o, NS.ows, 'Title'));
    if (title) entry.title = title;
    out.outputs.push(entry);
  }
  return out;
}
