import { isTextMimeType } from '../process/formats.js';
import type { StoredOutput } from '../runner-contract.js';

/**
 * One output as OGC API - Processes gives it in a results document: a link when stored
 * by reference, a bare literal, a bounding box, or a qualified value (text as it is,
 * other bytes in base64).
 */
export function resultValue(o: StoredOutput): unknown {
  const v = o.value;
  if (o.href) return { href: o.href, type: v.type === 'complex' ? v.mimeType : v.type === 'bbox' ? 'text/xml' : 'text/plain' };
  switch (v.type) {
    case 'literal':
      return v.uom ? { value: v.value, uom: v.uom } : v.value;
    case 'bbox':
      return boundingBox(v.lowerCorner, v.upperCorner, v.crs);
    case 'complex': {
      const bytes = Buffer.from(v.data ?? '', 'base64');
      const text = isTextMimeType(v.mimeType) && v.encoding?.toLowerCase() !== 'base64';
      return text ? { value: bytes.toString('utf8'), mediaType: v.mimeType } : { value: v.data, mediaType: v.mimeType, encoding: 'base64' };
    }
  }
}

const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
const EPSG_4326 = /EPSG(?::|::|\/0\/)4326$/;

/**
 * A bounding box as the standard's bbox.yaml allows it: in CRS84 (longitude first), so a
 * two-dimensional EPSG:4326 box (latitude first) has its axes swapped; one in any other
 * CRS goes as a qualified JSON value, which the schema lets carry any CRS.
 */
function boundingBox(lower: readonly number[], upper: readonly number[], crs: string): unknown {
  if (/CRS84$/.test(crs)) return { bbox: [...lower, ...upper], crs: CRS84 };
  if (EPSG_4326.test(crs) && lower.length === 2) return { bbox: [lower[1], lower[0], upper[1], upper[0]], crs: CRS84 };
  return { value: { bbox: [...lower, ...upper], crs }, mediaType: 'application/json' };
}
