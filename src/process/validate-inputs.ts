import { invalidParameter, missingParameter, OwsException } from '../exceptions.js';
import { matchCrs } from './crs.js';
import { clip, isBase64, requireFormat } from './formats.js';
import { coerceLiteral, parseLiteral, type LiteralJsValue } from './literal-types.js';
import { ComplexData, type WorkdirOf } from './complex-data.js';
import { readFileSync, statSync } from 'node:fs';
import {
  Inputs,
  type AllowedValue,
  type BoundingBoxInput,
  type ComplexInput,
  type InputDescription,
  type InputValue,
  type LiteralInput,
  type ProcessDefinition,
  type ValueRange,
} from './types.js';

/**
 * A value as a request delivered it, before it is checked against the declaration.
 * The request model's submissions fit these shapes; references arrive already fetched
 * (as complex values with their bytes).
 */
export type RawInput =
  | { kind: 'literal'; value: string; uom?: string }
  /** `{ file }`: a reference a job fetched straight into a file of its working directory. */
  | { kind: 'complex'; value: string | Buffer | { file: string }; mimeType?: string; encoding?: string; schema?: string }
  | { kind: 'bbox'; lowerCorner: number[]; upperCorner: number[]; crs?: string; dimensions?: number }
  /**
   * A value that will be fetched later (a reference): counted, and its declared format
   * checked; the value itself is checked once fetched.
   */
  | { kind: 'pending'; mimeType?: string; encoding?: string; schema?: string };

export interface RawInputEntry {
  identifier: string;
  data: RawInput;
}

/**
 * Checks every submitted value against the process's declarations and turns it into
 * the typed value the handler receives. Throws the OWS exception a client should see,
 * with the input identifier as locator.
 */
export function validateInputs(process: ProcessDefinition, entries: readonly RawInputEntry[], workdir?: WorkdirOf): Inputs {
  const declared = new Map(process.inputs.map((i) => [i.identifier, i]));
  const grouped = new Map<string, RawInput[]>();
  for (const { identifier, data } of entries) {
    if (!declared.has(identifier)) {
      throw invalidParameter(identifier, `Process ${process.identifier} has no input ${identifier}`);
    }
    const list = grouped.get(identifier) ?? [];
    list.push(data);
    grouped.set(identifier, list);
  }
  const values = new Map<string, InputValue[]>();
  for (const input of process.inputs) {
    const given = grouped.get(input.identifier) ?? [];
    if (given.length > input.maxOccurs) {
      throw invalidParameter(
        input.identifier,
        `Input ${input.identifier} is given ${given.length} times; at most ${input.maxOccurs} allowed`,
      );
    }
    if (given.length < input.minOccurs) {
      throw missingParameter(
        input.identifier,
        input.minOccurs === 1
          ? `Input ${input.identifier} is required`
          : `Input ${input.identifier} is required at least ${input.minOccurs} times`,
      );
    }
    if (given.length === 0) {
      if (input.type === 'literal' && input.default !== undefined) {
        values.set(input.identifier, [defaultValue(input)]);
      }
      continue;
    }
    const present: InputValue[] = [];
    for (const raw of given) {
      if (raw.kind === 'pending') checkPending(input, raw);
      else present.push(validateOne(input, raw, workdir));
    }
    values.set(input.identifier, present);
  }
  return new Inputs(values);
}

function defaultValue(input: LiteralInput): InputValue {
  const value = coerceLiteral(input.dataType, input.default) as LiteralJsValue;
  return input.uoms?.[0] ? { type: 'literal', value, uom: input.uoms[0] } : { type: 'literal', value };
}

type PresentInput = Exclude<RawInput, { kind: 'pending' }>;

/** What a reference declares, before its value is fetched. */
function checkPending(input: InputDescription, raw: Extract<RawInput, { kind: 'pending' }>): void {
  const id = input.identifier;
  if (input.type === 'bbox') throw invalidParameter(id, `Input ${id}: a bounding box cannot be given by reference`);
  if (input.type === 'complex') requireFormat('Input', id, input.formats, raw);
}

function validateOne(input: InputDescription, raw: PresentInput, workdir: WorkdirOf | undefined): InputValue {
  switch (input.type) {
    case 'literal':
      return validateLiteral(input, raw);
    case 'complex':
      return validateComplex(input, raw, workdir);
    case 'bbox':
      return validateBoundingBox(input, raw);
  }
}

function asText(raw: PresentInput, id: string): string {
  if (raw.kind === 'bbox') throw invalidParameter(id, `Input ${id} takes a literal value, not a bounding box`);
  if (raw.kind === 'literal') return raw.value;
  return typeof raw.value === 'string' ? raw.value : bytesOf(raw.value).toString('utf8');
}

const isFile = (v: string | Buffer | { file: string }): v is { file: string } => typeof v === 'object' && !Buffer.isBuffer(v);

const bytesOf = (v: string | Buffer | { file: string }): Buffer =>
  typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.isBuffer(v) ? v : readFileSync(v.file);

// Characters an XML document cannot carry: a value holding one could never be echoed back.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function validateLiteral(input: LiteralInput, raw: PresentInput): InputValue {
  const id = input.identifier;
  const lexical = asText(raw, id);
  if (NOT_XML.test(lexical)) throw invalidParameter(id, `Input ${id}: the value holds control characters (such as NUL) that XML cannot carry`);
  const value = parseLiteral(input.dataType, lexical);
  if (value === undefined) {
    throw invalidParameter(id, `Input ${id}: "${clip(lexical)}" is not a valid ${input.dataType}`);
  }
  if (input.allowedValues && !isAllowed(input.allowedValues, value)) {
    throw invalidParameter(
      id,
      `Input ${id}: ${clip(lexical)} is not one of the allowed values (${describeAllowed(input)})`,
    );
  }
  if (input.pattern !== undefined && !new RegExp(input.pattern).test(lexical)) {
    throw invalidParameter(id, `Input ${id}: ${clip(lexical)} is not an accepted value`);
  }
  const uom = raw.kind === 'literal' ? raw.uom : undefined;
  if (uom !== undefined && uom !== '') {
    if (!input.uoms?.includes(uom)) {
      throw invalidParameter(
        id,
        input.uoms
          ? `Input ${id}: unit ${clip(uom)} is not supported (${input.uoms.join(', ')})`
          : `Input ${id} takes no unit of measure`,
      );
    }
    return { type: 'literal', value, uom };
  }
  return input.uoms?.[0] ? { type: 'literal', value, uom: input.uoms[0] } : { type: 'literal', value };
}

function inRange(r: ValueRange, n: number): boolean {
  const closure = r.closure ?? 'closed';
  const lowOpen = closure === 'open' || closure === 'open-closed';
  const highOpen = closure === 'open' || closure === 'closed-open';
  if (r.min !== undefined && (lowOpen ? n <= r.min : n < r.min)) return false;
  if (r.max !== undefined && (highOpen ? n >= r.max : n > r.max)) return false;
  if (r.spacing !== undefined && r.spacing > 0) {
    const steps = (n - (r.min ?? 0)) / r.spacing;
    if (Math.abs(steps - Math.round(steps)) > 1e-9) return false;
  }
  return true;
}

function isAllowed(allowed: readonly AllowedValue[], value: LiteralJsValue): boolean {
  return allowed.some((a) => {
    if (typeof a === 'object') return typeof value === 'number' && inRange(a, value);
    if (typeof value === 'number') return typeof a === 'number' ? a === value : Number(a) === value;
    return String(a) === String(value);
  });
}

function describeAllowed(input: LiteralInput): string {
  return (input.allowedValues ?? [])
    .map((a) => {
      if (typeof a !== 'object') return String(a);
      const c = a.closure ?? 'closed';
      const lo = c === 'open' || c === 'open-closed' ? '(' : '[';
      const hi = c === 'open' || c === 'closed-open' ? ')' : ']';
      return `${lo}${a.min ?? '-∞'}, ${a.max ?? '∞'}${hi}`;
    })
    .join(', ');
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function validateComplex(input: ComplexInput, raw: PresentInput, workdir: WorkdirOf | undefined): InputValue {
  const id = input.identifier;
  if (raw.kind === 'bbox') throw invalidParameter(id, `Input ${id} takes complex data, not a bounding box`);
  const asked: { mimeType?: string; encoding?: string; schema?: string } = raw.kind === 'complex' ? raw : {};
  const format = requireFormat('Input', id, input.formats, asked);
  const valueFormat = { mimeType: asked.mimeType ?? format.mimeType, encoding: asked.encoding ?? format.encoding, schema: asked.schema ?? format.schema };
  const checkSize = (bytes: number) => {
    if (input.maximumMegabytes !== undefined && bytes > input.maximumMegabytes * 1024 * 1024) {
      throw new OwsException('FileSizeExceeded', `Input ${id} is larger than its limit of ${input.maximumMegabytes} MB`, id);
    }
  };
  if (raw.kind === 'complex' && isFile(raw.value) && !isBase64(raw.encoding)) {
    // Kept in its file: never read into memory unless the handler asks for the bytes.
    checkSize(statSync(raw.value.file).size);
    return new ComplexData({ file: raw.value.file }, valueFormat, workdir);
  }
  let data: Buffer;
  if (raw.kind === 'complex' && isBase64(raw.encoding)) {
    const text = bytesOf(raw.value).toString('latin1');
    if (!BASE64.test(text)) throw invalidParameter(id, `Input ${id}: the value is not valid base64`);
    data = Buffer.from(text, 'base64');
  } else {
    data = bytesOf(raw.value);
  }
  checkSize(data.length);
  return new ComplexData({ bytes: data }, valueFormat, workdir);
}

/** `minx,miny,maxx,maxy[,crs[,dimensions]]`, the OWS KVP form of a bounding box. */
type RawBox = Extract<RawInput, { kind: 'bbox' }>;

export function parseBoundingBoxText(text: string): RawBox | undefined {
  const parts = text.split(',').map((s) => s.trim());
  let dimensions: number | undefined;
  let crs: string | undefined;
  const numeric = (s: string | undefined) => s !== undefined && s !== '' && Number.isFinite(Number(s));
  if (parts.length >= 2 && !numeric(parts[parts.length - 2]) && /^\d+$/.test(parts[parts.length - 1]!)) {
    dimensions = Number(parts.pop());
  }
  if (parts.length > 0 && !numeric(parts[parts.length - 1])) crs = parts.pop();
  if (parts.length < 2 || parts.length % 2 !== 0 || !parts.every(numeric)) return undefined;
  const coords = parts.map(Number);
  const half = coords.length / 2;
  const box: RawBox = { kind: 'bbox', lowerCorner: coords.slice(0, half), upperCorner: coords.slice(half) };
  if (crs) box.crs = crs;
  if (dimensions !== undefined) box.dimensions = dimensions;
  return box;
}

function validateBoundingBox(input: BoundingBoxInput, raw: PresentInput): InputValue {
  const id = input.identifier;
  const box = raw.kind === 'bbox' ? raw : parseBoundingBoxText(asText(raw, id));
  if (!box) throw invalidParameter(id, `Input ${id}: not a bounding box (minx,miny,maxx,maxy[,crs])`);
  const dims = input.dimensions;
  if (box.dimensions !== undefined && box.dimensions !== dims) {
    throw invalidParameter(id, `Input ${id}: ${box.dimensions} dimensions given, ${dims} expected`);
  }
  if (box.lowerCorner.length !== dims || box.upperCorner.length !== dims) {
    throw invalidParameter(id, `Input ${id}: each corner needs ${dims} coordinates`);
  }
  if (![...box.lowerCorner, ...box.upperCorner].every(Number.isFinite)) {
    throw invalidParameter(id, `Input ${id}: coordinates must be finite numbers`);
  }
  let crs = input.crss[0]!;
  if (box.crs) {
    const match = matchCrs(input.crss, box.crs);
    if (!match) {
      throw invalidParameter(id, `Input ${id}: CRS ${clip(box.crs)} is not supported (${input.crss.join(', ')})`);
    }
    crs = match;
  }
  return { type: 'bbox', lowerCorner: box.lowerCorner, upperCorner: box.upperCorner, crs, dimensions: dims };
}
