import { existsSync, readFileSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import type { InputInfo } from '../client/documents.js';
import type { InputValue } from '../client/wps-client.js';

/** A mistake on the command line: shown with the usage, exit code 2. */
export class UsageError extends Error {}

/** `int_in` → `--int-in` (the underscore form is accepted too). */
export const optionName = (identifier: string): string => identifier.replace(/_/g, '-');

const TEXT_TYPES = /^(text\/|application\/(json|xml|geo\+json|gml\+xml)|.*\+xml$)/;

/** How an input is shown in help: its type, allowed values and default. */
export function describeInput(i: InputInfo): string {
  const parts: string[] = [];
  if (i.kind === 'literal') {
    parts.push(i.dataType ?? 'string');
    if (i.allowedValues?.length) {
      parts.push(
        `one of ${i.allowedValues.map((v) => (typeof v === 'string' ? v : `${v.min ?? '-∞'}..${v.max ?? '∞'}`)).join(', ')}`,
      );
    }
    if (i.uoms?.length) parts.push(`units ${i.uoms.join('|')} (value@unit)`);
  } else if (i.kind === 'complex') {
    parts.push(`file, URL or text (${(i.formats ?? []).map((f) => f.mimeType).join(', ')})`);
  } else {
    parts.push(`bounding box minx,miny,maxx,maxy[,crs]${i.crss?.length ? ` (crs ${i.crss.join(', ')})` : ''}`);
  }
  if (i.defaultValue !== undefined) parts.push(`default ${i.defaultValue}`);
  if (i.minOccurs === 0 && i.defaultValue === undefined) parts.push('optional');
  if (i.maxOccurs > 1) parts.push(i.maxOccurs === Infinity ? 'repeatable' : `up to ${i.maxOccurs} times`);
  return parts.join('; ');
}

/**
 * A literal as typed: `value@unit` splits off the unit, and yes/no spell booleans.
 * Everything else is for the server to judge: its answer names the exception precisely.
 */
function literal(i: InputInfo, raw: string): InputValue {
  let value = raw;
  let uom: string | undefined;
  if (i.uoms?.length && raw.includes('@')) [value, uom] = [raw.slice(0, raw.lastIndexOf('@')), raw.slice(raw.lastIndexOf('@') + 1)];
  if (/^boolean$/i.test(i.dataType ?? '')) {
    const b = value.toLowerCase();
    if (['yes', 'on'].includes(b)) value = 'true';
    else if (['no', 'off'].includes(b)) value = 'false';
  }
  return uom ? { kind: 'literal', value, uom } : { kind: 'literal', value };
}

/** A URL is sent by reference, a file by value (base64 when it is not text), anything else as text. */
function complex(i: InputInfo, raw: string): InputValue {
  const format = i.formats?.[0];
  const mimeType = format?.mimeType;
  if (/^https?:\/\//i.test(raw)) return mimeType ? { kind: 'reference', href: raw, mimeType } : { kind: 'reference', href: raw };
  let bytes: Buffer | undefined;
  if (raw === '-') bytes = readFileSync(0);
  else if (existsSync(raw) && statSync(raw).isFile()) bytes = readFileSync(raw);
  const out: InputValue = { kind: 'complex', value: raw };
  if (bytes) {
    const asText = (!mimeType || TEXT_TYPES.test(mimeType)) && isUtf8(bytes);
    out.value = asText ? bytes.toString('utf8') : bytes.toString('base64');
    if (!asText) out.encoding = 'base64';
  }
  if (mimeType) out.mimeType = mimeType;
  if (format?.schema) out.schema = format.schema;
  return out;
}

function bbox(i: InputInfo, raw: string): InputValue {
  const parts = raw.split(',').map((s) => s.trim());
  const crs = parts.length % 2 === 1 ? parts.pop() : undefined;
  const nums = parts.map(Number);
  if (nums.length < 4 || nums.length % 2 !== 0 || !nums.every(Number.isFinite)) {
    throw new UsageError(`--${optionName(i.identifier)}: ${raw} is not minx,miny,maxx,maxy[,crs]`);
  }
  const half = nums.length / 2;
  const box: InputValue = { kind: 'bbox', lowerCorner: nums.slice(0, half), upperCorner: nums.slice(half) };
  if (crs) box.crs = crs;
  return box;
}

/** The values given on the command line for a process's inputs, in the form their type wants. */
export function inputValues(inputs: readonly InputInfo[], given: Record<string, string[] | undefined>): { identifier: string; value: InputValue }[] {
  const out: { identifier: string; value: InputValue }[] = [];
  for (const i of inputs) {
    for (const raw of given[i.identifier] ?? []) {
      const value = i.kind === 'literal' ? literal(i, raw) : i.kind === 'complex' ? complex(i, raw) : bbox(i, raw);
      out.push({ identifier: i.identifier, value });
    }
  }
  return out;
}
