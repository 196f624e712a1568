import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ComplexValue } from './types.js';

/** Where a run may put files: made when first asked for (most runs never ask). */
export type WorkdirOf = () => string;

/**
 * A complex value, held in memory or in a file, and offered both ways: `data` (bytes),
 * `path` (a file) and `stream()`. A value that came as a file (a large reference, a
 * handler's file output) is read into memory only if `data` is asked for; a value in
 * memory is written to the run's working directory only if `path` is. Private fields
 * (#) keep spreads and JSON of it to the format's fields.
 */
export class ComplexData implements ComplexValue {
  readonly type = 'complex' as const;
  #bytes: Buffer | undefined;
  #file: string | undefined;
  readonly #cameAsFile: boolean;
  readonly #workdir: WorkdirOf | undefined;
  mimeType: string;
  encoding?: string;
  schema?: string;

  constructor(
    source: { bytes: Buffer } | { file: string },
    format: { mimeType: string; encoding?: string | undefined; schema?: string | undefined },
    workdir?: WorkdirOf,
  ) {
    if ('bytes' in source) this.#bytes = source.bytes;
    else this.#file = source.file;
    this.#cameAsFile = 'file' in source;
    this.#workdir = workdir;
    this.mimeType = format.mimeType;
    if (format.encoding) this.encoding = format.encoding;
    if (format.schema) this.schema = format.schema;
  }

  /** The bytes; read from the file on first use for a value held in a file. */
  get data(): Buffer {
    return (this.#bytes ??= readFileSync(this.#file!));
  }

  /** A file holding the bytes; written to the run's working directory on first use for a value held in memory. */
  get path(): string {
    if (this.#file === undefined) {
      if (!this.#workdir) throw new Error('this value has no working directory to be written to');
      const file = join(this.#workdir(), `value-${randomBytes(6).toString('hex')}`);
      writeFileSync(file, this.#bytes!);
      this.#file = file;
    }
    return this.#file;
  }

  /** The file it came as, if any (not one written for `path`): what storage may take over. */
  get file(): string | undefined {
    return this.#cameAsFile ? this.#file : undefined;
  }

  get size(): number {
    return this.#bytes !== undefined ? this.#bytes.length : statSync(this.#file!).size;
  }

  stream(): Readable {
    return this.#bytes !== undefined ? Readable.from([this.#bytes]) : createReadStream(this.#file!);
  }
}
