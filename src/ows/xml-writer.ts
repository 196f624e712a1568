/**
 * A small XML writer for the documents this server emits. It replaced xmlbuilder2
 * (see docs/architecture.md): building the smallest ExecuteResponse with xmlbuilder2
 * cost about 65 µs, a third of a synchronous Execute's budget; this costs a few.
 *
 * Safety is the same: element and attribute names come from code, never from a
 * request; every text and attribute value is escaped; characters XML 1.0 cannot carry
 * (NUL and other C0 controls, lone surrogates, U+FFFE/U+FFFF) become U+FFFD.
 */

// eslint-disable-next-line no-control-regex
const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Tested first: a plain scan for the characters that could start a bad sequence is a
// fraction of the full expression's cost, and nearly every value has none.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;
const TEXT_SPECIAL = /[&<>]/;
const ATTR_SPECIAL = /[&<>"\t\n\r]/;

function clean(s: string): string {
  return SUSPECT.test(s) ? s.replace(INVALID, '\uFFFD') : s;
}

export function escapeText(s: string): string {
  const c = clean(s);
  return TEXT_SPECIAL.test(c) ? c.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : c;
}

export function escapeAttribute(s: string): string {
  const c = clean(s);
  if (!ATTR_SPECIAL.test(c)) return c;
  return c
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/**
 * An element being written. `ele` and `att` take an optional namespace URI first, as
 * the documents call them; prefixes are declared once on the root (see document.ts),
 * so the URI only documents which namespace a prefixed name belongs to.
 */
export class ElementWriter {
  private readonly content: (ElementWriter | string)[] = [];

  /** `attrs`: attributes written before, as `attributes` gave them (a document's fixed head, kept). */
  constructor(
    readonly name: string,
    private attrs = '',
  ) {}

  /** The attributes as written so far, escaped. */
  get attributes(): string {
    return this.attrs;
  }

  ele(nsOrName: string | null, name?: string): ElementWriter {
    const child = new ElementWriter(name ?? (nsOrName as string));
    this.content.push(child);
    return child;
  }

  att(nsOrName: string | null, nameOrValue: string, value?: string): this {
    if (value === undefined) this.attrs += ` ${nsOrName as string}="${escapeAttribute(nameOrValue)}"`;
    else this.attrs += ` ${nameOrValue}="${escapeAttribute(value)}"`;
    return this;
  }

  txt(text: string): this {
    if (text !== '') this.content.push(escapeText(text));
    return this;
  }

  /** Well-formed markup to place as it is (a document fragment the server parsed itself). */
  raw(markup: string): this {
    this.content.push(markup);
    return this;
  }

  toString(): string {
    if (this.content.length === 0) return `<${this.name}${this.attrs}/>`;
    let out = `<${this.name}${this.attrs}>`;
    for (const c of this.content) out += typeof c === 'string' ? c : c.toString();
    return `${out}</${this.name}>`;
  }
}
