/**
 * Literal data types: how a lexical value from a request becomes a typed value, and
 * how a typed value is written back in its XML Schema lexical form.
 */

export const LITERAL_DATA_TYPES = [
  'string',
  'integer',
  'positiveInteger',
  'nonNegativeInteger',
  'float',
  'double',
  'decimal',
  'boolean',
  'date',
  'dateTime',
  'time',
  'anyURI',
] as const;

export type LiteralDataType = (typeof LITERAL_DATA_TYPES)[number];
export type LiteralJsValue = string | number | boolean;

export const dataTypeReference = (t: LiteralDataType): string => `http://www.w3.org/TR/xmlschema-2/#${t}`;

/** Accepts a request's dataType as a bare name, `xs:name`, or the XML Schema reference URI. */
export function literalDataTypeOf(name: string): LiteralDataType | undefined {
  const bare = name.replace(/^.*[#:]/, '');
  return (LITERAL_DATA_TYPES as readonly string[]).includes(bare) ? (bare as LiteralDataType) : undefined;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const DOUBLE = /^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN)$/;
const DATE = /^-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(Z|[+-]\d{2}:\d{2})?$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
const DATE_TIME =
  /^-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

function parseDouble(lexical: string): number | undefined {
  if (!DOUBLE.test(lexical)) return undefined;
  if (lexical.endsWith('INF')) return lexical.startsWith('-') ? -Infinity : Infinity;
  if (lexical === 'NaN') return NaN;
  return Number(lexical);
}

/**
 * Parses a lexical value (whitespace collapsed as XML Schema does for all but string)
 * into its typed value, or returns undefined when it is not of the type.
 */
export function parseLiteral(type: LiteralDataType, raw: string): LiteralJsValue | undefined {
  if (type === 'string') return raw;
  const lexical = raw.trim();
  switch (type) {
    case 'integer':
    case 'positiveInteger':
    case 'nonNegativeInteger': {
      if (!INTEGER.test(lexical)) return undefined;
      const n = Number(lexical);
      if (!Number.isSafeInteger(n)) return undefined;
      if (type === 'positiveInteger' && n <= 0) return undefined;
      if (type === 'nonNegativeInteger' && n < 0) return undefined;
      return n;
    }
    case 'decimal':
      return DECIMAL.test(lexical) ? Number(lexical) : undefined;
    case 'float':
    case 'double':
      return parseDouble(lexical);
    case 'boolean': {
      // Any case, as PyWPS reads them: birdy sends Python's True and False.
      const word = lexical.toLowerCase();
      if (word === 'true' || word === '1') return true;
      if (word === 'false' || word === '0') return false;
      return undefined;
    }
    case 'date':
      return DATE.test(lexical) ? lexical : undefined;
    case 'time':
      return TIME.test(lexical) ? lexical : undefined;
    case 'dateTime':
      return DATE_TIME.test(lexical) ? lexical : undefined;
    case 'anyURI':
      return /[\s<>"{}|\\^`]/.test(lexical) ? undefined : lexical;
  }
}

/** Writes a typed value in its XML Schema lexical form. */
export function formatLiteral(type: LiteralDataType, value: LiteralJsValue): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (value === Infinity) return 'INF';
    if (value === -Infinity) return '-INF';
    if (type === 'decimal' && /e/.test(String(value))) return value.toFixed(20).replace(/\.?0+$/, '');
    return String(value);
  }
  return value;
}

/** A value of the declared type coerced from what a process returned, or undefined. */
export function coerceLiteral(type: LiteralDataType, value: unknown): LiteralJsValue | undefined {
  if (typeof value === 'string') return parseLiteral(type, value);
  if (typeof value === 'number') {
    if (type === 'string') return String(value);
    if (type === 'boolean') return undefined;
    return parseLiteral(type, formatLiteral('double', value));
  }
  if (typeof value === 'boolean') {
    if (type === 'boolean') return value;
    return type === 'string' ? String(value) : undefined;
  }
  return undefined;
}

export const isNumericType = (t: LiteralDataType): boolean =>
  t === 'integer' || t === 'positiveInteger' || t === 'nonNegativeInteger' ||
  t === 'float' || t === 'double' || t === 'decimal';
