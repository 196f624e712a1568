import type { LiteralDataType } from '../process/literal-types.js';
import { isTextMimeType } from '../process/formats.js';
import type { InputDescription, OutputDescription, ProcessDefinition, ValueRange } from '../process/types.js';

/**
 * OGC API - Processes - Part 1 process documents, from the same declarations the WPS
 * documents come from: a summary for the list, a description with every input and
 * output as a JSON schema. Nothing here knows about HTTP or the store.
 */

export type Json = Record<string, unknown>;

export interface Link {
  href: string;
  rel: string;
  type?: string;
  title?: string;
}

/** What a client may ask of the process's jobs. */
export function jobControlOptions(p: ProcessDefinition): string[] {
  const options: string[] = [];
  if (!p.session) options.push('sync-execute');
  if (p.storeSupported) options.push('async-execute', 'dismiss');
  return options;
}

export function processSummary(p: ProcessDefinition, links: Link[]): Json {
  return {
    id: p.identifier,
    title: p.title,
    ...(p.abstract ? { description: p.abstract } : {}),
    ...(p.keywords?.length ? { keywords: p.keywords } : {}),
    ...(p.metadata?.length ? { metadata: p.metadata.map((m) => ({ title: m.title, href: m.href })) } : {}),
    version: p.version,
    jobControlOptions: jobControlOptions(p),
    outputTransmission: ['value', 'reference'],
    links,
  };
}

export function processDescription(p: ProcessDefinition, links: Link[]): Json {
  return {
    ...processSummary(p, links),
    inputs: Object.fromEntries(p.inputs.map((i) => [i.identifier, inputDescription(i)])),
    outputs: Object.fromEntries(p.outputs.map((o) => [o.identifier, { ...described(o), schema: outputSchema(o) }])),
  };
}

const described = (d: { title: string; abstract?: string }): Json => ({ title: d.title, ...(d.abstract ? { description: d.abstract } : {}) });

function inputDescription(i: InputDescription): Json {
  return {
    ...described(i),
    minOccurs: i.minOccurs,
    maxOccurs: i.maxOccurs,
    schema: i.type === 'literal' ? literalSchema(i.dataType, i.allowedValues, i.default, i.pattern) : i.type === 'complex' ? complexSchema(i.formats) : bboxSchema(i.crss),
  };
}

function outputSchema(o: OutputDescription): Json {
  return o.type === 'literal' ? literalSchema(o.dataType) : o.type === 'complex' ? complexSchema(o.formats) : bboxSchema(o.crss);
}

const TYPES: Record<LiteralDataType, Json> = {
  string: { type: 'string' },
  integer: { type: 'integer' },
  positiveInteger: { type: 'integer', minimum: 1 },
  nonNegativeInteger: { type: 'integer', minimum: 0 },
  float: { type: 'number' },
  double: { type: 'number' },
  decimal: { type: 'number' },
  boolean: { type: 'boolean' },
  date: { type: 'string', format: 'date' },
  dateTime: { type: 'string', format: 'date-time' },
  time: { type: 'string', format: 'time' },
  anyURI: { type: 'string', format: 'uri' },
};

/** A literal as JSON Schema: its type, its allowed values (an enum, or one range's bounds), its default and pattern. */
function literalSchema(dataType: LiteralDataType, allowed?: readonly (string | number | ValueRange)[], defaultValue?: unknown, pattern?: string): Json {
  const schema: Json = { ...TYPES[dataType] };
  const values = allowed?.filter((a): a is string | number => typeof a !== 'object') ?? [];
  const ranges = allowed?.filter((a): a is ValueRange => typeof a === 'object') ?? [];
  if (values.length > 0 && ranges.length === 0) schema.enum = values;
  if (ranges.length === 1 && values.length === 0) {
    const r = ranges[0]!;
    const closure = r.closure ?? 'closed';
    if (r.min !== undefined) schema[closure === 'open' || closure === 'open-closed' ? 'exclusiveMinimum' : 'minimum'] = r.min;
    if (r.max !== undefined) schema[closure === 'open' || closure === 'closed-open' ? 'exclusiveMaximum' : 'maximum'] = r.max;
  }
  if (pattern !== undefined) schema.pattern = pattern;
  if (defaultValue !== undefined) schema.default = defaultValue;
  return schema;
}

/** A complex value: one of its formats, as a string with its media type (base64 unless text). */
function complexSchema(formats: readonly { mimeType: string; encoding?: string; schema?: string }[]): Json {
  const each = formats.map((f) => ({
    type: 'string',
    contentMediaType: f.mimeType,
    ...(!isTextMimeType(f.mimeType) || f.encoding?.toLowerCase() === 'base64' ? { contentEncoding: 'base64' } : {}),
    ...(f.schema ? { contentSchema: f.schema } : {}),
  }));
  return each.length === 1 ? each[0]! : { oneOf: each };
}

/** A bounding box as the standard's bbox.yaml has it: four or six numbers and a CRS. */
function bboxSchema(crss: readonly string[]): Json {
  return {
    type: 'object',
    required: ['bbox'],
    properties: {
      bbox: { type: 'array', oneOf: [{ minItems: 4, maxItems: 4 }, { minItems: 6, maxItems: 6 }], items: { type: 'number' } },
      crs: { type: 'string', format: 'uri', enum: [...crss], default: crss[0] },
    },
  };
}
