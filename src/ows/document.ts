import { NS } from './namespaces.js';
import { ElementWriter } from './xml-writer.js';

export type { ElementWriter };

/**
 * Starts a document whose root declares the given prefixes, so that every element
 * below reuses them instead of redeclaring namespaces locally.
 */
export function startDocument(
  _ns: string,
  qname: string,
  prefixes: readonly (keyof typeof NS)[],
  schemaLocation?: string,
): ElementWriter {
  const root = new ElementWriter(qname);
  for (const p of prefixes) root.att(`xmlns:${p}`, NS[p]);
  if (schemaLocation) root.att('xmlns:xsi', NS.xsi).att('xsi:schemaLocation', schemaLocation);
  return root;
}

export const serialize = (root: ElementWriter): string => `<?xml version="1.0" encoding="UTF-8"?>${root.toString()}`;

/** `<ows:Identifier>`, `<ows:Title>`, `<ows:Abstract>` and `<ows:Metadata>` of a described thing. */
export function describe(
  parent: ElementWriter,
  d: { identifier: string; title: string; abstract?: string; metadata?: { title: string; href: string }[] },
): void {
  parent.ele(NS.ows, 'ows:Identifier').txt(d.identifier);
  parent.ele(NS.ows, 'ows:Title').txt(d.title);
  if (d.abstract) parent.ele(NS.ows, 'ows:Abstract').txt(d.abstract);
  for (const m of d.metadata ?? []) {
    parent.ele(NS.ows, 'ows:Metadata').att(NS.xlink, 'xlink:title', m.title).att(NS.xlink, 'xlink:href', m.href);
  }
}

let lastSecond = NaN;
let lastText = '';

/** UTC creation time without milliseconds, as clients and the suite expect. */
export function utcNow(date = new Date()): string {
  // Every ExecuteResponse carries one; within a second they are all the same text.
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastText = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return lastText;
}
