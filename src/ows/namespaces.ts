export const NS = {
  wps: 'http://www.opengis.net/wps/1.0.0',
  ows: 'http://www.opengis.net/ows/1.1',
  xlink: 'http://www.w3.org/1999/xlink',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xml: 'http://www.w3.org/XML/1998/namespace',
  xmlns: 'http://www.w3.org/2000/xmlns/',
} as const;

export const SCHEMA_LOCATION = {
  capabilities: `${NS.wps} http://schemas.opengis.net/wps/1.0.0/wpsGetCapabilities_response.xsd`,
  describeProcess: `${NS.wps} http://schemas.opengis.net/wps/1.0.0/wpsDescribeProcess_response.xsd`,
  execute: `${NS.wps} http://schemas.opengis.net/wps/1.0.0/wpsExecute_response.xsd`,
  exceptionReport: `${NS.ows} http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd`,
} as const;

export const WPS_VERSION = '1.0.0';
