/** File extensions for the media types outputs are stored as, and back. */
const BY_TYPE: Record<string, string> = {
  'text/plain': 'txt',
  'text/xml': 'xml',
  'application/xml': 'xml',
  'application/json': 'json',
  'application/geo+json': 'geojson',
  'application/gml+xml': 'gml',
  'text/csv': 'csv',
  'text/html': 'html',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/tiff': 'tif',
  'image/tiff; subtype=geotiff': 'tif',
  'application/x-netcdf': 'nc',
  'application/x-ogc-netcdf': 'nc',
  'application/zip': 'zip',
  'application/pdf': 'pdf',
  'application/octet-stream': 'bin',
};

const BY_EXTENSION: Record<string, string> = {};
for (const [type, ext] of Object.entries(BY_TYPE)) BY_EXTENSION[ext] ??= type;

export function extensionFor(mimeType: string): string {
  return BY_TYPE[mimeType.toLowerCase().trim()] ?? BY_TYPE[mimeType.toLowerCase().split(';')[0]!.trim()] ?? 'bin';
}

export function mediaTypeFor(fileName: string): string {
  const ext = fileName.slice(fileName.lastIndexOf('.') + 1).toLowerCase();
  const type = BY_EXTENSION[ext] ?? 'application/octet-stream';
  return type.startsWith('text/') || type.endsWith('xml') || type.endsWith('json') ? `${type}; charset=utf-8` : type;
}
