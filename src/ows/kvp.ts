import { invalidParameter, missingParameter } from '../exceptions.js';
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
import type {
  InputSubmission,
  OutputRequest,
  ResponseForm,
  SubmittedData,
  WpsRequest,
} from './request.js';

/**
 * KVP (HTTP GET) encoding → WpsRequest. Parameter names are matched without case,
 * values keep theirs. DataInputs, ResponseDocument and RawDataOutput are split on
 * their separators before percent-decoding, so an encoded `;`, `@` or `=` stays part
 * of a value, as WPS 1.0.0 (10.2.2.1) intends.
 */

const STRUCTURED = new Set(['datainputs', 'responsedocument', 'rawdataoutput']);

function decode(raw: string, locator: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw invalidParameter(locator, `Parameter ${locator} is not validly percent-encoded UTF-8`);
  }
}

/** Parameters by lower-cased name: the decoded value, and the raw one for structured values. */
export class KvpParams {
  private readonly values = new Map<string, { raw: string; value: string }>();

  constructor(query: string) {
    for (const pair of query.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      const raw = eq < 0 ? '' : pair.slice(eq + 1);
      const name = decode(rawName, rawName).toLowerCase();
      const value = STRUCTURED.has(name) ? raw : decode(raw, name);
      const previous = this.values.get(name);
      if (previous && previous.raw !== raw) {
        throw invalidParameter(name, `Parameter ${name} is given more than once with different values`);
      }
      this.values.set(name, { raw, value });
    }
  }

  get(name: string): string | undefined {
    return this.values.get(name)?.value;
  }

  raw(name: string): string | undefined {
    return this.values.get(name)?.raw;
  }
}

export function parseKvp(query: string, languages: readonly string[]): WpsRequest {
  const p = new KvpParams(query);
  checkService(p.get('service'));
  const operation = operationOf(p.get('request'));
  const language = matchLanguage(p.get('language'), languages);
  switch (operation) {
    case 'GetCapabilities': {
      const accept = p.get('acceptversions');
      const acceptVersions = accept === undefined ? undefined : accept.split(',').map((v) => v.trim());
      negotiateVersion(acceptVersions);
      // AcceptFormats and Sections are optional; unknown values are ignored.
      return { operation, acceptVersions, updateSequence: p.get('updatesequence'), language };
    }
    case 'DescribeProcess': {
      checkVersion(p.get('version'));
      const ids = identifierList(p.get('identifier'));
      return { operation, identifiers: isAll(ids) ? 'ALL' : ids, language };
    }
    case 'Dismiss':
      checkVersion(p.get('version'));
      return { operation, jobId: checkJobId(p.get('jobid')), language };
    case 'Execute': {
      checkVersion(p.get('version'));
      const ids = identifierList(p.get('identifier'));
      if (ids.length > 1) throw invalidParameter('identifier', 'Execute runs exactly one process');
      const responseForm = kvpResponseForm(p);
      checkResponseForm(responseForm);
      return {
        operation,
        identifier: ids[0]!,
        inputs: parseDataInputs(p.raw('datainputs')),
        responseForm,
        language,
      };
    }
  }
}

function identifierList(value: string | undefined): string[] {
  const ids = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (ids.length === 0) throw missingParameter('identifier', 'Missing parameter value: identifier (a process identifier)');
  return ids;
}

/**
 * Splits one structured value: `a=1@uom=m;b=@xlink:href=...`. When the separators
 * themselves arrive percent-encoded (a client that encoded the whole parameter, as
 * HTML forms and Python's urlencode do) the value is decoded once before splitting.
 */
function entries(raw: string, locator: string): { head: string; value: string; attrs: Map<string, string> }[] {
  const encodedWhole = !/[=;@]/.test(raw) && /%3[bBdD]|%40/.test(raw);
  const text = encodedWhole ? decode(raw, locator) : raw;
  const piece = (s: string) => (encodedWhole ? safeDecode(s) : decode(s, locator));
  const out: { head: string; value: string; attrs: Map<string, string> }[] = [];
  for (const entry of text.split(';')) {
    if (entry.trim() === '') continue;
    const [first, ...attrParts] = entry.split('@');
    const eq = first!.indexOf('=');
    const head = piece(eq < 0 ? first! : first!.slice(0, eq)).trim();
    const value = eq < 0 ? '' : piece(first!.slice(eq + 1));
    const attrs = new Map<string, string>();
    for (const a of attrParts) {
      const aeq = a.indexOf('=');
      const name = piece(aeq < 0 ? a : a.slice(0, aeq)).trim().toLowerCase();
      attrs.set(name, aeq < 0 ? '' : piece(a.slice(aeq + 1)));
    }
    if (head === '') throw invalidParameter(locator, `${locator}: an entry has no identifier`);
    out.push({ head, value, attrs });
  }
  return out;
}

/** Pieces of a value decoded once already: decode again only where it is still encoded. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseDataInputs(raw: string | undefined): InputSubmission[] {
  if (raw === undefined) return [];
  return entries(raw, 'DataInputs').map(({ head, value, attrs }) => ({ identifier: head, data: kvpData(value, attrs) }));
}

function kvpData(value: string, attrs: Map<string, string>): SubmittedData {
  // The usual case, `name=value`: a plain literal.
  if (attrs.size === 0) return { kind: 'literal', value };
  const opt = (name: string) => {
    const v = attrs.get(name.toLowerCase());
    return v === undefined || v === '' ? undefined : v;
  };
  const href = opt('xlink:href') ?? opt('href');
  if (href !== undefined) {
    const method = (opt('method') ?? 'GET').toUpperCase();
    return withOptional({ kind: 'reference', href, method: method === 'POST' ? 'POST' : 'GET', headers: [] }, {
      mimeType: opt('mimeType'),
      encoding: opt('encoding'),
      schema: opt('schema'),
    });
  }
  if (opt('mimeType') || opt('encoding') || opt('schema')) {
    return withOptional({ kind: 'complex', value, xml: false }, {
      mimeType: opt('mimeType'),
      encoding: opt('encoding'),
      schema: opt('schema'),
    });
  }
  return withOptional({ kind: 'literal', value }, { uom: opt('uom'), dataType: opt('dataType') });
}

function withOptional<T extends object>(base: T, extra: Record<string, string | undefined>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as T;
}

function outputRequests(raw: string, locator: string): OutputRequest[] {
  return entries(raw, locator).map(({ head, attrs }) =>
    withOptional(
      { identifier: head, asReference: parseBoolean(attrs.get('asreference'), 'asReference') },
      {
        mimeType: attrs.get('mimetype') || undefined,
        encoding: attrs.get('encoding') || undefined,
        schema: attrs.get('schema') || undefined,
        uom: attrs.get('uom') || undefined,
      },
    ),
  );
}

function kvpResponseForm(p: KvpParams): ResponseForm {
  const rawOutput = p.raw('rawdataoutput');
  const document = p.raw('responsedocument');
  const store = parseBoolean(p.get('storeexecuteresponse'), 'storeExecuteResponse');
  const lineage = parseBoolean(p.get('lineage'), 'lineage');
  const status = parseBoolean(p.get('status'), 'status');
  if (rawOutput !== undefined) {
    if (document !== undefined) {
      throw invalidParameter('RawDataOutput', 'Give either ResponseDocument or RawDataOutput, not both');
    }
    const outputs = outputRequests(rawOutput, 'RawDataOutput');
    if (outputs.length !== 1) throw invalidParameter('RawDataOutput', 'RawDataOutput names exactly one output');
    if (store) throw invalidParameter('storeExecuteResponse', 'A raw data output cannot be stored');
    return { kind: 'raw', output: outputs[0]! };
  }
  return {
    kind: 'document',
    outputs: document === undefined ? [] : outputRequests(document, 'ResponseDocument'),
    storeExecuteResponse: store,
    lineage,
    status,
  };
}
