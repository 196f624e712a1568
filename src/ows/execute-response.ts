import { isUtf8 } from 'node:buffer';
import type { OwsException } from '../exceptions.js';
import { isTextMimeType, isXmlMimeType } from '../process/formats.js';
import { formatLiteral } from '../process/literal-types.js';
import type { OutputSelection, OutputValue } from '../process/outputs.js';
import type { ProcessDefinition } from '../process/types.js';
import { describe, serialize, startDocument, utcNow } from './document.js';
import { ElementWriter } from './xml-writer.js';
import { appendExceptionReport } from './exception-report.js';
import { NS, SCHEMA_LOCATION, WPS_VERSION } from './namespaces.js';
import type { InputSubmission, OutputRequest } from './request.js';
import { readXml, serializeElement, type XmlElement } from './xml-reader.js';

export type ExecuteStatus =
  | { state: 'accepted'; message: string }
  | { state: 'started'; message: string; percent: number }
  | { state: 'paused'; message: string; percent: number }
  | { state: 'succeeded'; message: string }
  | { state: 'failed'; error: OwsException };

export interface ProducedOutput {
  selection: OutputSelection;
  value: OutputValue;
  /** Where the output was stored, when it was asked for by reference. */
  href?: string;
}

export interface ExecuteResponseInput {
  process: ProcessDefinition;
  /** The WPS endpoint URL; serviceInstance is its GetCapabilities URL. */
  endpoint: string;
  statusLocation?: string;
  language: string;
  status: ExecuteStatus;
  creationTime?: Date;
  /** With lineage=true: the inputs and output definitions as the request gave them. */
  lineage?: { inputs: readonly InputSubmission[]; outputs: readonly OutputRequest[] };
  outputs?: readonly ProducedOutput[];
}

export function executeResponseXml(r: ExecuteResponseInput): string {
  const head = headOf(r);
  const root = new ElementWriter('wps:ExecuteResponse', head.attributes);
  if (r.statusLocation) root.att('statusLocation', r.statusLocation);
  root.raw(head.process);
  status(root, r.status, r.creationTime ?? new Date(), r.language);
  if (r.lineage) {
    if (r.lineage.inputs.length > 0) {
      const inputs = root.ele(NS.wps, 'wps:DataInputs');
      for (const i of r.lineage.inputs) lineageInput(inputs, i);
    }
    if (r.lineage.outputs.length > 0) {
      const defs = root.ele(NS.wps, 'wps:OutputDefinitions');
      for (const o of r.lineage.outputs) outputDefinition(defs, o);
    }
  }
  if (r.outputs && r.outputs.length > 0) {
    const outs = root.ele(NS.wps, 'wps:ProcessOutputs');
    for (const o of r.outputs) processOutput(outs, o);
  }
  return serialize(root);
}

interface Head {
  endpoint: string;
  /** The root's attributes before statusLocation. */
  attributes: string;
  /** `<wps:Process>` written out. */
  process: string;
}

// The root's attributes and <wps:Process> are the same in every response of a process
// in a language: written once, they took a third of a synchronous Execute's own time.
const heads = new WeakMap<ProcessDefinition, Map<string, Head>>();

function headOf(r: ExecuteResponseInput): Head {
  let byLanguage = heads.get(r.process);
  if (!byLanguage) heads.set(r.process, (byLanguage = new Map()));
  let head = byLanguage.get(r.language);
  if (head === undefined || head.endpoint !== r.endpoint) {
    const root = startDocument(NS.wps, 'wps:ExecuteResponse', ['wps', 'ows', 'xlink'], SCHEMA_LOCATION.execute)
      .att('service', 'WPS')
      .att('version', WPS_VERSION)
      .att(NS.xml, 'xml:lang', r.language)
      .att('serviceInstance', `${r.endpoint}?service=WPS&request=GetCapabilities`);
    const proc = new ElementWriter('wps:Process').att(NS.wps, 'wps:processVersion', r.process.version);
    describe(proc, { identifier: r.process.identifier, title: r.process.title, abstract: r.process.abstract });
    head = { endpoint: r.endpoint, attributes: root.attributes, process: proc.toString() };
    byLanguage.set(r.language, head);
  }
  return head;
}

function status(root: ElementWriter, s: ExecuteStatus, time: Date, language: string): void {
  const el = root.ele(NS.wps, 'wps:Status').att('creationTime', utcNow(time));
  switch (s.state) {
    case 'accepted':
      el.ele(NS.wps, 'wps:ProcessAccepted').txt(s.message);
      break;
    case 'succeeded':
      el.ele(NS.wps, 'wps:ProcessSucceeded').txt(s.message);
      break;
    case 'started':
    case 'paused': {
      // percentCompleted exists only here, an integer 0..99: 100 would claim success.
      const percent = Math.min(99, Math.max(0, Math.floor(Number.isFinite(s.percent) ? s.percent : 0)));
      el.ele(NS.wps, s.state === 'started' ? 'wps:ProcessStarted' : 'wps:ProcessPaused')
        .att('percentCompleted', String(percent))
        .txt(s.message);
      break;
    }
    case 'failed':
      appendExceptionReport(el.ele(NS.wps, 'wps:ProcessFailed'), s.error, language);
      break;
  }
}

function lineageInput(parent: ElementWriter, i: InputSubmission): void {
  const el = parent.ele(NS.wps, 'wps:Input');
  el.ele(NS.ows, 'ows:Identifier').txt(i.identifier);
  if (i.title) el.ele(NS.ows, 'ows:Title').txt(i.title);
  if (i.abstract) el.ele(NS.ows, 'ows:Abstract').txt(i.abstract);
  const d = i.data;
  if (d.kind === 'reference') {
    const ref = el.ele(NS.wps, 'wps:Reference').att(NS.xlink, 'xlink:href', d.href).att('method', d.method);
    encodingAttributes(ref, d);
    // Header values are often credentials, and status documents are public: the key
    // says a header was sent, its value is never written.
    for (const h of d.headers) ref.ele(NS.wps, 'wps:Header').att('key', h.key).att('value', '');
    if (d.body !== undefined) ref.ele(NS.wps, 'wps:Body').txt(d.body);
    else if (d.bodyReference) ref.ele(NS.wps, 'wps:BodyReference').att(NS.xlink, 'xlink:href', d.bodyReference);
    return;
  }
  const data = el.ele(NS.wps, 'wps:Data');
  switch (d.kind) {
    case 'literal': {
      const lit = data.ele(NS.wps, 'wps:LiteralData');
      if (d.dataType) lit.att('dataType', d.dataType);
      if (d.uom) lit.att('uom', d.uom);
      lit.txt(d.value);
      break;
    }
    case 'complex': {
      const cd = data.ele(NS.wps, 'wps:ComplexData');
      encodingAttributes(cd, d);
      // XML given as elements is echoed as text: a client's markup copied into the
      // document as elements (an XHTML or SVG script) would run in a browser that opens it.
      cd.txt(d.value);
      break;
    }
    case 'bbox':
      boundingBox(data.ele(NS.wps, 'wps:BoundingBoxData'), d);
      break;
  }
}

function outputDefinition(parent: ElementWriter, o: OutputRequest): void {
  const el = parent.ele(NS.wps, 'wps:Output');
  if (o.uom) el.att('uom', o.uom);
  encodingAttributes(el, o);
  el.att('asReference', String(o.asReference));
  el.ele(NS.ows, 'ows:Identifier').txt(o.identifier);
}

function processOutput(parent: ElementWriter, o: ProducedOutput): void {
  const el = parent.ele(NS.wps, 'wps:Output');
  describe(el, { identifier: o.selection.output.identifier, title: o.selection.output.title, abstract: o.selection.output.abstract });
  const v = o.value;
  if (o.href !== undefined) {
    const ref = el.ele(NS.wps, 'wps:Reference').att('href', o.href);
    if (v.type === 'complex') encodingAttributes(ref, v);
    else ref.att('mimeType', 'text/plain');
    return;
  }
  const data = el.ele(NS.wps, 'wps:Data');
  switch (v.type) {
    case 'literal': {
      const dataType = o.selection.output.type === 'literal' ? o.selection.output.dataType : 'string';
      const lit = data.ele(NS.wps, 'wps:LiteralData').att('dataType', dataType);
      if (v.uom) lit.att('uom', v.uom);
      lit.txt(formatLiteral(dataType, v.value));
      break;
    }
    case 'complex':
      complexData(data, v);
      break;
    case 'bbox':
      boundingBox(data.ele(NS.wps, 'wps:BoundingBoxData'), v);
      break;
  }
}

/**
 * XML formats are embedded as elements when they parse, text formats as text, and
 * anything else (or anything asked for in base64) as base64.
 */
function complexData(parent: ElementWriter, v: Extract<OutputValue, { type: 'complex' }>): void {
  const base64 = v.encoding?.toLowerCase() === 'base64' || !isTextMimeType(v.mimeType) || !isUtf8(v.data);
  const cd = parent.ele(NS.wps, 'wps:ComplexData').att('mimeType', v.mimeType);
  if (base64) cd.att('encoding', 'base64');
  else if (v.encoding) cd.att('encoding', v.encoding);
  if (v.schema) cd.att('schema', v.schema);
  if (base64) {
    cd.txt(v.data.toString('base64'));
    return;
  }
  const text = v.data.toString('utf8');
  if (isXmlMimeType(v.mimeType)) embedXml(cd, text);
  else cd.txt(text);
}

/** XML content goes in as elements when it parses (with the namespaces it needs), else as text. */
function embedXml(parent: ElementWriter, text: string): void {
  let root: XmlElement;
  try {
    root = readXml(text);
  } catch {
    parent.txt(text);
    return;
  }
  parent.raw(serializeElement(root));
}

function encodingAttributes(el: ElementWriter, f: { mimeType?: string; encoding?: string; schema?: string }): void {
  if (f.mimeType) el.att('mimeType', f.mimeType);
  if (f.encoding) el.att('encoding', f.encoding);
  if (f.schema) el.att('schema', f.schema);
}

function boundingBox(
  el: ElementWriter,
  b: { lowerCorner: number[]; upperCorner: number[]; crs?: string; dimensions?: number },
): void {
  if (b.crs) el.att('crs', b.crs);
  el.att('dimensions', String(b.dimensions ?? b.lowerCorner.length));
  el.ele(NS.ows, 'ows:LowerCorner').txt(b.lowerCorner.map((n) => formatLiteral('double', n)).join(' '));
  el.ele(NS.ows, 'ows:UpperCorner').txt(b.upperCorner.map((n) => formatLiteral('double', n)).join(' '));
}

/** A standalone ows:BoundingBox document, the raw form of a bounding box output. */
export function boundingBoxXml(b: { lowerCorner: number[]; upperCorner: number[]; crs?: string; dimensions?: number }): string {
  const root = startDocument(NS.ows, 'ows:BoundingBox', ['ows']);
  boundingBox(root, b);
  return serialize(root);
}
