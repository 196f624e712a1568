import { coerceLiteral, type LiteralDataType } from './literal-types.js';
import type {
  BoundingBoxInput,
  BoundingBoxOutput,
  ComplexInput,
  ComplexOutput,
  LiteralInput,
  LiteralOutput,
  ProcessDefinition,
} from './types.js';

/**
 * The declaration API used by the files in `processes/`. Each function fills in the
 * defaults a WPS expects (one occurrence, required unless a default exists) and
 * checks the declaration, so a mistake shows at start-up rather than in a response.
 */

const IDENTIFIER = /^[a-z][a-z0-9_]*$/;
const PROCESS_MARK = Symbol.for('wps-scheduler.process');

function checkIdentifier(kind: string, identifier: string): void {
  if (!IDENTIFIER.test(identifier)) {
    // birdy turns identifiers into command line options: lower snake_case only.
    throw new Error(`${kind} identifier "${identifier}" must be lower snake_case`);
  }
}

type Occurrence = { minOccurs?: number; maxOccurs?: number };
type Optional<T, K extends keyof T> = Omit<T, K | 'type' | 'identifier'> & Partial<Pick<T, K>>;

function occurs(o: Occurrence, hasDefault: boolean): { minOccurs: number; maxOccurs: number } {
  const minOccurs = o.minOccurs ?? (hasDefault ? 0 : 1);
  const maxOccurs = o.maxOccurs ?? Math.max(1, minOccurs);
  if (!Number.isInteger(minOccurs) || minOccurs < 0) throw new Error('minOccurs must be a whole number ≥ 0');
  if (!Number.isInteger(maxOccurs) || maxOccurs < 1 || maxOccurs < minOccurs) {
    throw new Error('maxOccurs must be a whole number ≥ 1 and ≥ minOccurs');
  }
  return { minOccurs, maxOccurs };
}

export function literalInput(
  identifier: string,
  spec: Optional<LiteralInput, 'minOccurs' | 'maxOccurs'> & { dataType: LiteralDataType },
): LiteralInput {
  checkIdentifier('input', identifier);
  if (spec.default !== undefined && coerceLiteral(spec.dataType, spec.default) === undefined) {
    throw new Error(`input ${identifier}: default ${String(spec.default)} is not a ${spec.dataType}`);
  }
  return { ...spec, type: 'literal', identifier, ...occurs(spec, spec.default !== undefined) };
}

export function complexInput(identifier: string, spec: Optional<ComplexInput, 'minOccurs' | 'maxOccurs'>): ComplexInput {
  checkIdentifier('input', identifier);
  if (spec.formats.length === 0) throw new Error(`input ${identifier}: at least one format is needed`);
  return { ...spec, type: 'complex', identifier, ...occurs(spec, false) };
}

export function boundingBoxInput(
  identifier: string,
  spec: Optional<BoundingBoxInput, 'minOccurs' | 'maxOccurs' | 'dimensions'>,
): BoundingBoxInput {
  checkIdentifier('input', identifier);
  if (spec.crss.length === 0) throw new Error(`input ${identifier}: at least one CRS is needed`);
  return { ...spec, type: 'bbox', identifier, dimensions: spec.dimensions ?? 2, ...occurs(spec, false) };
}

export function literalOutput(identifier: string, spec: Omit<LiteralOutput, 'type' | 'identifier'>): LiteralOutput {
  checkIdentifier('output', identifier);
  return { ...spec, type: 'literal', identifier };
}

export function complexOutput(identifier: string, spec: Omit<ComplexOutput, 'type' | 'identifier'>): ComplexOutput {
  checkIdentifier('output', identifier);
  if (spec.formats.length === 0) throw new Error(`output ${identifier}: at least one format is needed`);
  return { ...spec, type: 'complex', identifier };
}

export function boundingBoxOutput(
  identifier: string,
  spec: Omit<BoundingBoxOutput, 'type' | 'identifier' | 'dimensions'> & { dimensions?: number },
): BoundingBoxOutput {
  checkIdentifier('output', identifier);
  return { ...spec, type: 'bbox', identifier, dimensions: spec.dimensions ?? 2 };
}

export function defineProcess(
  spec: Omit<ProcessDefinition, 'storeSupported' | 'statusSupported' | 'version'> &
    Partial<Pick<ProcessDefinition, 'storeSupported' | 'statusSupported' | 'version'>>,
): ProcessDefinition {
  checkIdentifier('process', spec.identifier);
  // DescribeProcess identifier=all (in any case) means every process.
  if (spec.identifier === 'all') throw new Error('process identifier "all" is reserved: DescribeProcess identifier=all asks for every process');
  for (const group of [spec.inputs, spec.outputs]) {
    const ids = new Set<string>();
    for (const io of group) {
      if (ids.has(io.identifier)) throw new Error(`process ${spec.identifier}: ${io.identifier} is declared twice`);
      ids.add(io.identifier);
    }
  }
  if (spec.outputs.length === 0) throw new Error(`process ${spec.identifier}: at least one output is needed`);
  const storeSupported = spec.storeSupported ?? true;
  const process: ProcessDefinition = {
    ...spec,
    version: spec.version ?? '1.0.0',
    storeSupported,
    statusSupported: storeSupported && (spec.statusSupported ?? true),
  };
  // Marks what a package offers among its exports (not enumerable: spreads and JSON ignore it).
  Object.defineProperty(process, PROCESS_MARK, { value: true });
  return process;
}

/**
 * Made by defineProcess. The mark is a registered symbol, so a package that bundles
 * its own copy of this API is still recognised.
 */
export const isProcessDefinition = (value: unknown): value is ProcessDefinition =>
  typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PROCESS_MARK] === true;
