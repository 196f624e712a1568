import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { NS } from './namespaces.js';

export type { XMLBuilder };

/**
 * Starts a document whose root declares the given prefixes, so that every element
 * below reuses them instead of redeclaring namespaces locally. Characters XML cannot
 * carry (NUL and other C0 controls that a user may have smuggled into a value) become
 * U+FFFD instead of producing an unreadable document.
 */
export function startDocument(
  ns: string,
  qname: string,
  prefixes: readonly (keyof typeof NS)[],
  schemaLocation?: string,
): XMLBuilder {
  const root = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '\uFFFD' }).ele(ns, qname);
  for (const p of prefixes) root.att(NS.xmlns, `xmlns:${p}`, NS[p]);
  if (schemaLocation) {
    root.att(NS.xmlns, 'xmlns:xsi', NS.xsi);
    root.att(NS.xsi, 'xsi:schemaLocation', schemaLocation);
  }
  return root;
}

export const serialize = (node: XMLBuilder): string => node.end({ prettyPrint: false });

/** `<ows:Identifier>`, `<ows:Title>`, `<ows:Abstract>` and `<ows:Metadata>` of a described thing. */
export function describe(
  parent: XMLBuilder,
  d: { identifier: string; title: string; abstract?: string; metadata?: { title: string; href: string }[] },
): void {
  parent.ele(NS.ows, 'ows:Identifier').txt(d.identifier);
  parent.ele(NS.ows, 'ows:Title').txt(d.title);
  if (d.abstract) parent.ele(NS.ows, 'ows:Abstract').txt(d.abstract);
  for (const m of d.metadata ?? []) {
    parent.ele(NS.ows, 'ows:Metadata').att(NS.xlink, 'xlink:title', m.title).att(NS.xlink, 'xlink:href', m.href);
  }
}

/** UTC creation time without milliseconds, as clients and the suite expect. */
export const utcNow = (date = new Date()): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
