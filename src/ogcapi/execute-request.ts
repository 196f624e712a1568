import { invalidParameter } from '../exceptions.js';
import type { ExecuteRequest, InputSubmission, SubmittedData, Subscriber } from '../ows/request.js';
import type { OutputAsk } from '../process/outputs.js';

/**
 * An OGC API - Processes execute request (JSON) as the one request model WPS requests
 * parse into: inputs by identifier (a value, an array of values, a qualified value with
 * its media type, a link, a bounding box), outputs with their format and transmission
 * mode, and the response form. Nothing is looked up here; validation against the process
 * is the same as for WPS. Errors are InvalidParameterValue with the input as locator.
 */
export interface ApiExecute {
  /** With the client's callbacks (subscriber), their addresses checked later. */
  request: ExecuteRequest;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseExecute(identifier: string, body: unknown): ApiExecute {
  if (!isObject(body)) throw invalidParameter('body', 'An execute request is a JSON object with inputs and outputs');
  const inputs: InputSubmission[] = [];
  if (body.inputs !== undefined) {
    if (!isObject(body.inputs)) throw invalidParameter('inputs', 'inputs must map input identifiers to values');
    for (const [id, given] of Object.entries(body.inputs)) {
      for (const value of Array.isArray(given) ? given : [given]) inputs.push({ identifier: id, data: submitted(id, value) });
    }
  }
  const asks: OutputAsk[] = [];
  if (body.outputs !== undefined) {
    if (!isObject(body.outputs)) throw invalidParameter('outputs', 'outputs must map output identifiers to their forms');
    for (const [id, form] of Object.entries(body.outputs)) {
      const f = isObject(form) ? form : {};
      const format = isObject(f.format) ? f.format : {};
      // "ref" as the abstract tests write it, "reference" as the schema does.
      const ask: OutputAsk = { identifier: id, asReference: f.transmissionMode === 'reference' || f.transmissionMode === 'ref' };
      if (typeof format.mediaType === 'string') ask.mimeType = format.mediaType;
      if (typeof format.encoding === 'string') ask.encoding = format.encoding;
      if (typeof format.schema === 'string') ask.schema = format.schema;
      asks.push(ask);
    }
  }
  const raw = body.response === 'raw';
  if (body.response !== undefined && body.response !== 'raw' && body.response !== 'document') throw invalidParameter('response', 'response is raw or document');
  const request: ExecuteRequest = {
    operation: 'Execute',
    language: undefined,
    identifier,
    inputs,
    responseForm:
      raw && asks.length === 1
        ? { kind: 'raw', output: asks[0]! }
        : { kind: 'document', outputs: asks, storeExecuteResponse: false, lineage: false, status: false },
  };
  // Raw with other than one output asked for: the outputs as multipart/related, made from a document.
  if (raw && asks.length !== 1) request.rawResults = true;
  const out: ApiExecute = { request };
  if (body.subscriber !== undefined) {
    if (!isObject(body.subscriber)) throw invalidParameter('subscriber', 'subscriber holds successUri, inProgressUri and failedUri');
    const sub: Subscriber = {};
    for (const key of ['successUri', 'inProgressUri', 'failedUri'] as const) {
      const uri = body.subscriber[key];
      if (uri === undefined) continue;
      if (typeof uri !== 'string' || !isHttpUrl(uri)) throw invalidParameter(`subscriber.${key}`, `${key} must be an http(s) URL`);
      sub[key] = uri;
    }
    request.subscriber = sub;
  }
  return out;
}

/** One value of an input, in any of the forms the standard allows. */
function submitted(id: string, v: unknown): SubmittedData {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { kind: 'literal', value: String(v) };
  if (!isObject(v)) throw invalidParameter(id, `Input ${id}: not a value the standard allows (a value, a qualified value, a link or a bounding box)`);
  if (typeof v.href === 'string') {
    const ref: SubmittedData = { kind: 'reference', href: v.href, method: 'GET', headers: [] };
    if (typeof v.type === 'string') ref.mimeType = v.type;
    return ref;
  }
  if (Array.isArray(v.bbox)) {
    const box = v.bbox as unknown[];
    if (!box.every((n) => typeof n === 'number') || (box.length !== 4 && box.length !== 6)) throw invalidParameter(id, `Input ${id}: bbox is four or six numbers`);
    const half = box.length / 2;
    const data: SubmittedData = { kind: 'bbox', lowerCorner: box.slice(0, half) as number[], upperCorner: box.slice(half) as number[] };
    if (typeof v.crs === 'string') data.crs = v.crs;
    return data;
  }
  if ('value' in v) {
    const value = v.value;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const mediaType = typeof v.mediaType === 'string' ? v.mediaType : typeof value === 'object' ? 'application/json' : undefined;
    if (!mediaType) return { kind: 'literal', value: text };
    const data: SubmittedData = { kind: 'complex', value: text, xml: false, mimeType: mediaType };
    if (typeof v.encoding === 'string') data.encoding = v.encoding;
    if (typeof v.schema === 'string') data.schema = v.schema;
    return data;
  }
  throw invalidParameter(id, `Input ${id}: an object needs value, href or bbox`);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
  } catch {
    return false;
  }
}
