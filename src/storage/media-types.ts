import mime from 'mime-types';

/**
 * File extensions for the media types outputs are stored as, and back: the mime-types
 * table (mime-db), plus the geospatial types it lacks. NetCDF, GeoTIFF, GeoPackage,
 * KML, HDF5 and Zip outputs keep their usual extensions, so a downloaded output opens
 * in the tool that expects it.
 */
const GEOSPATIAL: Record<string, string> = {
  'application/x-ogc-netcdf': 'nc',
  'application/geopackage+sqlite3': 'gpkg',
  'application/x-hdf5': 'h5',
};
const BY_EXTENSION: Record<string, string> = {
  gpkg: 'application/geopackage+sqlite3',
  h5: 'application/x-hdf5',
  hdf5: 'application/x-hdf5',
  // Status documents: text/xml, as WPS clients have always been served them.
  xml: 'text/xml',
};

export function extensionFor(mimeType: string): string {
  const type = mimeType.toLowerCase().split(';')[0]!.trim();
  return GEOSPATIAL[type] ?? (mime.extension(type) || 'bin');
}

export function mediaTypeFor(fileName: string): string {
  const ext = fileName.slice(fileName.lastIndexOf('.') + 1).toLowerCase();
  const type = BY_EXTENSION[ext] ?? (mime.lookup(ext) || 'application/octet-stream');
  return type.startsWith('text/') || type.endsWith('xml') || type.endsWith('json') ? `${type}; charset=utf-8` : type;
}
