import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds the official OGC schemas (WPS 1.0.0, OWS 1.1.0) and validates documents
 * against them with xmllint, offline. The schemas are not part of this repository:
 *   1. WPS_XSD_DIR, if set;
 *   2. xsd/ogc/ of this project, once `xsd/fetch-schemas.sh` has filled it;
 *   3. ../shared/xsd beside the project checkout.
 */

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('project root not found');
    dir = up;
  }
  return dir;
}

const ENTRY = join('wps', '1.0.0', 'wpsAll.xsd');

export function schemaDir(): string {
  const root = projectRoot();
  const candidates = [process.env.WPS_XSD_DIR, join(root, 'xsd', 'ogc'), resolve(root, '..', 'shared', 'xsd')];
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, ENTRY))) return dir;
  }
  throw new Error(
    'OGC schemas not found: set WPS_XSD_DIR, run xsd/fetch-schemas.sh, or provide ../shared/xsd',
  );
}

/** The schema every WPS 1.0.0 document (and ows:ExceptionReport) validates against. */
export const wpsSchema = (): string => join(schemaDir(), ENTRY);

export interface Validation {
  valid: boolean;
  errors: string;
}

/** Validates documents with one xmllint run; results in the order given. */
export async function validateDocuments(docs: readonly string[], schema = wpsSchema()): Promise<Validation[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wps-xsd-'));
  try {
    const files = await Promise.all(
      docs.map(async (doc, i) => {
        const file = join(dir, `doc${i}.xml`);
        await writeFile(file, doc);
        return file;
      }),
    );
    const stderr = await new Promise<string>((done, fail) => {
      execFile('xmllint', ['--nonet', '--noout', '--schema', schema, ...files], { maxBuffer: 64 << 20 }, (err, _out, errOut) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          fail(new Error('xmllint not found: install libxml2-utils'));
        } else done(errOut);
      });
    });
    const lines = stderr.split('\n');
    return files.map((file) => {
      const mine = lines.filter((l) => l.startsWith(file));
      return {
        valid: mine.some((l) => l === `${file} validates`),
        errors: mine.filter((l) => l !== `${file} validates`).join('\n'),
      };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function validateDocument(doc: string, schema?: string): Promise<Validation> {
  return (await validateDocuments([doc], schema))[0]!;
}
