import { invalidParameter } from '../exceptions.js';
import { matchCrs } from './crs.js';
import { clip, isBase64, matchFormat, requireFormat } from './formats.js';
import { coerceLiteral } from './literal-types.js';
import { statSync } from 'node:fs';
import { ComplexData, type WorkdirOf } from './complex-data.js';
import {
  ProcessError,
  type BoundingBoxValue,
  type ComplexValue,
  type Format,
  type LiteralValue,
  type OutputDescription,
  type OutputResults,
  type ProcessDefinition,
} from './types.js';

/** What a request asks of one output. */
export interface OutputAsk {
  identifier: string;
  asReference: boolean;
  mimeType?: string;
  encoding?: string;
  schema?: string;
  uom?: string;
}

/** One output the response will carry, with the form the client asked for. */
export interface OutputSelection {
  output: OutputDescription;
  asReference: boolean;
  /** For complex outputs: the format to produce. */
  format?: Format;
  /** Transfer encoding asked for (base64), if any. */
  encoding?: string;
  uom?: string;
}

export type OutputValue = LiteralValue | ComplexValue | BoundingBoxValue;

/**
 * Resolves the outputs a request asked for against the declarations; an empty list
 * means every output in its default form. Throws InvalidParameterValue with the output
 * identifier as locator for anything the process cannot deliver.
 */
export function selectOutputs(process: ProcessDefinition, asks: readonly OutputAsk[]): OutputSelection[] {
  if (asks.length === 0) {
    return process.outputs.map((output) => {
      const sel: OutputSelection = { output, asReference: false };
      if (output.type === 'complex') sel.format = output.formats[0]!;
      if (output.type === 'literal' && output.uoms?.[0]) sel.uom = output.uoms[0];
      return sel;
    });
  }
  const seen = new Set<string>();
  return asks.map((ask) => {
    const id = ask.identifier;
    const output = process.outputs.find((o) => o.identifier === id);
    if (!output) throw invalidParameter(id, `Process ${process.identifier} has no output ${id}`);
    if (seen.has(id)) throw invalidParameter(id, `Output ${id} is requested more than once`);
    seen.add(id);
    const sel: OutputSelection = { output, asReference: ask.asReference };
    if (output.type === 'complex') {
      const format = requireFormat('Output', id, output.formats, ask);
      sel.format = format;
      if (isBase64(ask.encoding ?? format.encoding)) sel.encoding = 'base64';
    } else if (ask.mimeType && output.type === 'literal' && !/^text\/plain\b/i.test(ask.mimeType)) {
      throw invalidParameter(id, `Output ${id} is a literal value: only text/plain can be asked for`);
    }
    if (output.type === 'bbox' && ask.asReference) {
      throw invalidParameter(id, `Output ${id} is a bounding box and cannot be returned by reference`);
    }
    if (ask.uom) {
      if (output.type !== 'literal' || !output.uoms?.includes(ask.uom)) {
        throw invalidParameter(id, `Output ${id}: unit ${clip(ask.uom)} is not supported`);
      }
      sel.uom = ask.uom;
    } else if (output.type === 'literal' && output.uoms?.[0]) {
      sel.uom = output.uoms[0];
    }
    return sel;
  });
}

/** The outputs asked for, or, when none were named, every output as it will be produced. */
export function effectiveAsks(process: ProcessDefinition, asks: readonly OutputAsk[]): OutputAsk[] {
  if (asks.length > 0) return [...asks];
  return selectOutputs(process, []).map((sel) => {
    const ask: OutputAsk = { identifier: sel.output.identifier, asReference: sel.asReference };
    if (sel.format) ask.mimeType = sel.format.mimeType;
    if (sel.uom) ask.uom = sel.uom;
    return ask;
  });
}

/**
 * Checks what a handler returned against the selected outputs and turns it into typed
 * values. A handler that returns something unusable fails the run with a message that
 * names the output.
 */
export function collectResults(selections: readonly OutputSelection[], results: OutputResults, workdir?: WorkdirOf): OutputValue[] {
  if (results === null || typeof results !== 'object') {
    throw new ProcessError('The process returned no outputs');
  }
  return selections.map((sel) => {
    const id = sel.output.identifier;
    const result = results[id];
    if (result === undefined || result === null) throw new ProcessError(`The process did not produce output ${id}`);
    const output = sel.output;
    switch (output.type) {
      case 'literal': {
        const r = typeof result === 'object' && 'value' in result ? result : { value: result };
        const value = coerceLiteral(output.dataType, r.value);
        if (value === undefined) throw new ProcessError(`Output ${id} is not a valid ${output.dataType}`);
        const uom = ('uom' in r && typeof r.uom === 'string' ? r.uom : undefined) ?? sel.uom;
        return uom ? { type: 'literal', value, uom } : { type: 'literal', value };
      }
      case 'complex': {
        const r =
          typeof result === 'string' || Buffer.isBuffer(result)
            ? { data: result }
            : (result as { data?: unknown; file?: unknown; mimeType?: string; encoding?: string; schema?: string });
        let source: { bytes: Buffer } | { file: string };
        if (typeof r.file === 'string') {
          if (!isRegularFile(r.file)) throw new ProcessError(`Output ${id}: ${r.file} is not a file`);
          source = { file: r.file };
        } else if (typeof r.data === 'string' || Buffer.isBuffer(r.data)) {
          source = { bytes: Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data, 'utf8') };
        } else {
          throw new ProcessError(`Output ${id} must be text, bytes or { file }`);
        }
        const format = sel.format ?? output.formats[0]!;
        const mimeType = r.mimeType ?? format.mimeType;
        if (!matchFormat(output.formats, { mimeType })) {
          throw new ProcessError(`Output ${id}: the process produced ${mimeType}, which it does not declare`);
        }
        return new ComplexData(source, { mimeType, encoding: sel.encoding ?? r.encoding ?? format.encoding, schema: r.schema ?? format.schema }, workdir);
      }
      case 'bbox': {
        const r = result as { lowerCorner?: unknown; upperCorner?: unknown; crs?: unknown };
        const corner = (c: unknown) =>
          Array.isArray(c) && c.length === output.dimensions && c.every((n) => typeof n === 'number' && Number.isFinite(n));
        if (!corner(r.lowerCorner) || !corner(r.upperCorner)) {
          throw new ProcessError(`Output ${id} must have two corners of ${output.dimensions} numbers`);
        }
        const crs = typeof r.crs === 'string' ? matchCrs(output.crss, r.crs) : output.crss[0];
        if (!crs) throw new ProcessError(`Output ${id}: CRS ${String(r.crs)} is not declared`);
        return {
          type: 'bbox',
          lowerCorner: r.lowerCorner as number[],
          upperCorner: r.upperCorner as number[],
          crs,
          dimensions: output.dimensions,
        };
      }
    }
  });
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
