import { dataTypeReference, formatLiteral } from '../process/literal-types.js';
import type {
  AllowedValue,
  Format,
  InputDescription,
  OutputDescription,
  ProcessDefinition,
} from '../process/types.js';
import { describe, serialize, startDocument, type ElementWriter } from './document.js';
import { NS, SCHEMA_LOCATION, WPS_VERSION } from './namespaces.js';

/**
 * DescribeProcess response. The schema declares the children of ProcessDescriptions
 * unqualified (`ProcessDescription`, `DataInputs`, `Input`, `LiteralData`, ...), so only
 * the root, `wps:processVersion` and the `ows:` elements carry a prefix.
 */
export function processDescriptionsXml(processes: readonly ProcessDefinition[], language: string): string {
  const root = startDocument(NS.wps, 'wps:ProcessDescriptions', ['wps', 'ows', 'xlink'], SCHEMA_LOCATION.describeProcess)
    .att('service', 'WPS')
    .att('version', WPS_VERSION)
    .att(NS.xml, 'xml:lang', language);
  for (const p of processes) processDescription(root, p);
  return serialize(root);
}

function processDescription(root: ElementWriter, p: ProcessDefinition): void {
  const el = root
    .ele('ProcessDescription')
    .att(NS.wps, 'wps:processVersion', p.version)
    .att('storeSupported', String(p.storeSupported))
    .att('statusSupported', String(p.statusSupported));
  describe(el, p);
  if (p.inputs.length > 0) {
    const inputs = el.ele('DataInputs');
    for (const i of p.inputs) input(inputs, i);
  }
  const outputs = el.ele('ProcessOutputs');
  for (const o of p.outputs) output(outputs, o);
}

function input(parent: ElementWriter, i: InputDescription): void {
  const el = parent.ele('Input').att('minOccurs', String(i.minOccurs)).att('maxOccurs', String(i.maxOccurs));
  describe(el, i);
  switch (i.type) {
    case 'literal': {
      const lit = el.ele('LiteralData');
      dataType(lit, i.dataType);
      uoms(lit, i.uoms);
      if (i.allowedValues && i.allowedValues.length > 0) allowedValues(lit, i.allowedValues, i.dataType);
      else lit.ele(NS.ows, 'ows:AnyValue');
      if (i.default !== undefined) lit.ele('DefaultValue').txt(formatLiteral(i.dataType, i.default));
      break;
    }
    case 'complex': {
      const cd = el.ele('ComplexData');
      if (i.maximumMegabytes !== undefined) cd.att('maximumMegabytes', String(Math.ceil(i.maximumMegabytes)));
      formats(cd, i.formats);
      break;
    }
    case 'bbox':
      crss(el.ele('BoundingBoxData'), i.crss);
      break;
  }
}

function output(parent: ElementWriter, o: OutputDescription): void {
  const el = parent.ele('Output');
  describe(el, o);
  switch (o.type) {
    case 'literal': {
      const lit = el.ele('LiteralOutput');
      dataType(lit, o.dataType);
      uoms(lit, o.uoms);
      break;
    }
    case 'complex':
      formats(el.ele('ComplexOutput'), o.formats);
      break;
    case 'bbox':
      crss(el.ele('BoundingBoxOutput'), o.crss);
      break;
  }
}

function dataType(parent: ElementWriter, t: Parameters<typeof dataTypeReference>[0]): void {
  parent.ele(NS.ows, 'ows:DataType').att(NS.ows, 'ows:reference', dataTypeReference(t)).txt(t);
}

function uoms(parent: ElementWriter, list: readonly string[] | undefined): void {
  if (!list || list.length === 0) return;
  const el = parent.ele('UOMs');
  el.ele('Default').ele(NS.ows, 'ows:UOM').txt(list[0]!);
  const supported = el.ele('Supported');
  for (const u of list) supported.ele(NS.ows, 'ows:UOM').txt(u);
}

function allowedValues(parent: ElementWriter, values: readonly AllowedValue[], t: Parameters<typeof formatLiteral>[0]): void {
  const el = parent.ele(NS.ows, 'ows:AllowedValues');
  for (const v of values) {
    if (typeof v !== 'object') {
      el.ele(NS.ows, 'ows:Value').txt(typeof v === 'number' ? formatLiteral(t, v) : v);
      continue;
    }
    const range = el.ele(NS.ows, 'ows:Range').att(NS.ows, 'ows:rangeClosure', v.closure ?? 'closed');
    if (v.min !== undefined) range.ele(NS.ows, 'ows:MinimumValue').txt(formatLiteral(t, v.min));
    if (v.max !== undefined) range.ele(NS.ows, 'ows:MaximumValue').txt(formatLiteral(t, v.max));
    if (v.spacing !== undefined) range.ele(NS.ows, 'ows:Spacing').txt(formatLiteral(t, v.spacing));
  }
}

function format(parent: ElementWriter, f: Format): void {
  const el = parent.ele('Format');
  el.ele('MimeType').txt(f.mimeType);
  if (f.encoding) el.ele('Encoding').txt(f.encoding);
  if (f.schema) el.ele('Schema').txt(f.schema);
}

function formats(parent: ElementWriter, list: readonly Format[]): void {
  format(parent.ele('Default'), list[0]!);
  const supported = parent.ele('Supported');
  for (const f of list) format(supported, f);
}

function crss(parent: ElementWriter, list: readonly string[]): void {
  parent.ele('Default').ele('CRS').txt(list[0]!);
  const supported = parent.ele('Supported');
  for (const c of list) supported.ele('CRS').txt(c);
}
