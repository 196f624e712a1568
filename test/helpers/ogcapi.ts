import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/**
 * OGC API - Processes - Part 1 documents checked against the standard's own schemas
 * (../shared/ogcapi-processes/openapi/schemas, YAML referring to each other by relative
 * path): each file is added under its file URL, so the references resolve as written.
 */
const SCHEMAS = resolve('../shared/ogcapi-processes/openapi/schemas');

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/**
 * The schemas are OpenAPI 3.0's dialect, where exclusiveMinimum/exclusiveMaximum are
 * booleans beside minimum/maximum (draft 4); JSON Schema 7 wants the bound itself there.
 */
function draft7(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(draft7);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) out[k] = k === 'properties' || k === 'definitions' ? Object.fromEntries(Object.entries(v as object).map(([n, s]) => [n, draft7(s)])) : draft7(v);
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof o[flag] !== 'boolean') continue;
    if (o[flag] && typeof o[bound] === 'number') {
      out[flag] = o[bound];
      delete out[bound];
    } else delete out[flag];
  }
  return out;
}

function validator(): Ajv {
  if (ajv) return ajv;
  // OpenAPI 3.0's schema objects carry keywords JSON Schema does not know (nullable, example): not strict.
  ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const file of files(SCHEMAS)) {
    const schema = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    // The one change made to the standard's schemas: inputValueNoObject's oneOf is read as
    // anyOf. Its branches overlap (every integer is also a number; a word such as "rock"
    // is also base64, `format: byte`), so no value of those kinds could ever pass it.
    if (file.endsWith('/inputValueNoObject.yaml')) {
      schema.anyOf = schema.oneOf;
      delete schema.oneOf;
    }
    ajv.addSchema({ ...(draft7(schema) as object), $id: pathToFileURL(file).href });
  }
  return ajv;
}

/** Throws, naming every violation, unless `doc` is valid against the named schema (`statusInfo`, `processList` …). */
export function expectOgcValid(schema: string, doc: unknown): void {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = validator().getSchema(pathToFileURL(join(SCHEMAS, `${schema}.yaml`)).href);
    if (!validate) throw new Error(`no schema ${schema}`);
    compiled.set(schema, validate);
  }
  if (!validate(doc)) {
    throw new Error(`not a valid ${schema}: ${validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('; ')}\n${JSON.stringify(doc, null, 1).slice(0, 2000)}`);
  }
}
