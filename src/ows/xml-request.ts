import { invalidParameter, missingParameter, OwsException } from '../exceptions.js';
import {
  checkJobId,
  checkResponseForm,
  checkService,
  checkVersion,
  isAll,
  matchLanguage,
  negotiateVersion,
  operationOf,
  parseBoolean,
} from './common-params.js';
import { NS } from './namespaces.js';
import {
  defaultResponseForm,
  type InputSubmission,
  type OutputRequest,
  type ResponseForm,
  type SubmittedData,
  type WpsRequest,
} from './request.js';
import {
  attribute,
  element,
  elements,
  readXml,
  serializeElement,
  textContent,
  XmlSyntaxError,
  type XmlElement,
} from './xml-reader.js';

/** XML (HTTP POST) encoding → WpsRequest. */
export function parseXmlRequest(body: string, languages: readonly string[], maxDepth?: number, maxElements?: number): WpsRequest {
  let root: XmlElement;
  try {
    root = readXml(body, maxDepth, maxElements);
  } catch (err) {
    if (err instanceof XmlSyntaxError) {
      throw invalidParameter('request', `The request body is not a well-formed XML document: ${err.message}`);
    }
    throw err;
  }
  if (root.ns !== NS.wps) {
    throw new OwsException(
      'OperationNotSupported',
      `<${root.local}> in namespace "${root.ns}" is not a WPS 1.0.0 request`,
      root.local,
    );
  }
  const operation = operationOf(root.local);
  if (operation !== root.local) {
    throw new OwsException('OperationNotSupported', `<${root.local}> is not a WPS 1.0.0 request`, root.local);
  }
  checkService(attribute(root, 'service'));
  const language = matchLanguage(attribute(root, 'language'), languages);
  switch (operation) {
    case 'GetCapabilities': {
      const accept = element(root, NS.wps, 'AcceptVersions');
      const acceptVersions = accept ? elements(accept, NS.ows, 'Version').map((v) => textContent(v).trim()) : undefined;
      negotiateVersion(acceptVersions);
      // Not in WPS 1.0.0's request schema, but OWS Common's GetCapabilities has it.
      return { operation, acceptVersions, updateSequence: attribute(root, 'updateSequence'), language };
    }
    case 'DescribeProcess': {
      checkVersion(attribute(root, 'version'));
      const ids = elements(root, NS.ows, 'Identifier').map((e) => textContent(e).trim()).filter((s) => s !== '');
      if (ids.length === 0) throw missingParameter('identifier');
      return { operation, identifiers: isAll(ids) ? 'ALL' : ids, language };
    }
    case 'Dismiss': {
      checkVersion(attribute(root, 'version'));
      const jobId = element(root, NS.wps, 'JobID');
      return { operation, jobId: checkJobId(jobId ? textContent(jobId) : undefined), language };
    }
    case 'Execute': {
      // The identifier is judged before anything else (the CITE tests send otherwise invalid bodies).
      const idEl = element(root, NS.ows, 'Identifier');
      const identifier = idEl ? textContent(idEl).trim() : '';
      if (identifier === '') throw missingParameter('identifier');
      checkVersion(attribute(root, 'version'));
      const dataInputs = element(root, NS.wps, 'DataInputs');
      const inputs = dataInputs ? elements(dataInputs, NS.wps, 'Input').map(parseInput) : [];
      const formEl = element(root, NS.wps, 'ResponseForm');
      const responseForm = formEl ? parseResponseForm(formEl) : defaultResponseForm();
      checkResponseForm(responseForm);
      return { operation, identifier, inputs, responseForm, language };
    }
  }
}

function optionalText(el: XmlElement, ns: string, local: string): string | undefined {
  const child = element(el, ns, local);
  const text = child ? textContent(child).trim() : '';
  return text === '' ? undefined : text;
}

function optionalAttrs(el: XmlElement, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = attribute(el, n);
    if (v !== undefined && v !== '') out[n] = v;
  }
  return out;
}

function parseInput(input: XmlElement): InputSubmission {
  const identifier = optionalText(input, NS.ows, 'Identifier');
  if (!identifier) throw missingParameter('Input', 'An Input has no ows:Identifier');
  const submission: InputSubmission = { identifier, data: parseInputData(input, identifier) };
  const title = optionalText(input, NS.ows, 'Title');
  const abstract = optionalText(input, NS.ows, 'Abstract');
  if (title) submission.title = title;
  if (abstract) submission.abstract = abstract;
  return submission;
}

function parseInputData(input: XmlElement, id: string): SubmittedData {
  const reference = element(input, NS.wps, 'Reference');
  if (reference) return parseReference(reference, id);
  const data = element(input, NS.wps, 'Data');
  const payload = data ? elements(data)[0] : undefined;
  if (!payload) throw missingParameter(id, `Input ${id} has neither wps:Data nor wps:Reference`);
  if (payload.ns === NS.wps && payload.local === 'LiteralData') {
    return { kind: 'literal', value: textContent(payload), ...optionalAttrs(payload, ['dataType', 'uom']) };
  }
  if (payload.ns === NS.wps && payload.local === 'ComplexData') {
    return { kind: 'complex', ...content(payload), ...optionalAttrs(payload, ['mimeType', 'encoding', 'schema']) };
  }
  if (payload.ns === NS.wps && payload.local === 'BoundingBoxData') return parseBoundingBox(payload, id);
  throw invalidParameter(id, `Input ${id}: <${payload.local}> is not LiteralData, ComplexData or BoundingBoxData`);
}

/** Element content as XML markup, or its text (CDATA included) when it holds no element. */
function content(el: XmlElement): { value: string; xml: boolean } {
  const children = elements(el);
  if (children.length === 0) return { value: textContent(el), xml: false };
  return { value: children.map(serializeElement).join(''), xml: true };
}

function parseBoundingBox(el: XmlElement, id: string): SubmittedData {
  const corner = (name: string): number[] => {
    const text = optionalText(el, NS.ows, name);
    const coords = text ? text.split(/\s+/).map(Number) : [];
    if (coords.length === 0 || !coords.every(Number.isFinite)) {
      throw invalidParameter(id, `Input ${id}: ows:${name} must hold numbers separated by spaces`);
    }
    return coords;
  };
  const box: SubmittedData = { kind: 'bbox', lowerCorner: corner('LowerCorner'), upperCorner: corner('UpperCorner') };
  const crs = attribute(el, 'crs');
  const dims = attribute(el, 'dimensions');
  if (crs) box.crs = crs;
  if (dims !== undefined) {
    if (!/^\s*\d+\s*$/.test(dims)) throw invalidParameter(id, `Input ${id}: dimensions must be a positive integer`);
    box.dimensions = Number(dims);
  }
  return box;
}

function parseReference(el: XmlElement, id: string): SubmittedData {
  const href = attribute(el, 'href', NS.xlink) ?? attribute(el, 'href');
  if (!href) throw missingParameter(id, `Input ${id}: wps:Reference has no xlink:href`);
  const method = (attribute(el, 'method') ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'POST') {
    throw invalidParameter(id, `Input ${id}: reference method must be GET or POST`);
  }
  const ref: SubmittedData = {
    kind: 'reference',
    href,
    method,
    headers: elements(el, NS.wps, 'Header').map((h) => ({
      key: attribute(h, 'key') ?? '',
      value: attribute(h, 'value') ?? '',
    })),
    ...optionalAttrs(el, ['mimeType', 'encoding', 'schema']),
  };
  const body = element(el, NS.wps, 'Body');
  const bodyRef = element(el, NS.wps, 'BodyReference');
  if (body) ref.body = content(body).value;
  else if (bodyRef) {
    const bodyHref = attribute(bodyRef, 'href', NS.xlink) ?? attribute(bodyRef, 'href');
    if (!bodyHref) throw missingParameter(id, `Input ${id}: wps:BodyReference has no xlink:href`);
    ref.bodyReference = bodyHref;
  }
  if (method === 'POST' && ref.body === undefined && ref.bodyReference === undefined) {
    throw missingParameter(id, `Input ${id}: a POST reference needs wps:Body or wps:BodyReference`);
  }
  return ref;
}

function parseOutputRequest(el: XmlElement, withAsReference: boolean): OutputRequest {
  const identifier = optionalText(el, NS.ows, 'Identifier');
  if (!identifier) throw missingParameter('Output', 'An Output has no ows:Identifier');
  return {
    identifier,
    asReference: withAsReference && parseBoolean(attribute(el, 'asReference'), 'asReference'),
    ...optionalAttrs(el, ['mimeType', 'encoding', 'schema', 'uom']),
  };
}

function parseResponseForm(form: XmlElement): ResponseForm {
  const raw = element(form, NS.wps, 'RawDataOutput');
  if (raw) return { kind: 'raw', output: parseOutputRequest(raw, false) };
  const doc = element(form, NS.wps, 'ResponseDocument');
  if (!doc) return defaultResponseForm();
  return {
    kind: 'document',
    outputs: elements(doc, NS.wps, 'Output').map((o) => parseOutputRequest(o, true)),
    storeExecuteResponse: parseBoolean(attribute(doc, 'storeExecuteResponse'), 'storeExecuteResponse'),
    lineage: parseBoolean(attribute(doc, 'lineage'), 'lineage'),
    status: parseBoolean(attribute(doc, 'status'), 'status'),
  };
}
