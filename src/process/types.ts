import type { Readable } from 'node:stream';
import type { SessionApp } from '../sessions/app.js';
import type { LiteralDataType, LiteralJsValue } from './literal-types.js';

/**
 * How a process is declared: its inputs and outputs with their types, and the handler
 * that turns input values into output values. Nothing here knows about XML or HTTP.
 */

export interface Format {
  mimeType: string;
  encoding?: string;
  schema?: string;
}

export interface MetadataLink {
  title: string;
  href: string;
}

interface Described {
  identifier: string;
  title: string;
  abstract?: string;
  metadata?: MetadataLink[];
}

/** A range of allowed literal values; closure as in OWS Common (`closed` by default). */
export interface ValueRange {
  min?: number;
  max?: number;
  spacing?: number;
  closure?: 'closed' | 'open' | 'closed-open' | 'open-closed';
}

export type AllowedValue = string | number | ValueRange;

interface Occurs {
  minOccurs: number;
  maxOccurs: number;
}

export interface LiteralInput extends Described, Occurs {
  type: 'literal';
  dataType: LiteralDataType;
  /** Units of measure; the first is the default. */
  uoms?: string[];
  /** Allowed values and ranges; absent means any value. */
  allowedValues?: AllowedValue[];
  /**
   * A regular expression the value must match (anchor it with ^ and $ to match the whole
   * value, as the ParaViewWeb launcher's `regexp` sanitize rule). WPS 1.0.0 cannot
   * describe it: a client learns of it from the refusal.
   */
  pattern?: string;
  default?: LiteralJsValue;
}

export interface ComplexInput extends Described, Occurs {
  type: 'complex';
  /** Supported formats; the first is the default. */
  formats: Format[];
  maximumMegabytes?: number;
}

export interface BoundingBoxInput extends Described, Occurs {
  type: 'bbox';
  /** Supported CRSs; the first is the default. */
  crss: string[];
  dimensions: number;
}

export type InputDescription = LiteralInput | ComplexInput | BoundingBoxInput;

export interface LiteralOutput extends Described {
  type: 'literal';
  dataType: LiteralDataType;
  uoms?: string[];
}

export interface ComplexOutput extends Described {
  type: 'complex';
  formats: Format[];
}

export interface BoundingBoxOutput extends Described {
  type: 'bbox';
  crss: string[];
  dimensions: number;
}

export type OutputDescription = LiteralOutput | ComplexOutput | BoundingBoxOutput;

// ---- values a handler receives ----

export interface LiteralValue {
  type: 'literal';
  value: LiteralJsValue;
  uom?: string;
}

export interface ComplexValue {
  type: 'complex';
  /**
   * The decoded bytes (base64 already undone). A large value (an input fetched by
   * reference in a job, a file output) is read into memory only when this is asked
   * for: use `path` or `stream()` for those.
   */
  readonly data: Buffer;
  /** A file with the bytes, in the run's working directory (written on first use for a value in memory). */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** The bytes as a stream. */
  stream(): Readable;
  mimeType: string;
  encoding?: string;
  schema?: string;
}

export interface BoundingBox {
  lowerCorner: number[];
  upperCorner: number[];
  crs: string;
  dimensions: number;
}

export interface BoundingBoxValue extends BoundingBox {
  type: 'bbox';
}

export type InputValue = LiteralValue | ComplexValue | BoundingBoxValue;

/** Validated input values by identifier, each in the order the request gave them. */
export class Inputs {
  constructor(private readonly values: ReadonlyMap<string, readonly InputValue[]>) {}

  all(identifier: string): readonly InputValue[] {
    return this.values.get(identifier) ?? [];
  }

  has(identifier: string): boolean {
    return this.all(identifier).length > 0;
  }

  entries(): IterableIterator<[string, readonly InputValue[]]> {
    return this.values.entries() as IterableIterator<[string, readonly InputValue[]]>;
  }

  /** Every literal value of an input. */
  literals(identifier: string): LiteralValue[] {
    return this.all(identifier).filter((v): v is LiteralValue => v.type === 'literal');
  }

  /** The first literal value of an input. */
  literal(identifier: string): LiteralValue | undefined {
    return this.literals(identifier)[0];
  }

  complex(identifier: string): ComplexValue | undefined {
    return this.all(identifier).find((v): v is ComplexValue => v.type === 'complex');
  }

  bbox(identifier: string): BoundingBoxValue | undefined {
    return this.all(identifier).find((v): v is BoundingBoxValue => v.type === 'bbox');
  }
}

// ---- values a handler returns ----

/** A literal output: a bare value, or a value with its unit of measure. */
export type LiteralResult = LiteralJsValue | { value: LiteralJsValue; uom?: string };
/**
 * A complex output: text or bytes, or a file (one the handler wrote in its `workdir` is
 * moved into storage, never read into memory), in one of the output's formats (the
 * default if omitted).
 */
export type ComplexResult =
  | string
  | Buffer
  | { data: string | Buffer; mimeType?: string; encoding?: string; schema?: string }
  | { file: string; mimeType?: string; encoding?: string; schema?: string };
export type BoundingBoxResult = { lowerCorner: number[]; upperCorner: number[]; crs?: string };
export type OutputResults = Record<string, LiteralResult | ComplexResult | BoundingBoxResult>;

export interface ProcessContext {
  inputs: Inputs;
  /**
   * Reports progress: percent 0..100 and a message a user reads in the status document.
   * Synchronous runs ignore it.
   */
  progress(percent: number, message?: string): void;
  /** Aborted when the run's time limit passes or the job is dismissed. */
  signal: AbortSignal;
  /**
   * A directory of the run's own for files: on the jobs storage, kept with the job
   * (a synchronous run's is removed when it ends). Made when first asked for.
   */
  readonly workdir: string;
}

/** Thrown by a handler to fail with a message meant for the user. */
export class ProcessError extends Error {
  override name = 'ProcessError';
}

export interface ProcessResources {
  /** Wall-clock limit of one run; the job is killed after it. */
  wallTimeSeconds?: number;
  memoryMb?: number;
  cores?: number;
}

export interface ProcessDefinition {
  identifier: string;
  title: string;
  abstract?: string;
  version: string;
  keywords?: string[];
  metadata?: MetadataLink[];
  inputs: InputDescription[];
  outputs: OutputDescription[];
  /** May run asynchronously with its response stored at a statusLocation. */
  storeSupported: boolean;
  /** May report its status while it runs (implies storeSupported). */
  statusSupported: boolean;
  /** What an asynchronous run needs from the scheduler. */
  resources?: ProcessResources;
  /** An interactive session (sessions/): its job starts this application and keeps it behind the proxy. */
  session?: SessionApp;
  /**
   * Who may see and execute it when authentication is on: these users and members of
   * these groups (and admins). Unset: anyone. The config's auth.processes overrides it.
   */
  access?: { users?: string[]; groups?: string[] };
  handler(ctx: ProcessContext): Promise<OutputResults> | OutputResults;
}
