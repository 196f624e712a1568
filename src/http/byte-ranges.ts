import type { IncomingHttpHeaders } from 'node:http';

/**
 * Conditional and partial GETs of a stored file (RFC 9110 §13, §14): what GDAL's
 * /vsicurl/, xarray over HTTP and resumed downloads send. One range per request (a
 * client asking several gets the whole file, which the RFC allows).
 */

export type Wanted =
  | { kind: 'not-modified' }
  | { kind: 'whole' }
  | { kind: 'range'; start: number; end: number }
  | { kind: 'unsatisfiable' };

export function wantedPart(headers: IncomingHttpHeaders, etag: string, size: number): Wanted {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined && matchesAny(ifNoneMatch, etag)) return { kind: 'not-modified' };
  const range = headers.range;
  if (range === undefined) return { kind: 'whole' };
  // If-Range with another version: the client's pieces are stale, it gets the whole file.
  const ifRange = headers['if-range'] as string | undefined;
  if (ifRange !== undefined && ifRange.trim() !== etag) return { kind: 'whole' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  let start: number;
  let end: number;
  if (m[1] === '') {
    // A suffix: the last N bytes.
    const suffix = Number(m[2]);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (end < start && m[2] !== '') return { kind: 'whole' };
  }
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end };
}

/** If-None-Match: `*` or a list of (weak or strong) tags, compared weakly. */
function matchesAny(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
