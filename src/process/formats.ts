import { invalidParameter } from '../exceptions.js';
import type { Format } from './types.js';

/** Keeps user values echoed in messages short. */
export function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

const norm = (s: string | undefined) => s?.trim().toLowerCase() ?? '';
const mime = (s: string | undefined) => norm(s).split(';')[0]!.trim();

/**
 * The supported format matching what a request asked for: mimeType compared without
 * parameters and case, encoding and schema only when the request gives them.
 * No mimeType at all selects the default (first) format.
 */
export function matchFormat(
  formats: readonly Format[],
  asked: { mimeType?: string; encoding?: string; schema?: string },
): Format | undefined {
  if (!asked.mimeType && !asked.schema && !asked.encoding) return formats[0];
  return formats.find(
    (f) =>
      (!asked.mimeType || mime(f.mimeType) === mime(asked.mimeType)) &&
      (!asked.encoding || norm(asked.encoding) === norm(f.encoding ?? 'utf-8') || isBase64(asked.encoding)) &&
      (!asked.schema || norm(f.schema) === norm(asked.schema)),
  );
}

/** The matching format, or InvalidParameterValue naming the input or output and what it supports. */
export function requireFormat(
  kind: 'Input' | 'Output',
  id: string,
  formats: readonly Format[],
  asked: { mimeType?: string; encoding?: string; schema?: string },
): Format {
  const format = matchFormat(formats, asked);
  if (format) return format;
  const what = [asked.mimeType, asked.encoding, asked.schema].filter(Boolean).join(', ');
  throw invalidParameter(
    id,
    `${kind} ${id}: format ${clip(what)} is not supported; supported: ${formats.map((f) => f.mimeType).join(', ')}`,
  );
}

export const isBase64 = (encoding: string | undefined): boolean => norm(encoding) === 'base64';

export const isXmlMimeType = (mimeType: string): boolean =>
  /^(text|application)\/([\w.-]+\+)?xml$/.test(mime(mimeType));

/** Text that can stand in an XML document as it is (anything but binary formats). */
export const isTextMimeType = (mimeType: string): boolean =>
  /^text\//.test(mime(mimeType)) ||
  isXmlMimeType(mimeType) ||
  /^application\/([\w.-]+\+)?(json|javascript|x-www-form-urlencoded|csv|geo\+json)$/.test(mime(mimeType));
