/**
 * CRS identifiers come as `EPSG:4326`, `urn:ogc:def:crs:EPSG::4326`,
 * `urn:ogc:def:crs:EPSG:6.6:4326` or `http://www.opengis.net/def/crs/EPSG/0/4326`;
 * they name the same CRS when authority and code agree.
 */
export function crsKey(crs: string): string {
  const s = crs.trim();
  let m = /^urn:ogc:def:crs:([^:]+):[^:]*:(.+)$/i.exec(s);
  if (m) return `${m[1]}:${m[2]}`.toUpperCase();
  m = /^https?:\/\/www\.opengis\.net\/def\/crs\/([^/]+)\/[^/]+\/([^/]+)$/i.exec(s);
  if (m) return `${m[1]}:${m[2]}`.toUpperCase();
  m = /^([A-Za-z]+):(\w+)$/.exec(s);
  if (m) return `${m[1]}:${m[2]}`.toUpperCase();
  return s;
}

/** The declared CRS that names the same CRS as `crs`, if any. */
export function matchCrs(declared: readonly string[], crs: string): string | undefined {
  const key = crsKey(crs);
  return declared.find((d) => crsKey(d) === key);
}
