import { TextDecoder } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * A namespace-aware, hardened reading of an XML request body.
 *
 * fast-xml-parser checks well-formedness and builds an ordered tree but knows nothing
 * of namespaces; this module resolves prefixes into URIs, decodes character references
 * itself (so no entity is ever expanded beyond the five predefined ones), refuses any
 * DTD, and bounds the nesting depth.
 */

export interface XmlAttribute {
  readonly ns: string;
  readonly local: string;
  readonly qname: string;
  readonly value: string;
}

export interface XmlText {
  readonly text: string;
  readonly cdata: boolean;
}

export interface XmlElement {
  readonly ns: string;
  readonly local: string;
  readonly qname: string;
  readonly attributes: readonly XmlAttribute[];
  readonly children: readonly XmlNode[];
  /** Every namespace binding in scope on this element, '' for the default namespace. */
  readonly scope: Readonly<Record<string, string>>;
}

export type XmlNode = XmlElement | XmlText;

export class XmlSyntaxError extends Error {}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

const parser = (maxDepth: number) =>
  new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    cdataPropName: '#cdata',
    commentPropName: '#comment',
    maxNestedTags: maxDepth,
  });

const parsers = new Map<number, XMLParser>();

// XML 1.0 Char production: no C0 controls but tab, LF, CR; no U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const CDATA_SECTION = /<!\[CDATA\[[\s\S]*?\]\]>/g;
const DTD_MARKUP = /<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;
const REFERENCE = /&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/g;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five predefined entities and character references; anything else is an error. */
function decodeReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (_, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
        throw new XmlSyntaxError(`invalid character reference &${ref};`);
      }
      const ch = String.fromCodePoint(code);
      if (FORBIDDEN_CHAR.test(ch)) throw new XmlSyntaxError(`character reference &${ref}; is not allowed in XML`);
      return ch;
    }
    const value = PREDEFINED[ref];
    if (value === undefined) throw new XmlSyntaxError(`undefined entity &${ref};`);
    return value;
  });
}

/** Decodes the bytes of a body with the encoding its XML declaration names (UTF-8 by default). */
export function decodeXmlBytes(bytes: Uint8Array): string {
  let label = 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) label = 'utf-16be';
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) label = 'utf-16le';
  else {
    const head = Buffer.from(bytes.subarray(0, 200)).toString('latin1');
    const m = /^(?:\uFEFF|\xEF\xBB\xBF)?<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);
    if (m) label = m[1]!.toLowerCase();
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch {
    throw new XmlSyntaxError(`unsupported encoding ${label}`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw new XmlSyntaxError(`the body is not valid ${label.toUpperCase()}`);
  }
}

/**
 * `maxElements` bounds the elements of a document before any parsing: the parser's
 * work and its trees grow with them (a 1.9 MB body of 50,000 elements took 180 ms and
 * tens of MB), whatever a request means by them.
 */
export function readXml(text: string, maxDepth = 100, maxElements = Infinity): XmlElement {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new XmlSyntaxError('the document is empty');
  if (maxElements < Infinity && countStartTags(text, maxElements) > maxElements) {
    throw new XmlSyntaxError(`more than ${maxElements} elements`);
  }
  if (FORBIDDEN_CHAR.test(text)) throw new XmlSyntaxError('the document contains characters not allowed in XML');
  if (DTD_MARKUP.test(text.replace(CDATA_SECTION, ''))) {
    throw new XmlSyntaxError('document type declarations (DTDs) and entity declarations are not accepted');
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new XmlSyntaxError(`${msg} (line ${line}, column ${col})`);
  }
  let p = parsers.get(maxDepth);
  if (!p) parsers.set(maxDepth, (p = parser(maxDepth)));
  let tree: unknown[];
  try {
    tree = p.parse(text) as unknown[];
  } catch (err) {
    const message = (err as Error).message;
    throw new XmlSyntaxError(
      /nested/i.test(message) ? `elements are nested deeper than ${maxDepth} levels` : message,
    );
  }
  let root: XmlElement | undefined;
  for (const node of tree) {
    const converted = convert(node as RawNode, { xml: XML_NS });
    if (converted === undefined) continue;
    if ('text' in converted) {
      if (converted.text.trim() !== '') throw new XmlSyntaxError('text outside the root element');
    } else if (root) {
      throw new XmlSyntaxError('more than one root element');
    } else {
      root = converted;
    }
  }
  if (!root) throw new XmlSyntaxError('no root element');
  return root;
}

/** Start tags (`<` then a name), counted up to one past `limit`; a `<` in CDATA may count too, erring on the safe side. */
function countStartTags(text: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf('<'); i >= 0 && n <= limit; i = text.indexOf('<', i + 1)) {
    const c = text.charCodeAt(i + 1);
    if (c !== 0x2f && c !== 0x21 && c !== 0x3f) n++; // not '/', '!' or '?'
  }
  return n;
}

type RawNode = Record<string, unknown> & { ':@'?: Record<string, string> };

function splitQName(qname: string): [string, string] {
  const i = qname.indexOf(':');
  return i < 0 ? ['', qname] : [qname.slice(0, i), qname.slice(i + 1)];
}

function convert(node: RawNode, parentScope: Record<string, string>): XmlNode | undefined {
  for (const key of Object.keys(node)) {
    if (key === ':@') continue;
    const value = node[key];
    if (key === '#text') return { text: decodeReferences(String(value)), cdata: false };
    if (key === '#cdata') {
      const parts = value as { '#text'?: string }[];
      return { text: parts.map((p) => p['#text'] ?? '').join(''), cdata: true };
    }
    if (key === '#comment') return undefined;
    return convertElement(key, (value as RawNode[]) ?? [], node[':@'] ?? {}, parentScope);
  }
  return undefined;
}

function convertElement(
  qname: string,
  rawChildren: RawNode[],
  rawAttrs: Record<string, string>,
  parentScope: Record<string, string>,
): XmlElement {
  let scope = parentScope;
  const declared: [string, string][] = [];
  for (const [name, raw] of Object.entries(rawAttrs)) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) {
      declared.push([name === 'xmlns' ? '' : name.slice(6), decodeReferences(raw)]);
    }
  }
  if (declared.length > 0) {
    scope = { ...parentScope };
    for (const [prefix, uri] of declared) scope[prefix] = uri;
  }
  const resolve = (prefix: string, useDefault: boolean): string => {
    if (prefix === '') return useDefault ? scope[''] ?? '' : '';
    const uri = scope[prefix];
    if (uri === undefined) throw new XmlSyntaxError(`namespace prefix "${prefix}" is not declared`);
    return uri;
  };
  const [prefix, local] = splitQName(qname);
  const attributes: XmlAttribute[] = [];
  for (const [name, raw] of Object.entries(rawAttrs)) {
    const [aPrefix, aLocal] = splitQName(name);
    const ns = name === 'xmlns' || aPrefix === 'xmlns' ? XMLNS_NS : resolve(aPrefix, false);
    attributes.push({ ns, local: aLocal, qname: name, value: decodeReferences(raw) });
  }
  const children: XmlNode[] = [];
  for (const raw of rawChildren) {
    const child = convert(raw, scope);
    if (child !== undefined) children.push(child);
  }
  return { ns: resolve(prefix, true), local, qname, attributes, children, scope };
}

// ---- reading helpers ----

export const isElement = (node: XmlNode): node is XmlElement => 'local' in node;

export function elements(el: XmlElement, ns?: string, local?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (isElement(c) && (ns === undefined || c.ns === ns) && (local === undefined || c.local === local)) out.push(c);
  }
  return out;
}

export function element(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  for (const c of el.children) if (isElement(c) && c.ns === ns && c.local === local) return c;
  return undefined;
}

export function attribute(el: XmlElement, local: string, ns = ''): string | undefined {
  for (const a of el.attributes) if (a.local === local && a.ns === ns) return a.value;
  return undefined;
}

/** The concatenated text and CDATA content of an element and its descendants. */
export function textContent(el: XmlElement): string {
  let out = '';
  for (const c of el.children) out += isElement(c) ? textContent(c) : c.text;
  return out;
}

// ---- writing a fragment back out (ComplexData content) ----

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');

/**
 * Serializes an element as a standalone document fragment: the namespace bindings it
 * inherits from the request are declared on it, so it means the same on its own.
 */
export function serializeElement(el: XmlElement): string {
  const own = new Set(el.attributes.filter((a) => a.ns === XMLNS_NS).map((a) => a.qname));
  let inherited = '';
  for (const [prefix, uri] of Object.entries(el.scope)) {
    if (prefix === 'xml') continue;
    const name = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    if (!own.has(name)) inherited += ` ${name}="${escapeAttr(uri)}"`;
  }
  return write(el, inherited);
}

function write(el: XmlElement, extra = ''): string {
  let out = `<${el.qname}${extra}`;
  for (const a of el.attributes) out += ` ${a.qname}="${escapeAttr(a.value)}"`;
  if (el.children.length === 0) return `${out}/>`;
  out += '>';
  for (const c of el.children) out += isElement(c) ? write(c) : escapeText(c.text);
  return `${out}</${el.qname}>`;
}
