import type { OwsException } from '../exceptions.js';
import { serialize, startDocument, type ElementWriter } from './document.js';
import { NS, SCHEMA_LOCATION } from './namespaces.js';

/** The ows:ExceptionReport a client receives for a failed request. */
export function exceptionReportXml(err: OwsException, language: string): string {
  const root = startDocument(NS.ows, 'ows:ExceptionReport', ['ows'], SCHEMA_LOCATION.exceptionReport);
  fillReport(root, err, language);
  return serialize(root);
}

/** The same report nested in another document (ProcessFailed in an ExecuteResponse). */
export function appendExceptionReport(parent: ElementWriter, err: OwsException, language: string): void {
  fillReport(parent.ele(NS.ows, 'ows:ExceptionReport'), err, language);
}

function fillReport(report: ElementWriter, err: OwsException, language: string): void {
  report.att('version', '1.0.0').att(NS.xml, 'xml:lang', language);
  const ex = report.ele(NS.ows, 'ows:Exception').att('exceptionCode', err.code);
  if (err.locator) ex.att('locator', err.locator);
  ex.ele(NS.ows, 'ows:ExceptionText').txt(err.message);
}
