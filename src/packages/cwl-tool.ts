import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as cwl from 'cwl-ts-auto';
import type { CwlContainers } from '../config.js';
import { complexInput, complexOutput, defineProcess, literalInput, literalOutput } from '../process/declare.js';
import type { LiteralDataType } from '../process/literal-types.js';
import { ProcessError, type InputDescription, type InputValue, type OutputDescription, type OutputResults, type ProcessContext, type ProcessDefinition } from '../process/types.js';

/**
 * A CWL CommandLineTool as a WPS process: parsed and validated by cwl-ts-auto (generated
 * from the official schema), its inputs and outputs described in WPS terms, and run by
 * the CWL reference runner, cwltool, in the run's working directory. The job's inputs
 * become cwltool's job file (files as paths the server named, never the client); its
 * output object becomes the WPS outputs.
 */

/** Most values an array input takes. */
const ARRAY_MAX = 1000;
/** How many lines of cwltool's stderr a failure carries. */
const STDERR_LINES = 15;

const PRIMITIVE: Record<string, LiteralDataType> = {
  string: 'string',
  int: 'integer',
  long: 'integer',
  float: 'float',
  double: 'double',
  boolean: 'boolean',
};

/** Formats as CWL names them (EDAM, or IANA's media types) → media types. */
const EDAM: Record<string, string> = {
  format_2330: 'text/plain',
  format_3464: 'application/json',
  format_2332: 'text/xml',
  format_3752: 'text/csv',
  format_3650: 'application/x-netcdf',
  format_3591: 'image/tiff',
  format_3547: 'image/jpeg',
  format_3603: 'image/png',
  format_3590: 'application/x-hdf5',
  format_3987: 'application/zip',
};

export class CwlError extends Error {}

export interface CwlOptions {
  containers: CwlContainers;
}

/** A secondary file of a File input: its own WPS input, staged as the main file's path plus `suffix`. */
interface Secondary {
  identifier: string;
  suffix: string;
}

/** The part of a CWL identifier after '#' and its last '/'. */
const shortName = (id: string | undefined): string => (id ?? '').replace(/^.*#/, '').replace(/^.*\//, '');

function mediaTypeOf(format: string): string | undefined {
  const edam = /edamontology\.org\/(format_\d+)$/.exec(format);
  if (edam) return EDAM[edam[1]!];
  const iana = /iana\.org\/assignments\/media-types\/(.+)$/.exec(format);
  return iana?.[1];
}

function formatsOf(format: string | string[] | undefined): { mimeType: string }[] {
  const types = [format ?? []].flat().map(mediaTypeOf).filter((t): t is string => t !== undefined);
  return (types.length > 0 ? [...new Set(types)] : ['application/octet-stream']).map((mimeType) => ({ mimeType }));
}

interface Shape {
  optional: boolean;
  array: boolean;
  /** 'File', a primitive name, or 'enum'. */
  kind: string;
  symbols?: string[];
}

/** Optional (a 'null' among the types), array (items) and the item's kind. */
function shapeOf(type: unknown, where: string): Shape {
  const types = Array.isArray(type) ? type : [type];
  const optional = types.includes('null');
  const rest = types.filter((t) => t !== 'null');
  if (rest.length !== 1) throw new CwlError(`${where}: a union of types is not offered as a WPS value`);
  let t = rest[0] as unknown;
  let array = false;
  if (t instanceof cwl.CommandInputArraySchema || t instanceof cwl.CommandOutputArraySchema || (typeof t === 'object' && t !== null && 'items' in t)) {
    array = true;
    t = (t as { items: unknown }).items;
  }
  if (typeof t === 'object' && t !== null && 'symbols' in t) {
    return { optional, array, kind: 'enum', symbols: (t as { symbols: string[] }).symbols.map(shortName) };
  }
  if (typeof t !== 'string') throw new CwlError(`${where}: this type is not offered as a WPS value`);
  const name = shortName(t);
  if (name !== 'File' && name !== 'stdout' && name !== 'stderr' && !(name in PRIMITIVE)) {
    throw new CwlError(`${where}: type ${name} is not offered as a WPS value`);
  }
  return { optional, array, kind: name };
}

/** A WPS title and abstract from CWL's label and doc. */
const describedOf = (p: { label?: string | undefined; doc?: string | string[] | undefined }, id: string) => ({
  title: p.label ?? id,
  ...(p.doc ? { abstract: [p.doc].flat().join('\n') } : {}),
});

function describeInput(p: cwl.CommandInputParameter): InputDescription {
  const id = shortName(p.id);
  const where = `input ${id}`;
  const shape = shapeOf(p.type, where);
  const described = describedOf(p, id);
  const hasDefault = p.default_ !== undefined && p.default_ !== null;
  const occurs = { minOccurs: shape.optional || hasDefault ? 0 : 1, maxOccurs: shape.array ? ARRAY_MAX : 1 };
  if (shape.kind === 'File') return complexInput(id, { ...described, ...occurs, formats: formatsOf(p.format) });
  if (shape.kind === 'enum') {
    return literalInput(id, { ...described, ...occurs, dataType: 'string', allowedValues: shape.symbols!, ...(hasDefault ? { default: String(p.default_) } : {}) });
  }
  // A default the WPS cannot hold (an array's) is cwltool's to apply.
  return literalInput(id, { ...described, ...occurs, dataType: PRIMITIVE[shape.kind]!, ...(hasDefault && !shape.array ? { default: p.default_ } : {}) });
}

function describeOutput(p: cwl.CommandOutputParameter): OutputDescription {
  const id = shortName(p.id);
  const shape = shapeOf(p.type, `output ${id}`);
  if (shape.array) throw new CwlError(`output ${id}: arrays are not offered as WPS outputs`);
  const described = describedOf(p, id);
  if (shape.kind === 'File' || shape.kind === 'stdout' || shape.kind === 'stderr') return complexOutput(id, { ...described, formats: formatsOf(p.format) });
  if (shape.kind === 'enum') return literalOutput(id, { ...described, dataType: 'string' });
  return literalOutput(id, { ...described, dataType: PRIMITIVE[shape.kind]! });
}

/** The process identifier a .cwl file gets: its name in lower snake_case. */
export function identifierOf(file: string): string {
  const name = basename(file).replace(/\.cwl$/i, '').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return /^[a-z]/.test(name) ? name : `cwl_${name}`;
}

/** Reads a .cwl file into a process; a CwlError (or cwl-ts-auto's ValidationException) says why not. */
export async function loadCwlTool(file: string, options: CwlOptions = { containers: 'none' }): Promise<ProcessDefinition> {
  let doc: unknown;
  try {
    doc = await cwl.loadDocument(file);
  } catch (err) {
    const text = err instanceof cwl.ValidationException ? err.toString() : (err as Error).message;
    throw new CwlError(`not a valid CWL document: ${text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' ')}`);
  }
  if (!(doc instanceof cwl.CommandLineTool)) {
    throw new CwlError(`is a ${(doc as { class_?: string })?.class_ ?? 'document'}, not a CommandLineTool`);
  }
  const tool = doc;
  const inputs = tool.inputs.map(describeInput);
  // A File's secondary files are WPS inputs of their own, `<input>_<suffix>`, staged beside it.
  const secondaries = new Map<string, Secondary[]>();
  for (const p of tool.inputs) {
    const id = shortName(p.id);
    const main = inputs.find((i) => i.identifier === id)!;
    for (const s of [p.secondaryFiles ?? []].flat()) {
      if (main.type !== 'complex') throw new CwlError(`input ${id}: secondaryFiles belong to File inputs`);
      const pattern = typeof s === 'string' ? s : String(s.pattern);
      if (pattern.includes('$(') || pattern.includes('${')) throw new CwlError(`input ${id}: secondaryFiles pattern ${pattern} is an expression; only suffixes are offered`);
      const suffix = pattern.replace(/^\^+/, '').replace(/\?$/, '');
      const required = typeof s === 'string' ? !pattern.endsWith('?') : s.required !== false && !pattern.endsWith('?');
      const identifier = `${id}_${suffix.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
      inputs.push(
        complexInput(identifier, {
          title: `${main.title}: its ${suffix} file`,
          minOccurs: required && main.minOccurs > 0 ? 1 : 0,
          maxOccurs: 1,
          formats: [{ mimeType: 'application/octet-stream' }, ...main.formats.filter((f) => f.mimeType !== 'application/octet-stream')],
        }),
      );
      secondaries.set(id, [...(secondaries.get(id) ?? []), { identifier, suffix }]);
    }
  }
  // cwltool checks a File's format against the one the input declares: each value is
  // given the tool's own format IRI for its media type.
  const formatIris = new Map<string, Map<string, string>>();
  for (const p of tool.inputs) {
    const iris = new Map<string, string>();
    for (const iri of [p.format ?? []].flat()) {
      const type = mediaTypeOf(iri);
      if (type && !iris.has(type)) iris.set(type, iri);
    }
    formatIris.set(shortName(p.id), iris);
  }
  const outputs = tool.outputs.map(describeOutput);
  const command = {
    cwltool: process.env.WPS_CWLTOOL ?? 'cwltool',
    engine: options.containers === 'none' ? ['--no-container'] : options.containers === 'podman' ? ['--podman'] : [],
  };
  return defineProcess({
    identifier: identifierOf(file),
    title: tool.label ?? identifierOf(file),
    ...(tool.doc ? { abstract: [tool.doc].flat().join('\n') } : {}),
    inputs,
    outputs,
    handler: (ctx) => runCwltool({ ...command, file, formatIris, secondaries }, inputs, outputs, ctx),
  });
}

/** The job file's value of one input: files by the path the server gave them, with the tool's format. */
function jobValue(input: InputDescription, values: readonly InputValue[], iris: Map<string, string> | undefined): unknown {
  const one = (v: InputValue): unknown => {
    if (v.type === 'literal') return v.value;
    if (v.type !== 'complex') return undefined;
    const format = iris?.get(v.mimeType) ?? iris?.values().next().value;
    return format ? { class: 'File', path: v.path, format } : { class: 'File', path: v.path };
  };
  if (input.maxOccurs > 1) return values.map(one);
  return values.length > 0 ? one(values[0]!) : undefined;
}

/** How a tool runs: the command, its container engine's arguments, its file, and what its inputs need. */
interface ToolRun {
  cwltool: string;
  engine: string[];
  file: string;
  formatIris: Map<string, Map<string, string>>;
  secondaries: Map<string, Secondary[]>;
}

async function runCwltool(
  tool: ToolRun,
  inputs: readonly InputDescription[],
  outputs: readonly OutputDescription[],
  { inputs: given, workdir, signal }: ProcessContext,
): Promise<OutputResults> {
  const job: Record<string, unknown> = {};
  const isSecondary = new Set([...tool.secondaries.values()].flat().map((s) => s.identifier));
  for (const input of inputs) {
    if (isSecondary.has(input.identifier)) continue;
    const value = jobValue(input, given.all(input.identifier), tool.formatIris.get(input.identifier));
    if (value === undefined) continue;
    const main = value as { path?: string; secondaryFiles?: unknown[] };
    for (const s of tool.secondaries.get(input.identifier) ?? []) {
      const staged = given.complex(s.identifier);
      if (!staged || !main.path) continue;
      // Beside the main file, named as the tool's pattern expects.
      const path = `${main.path}${s.suffix}`;
      copyFileSync(staged.path, path);
      (main.secondaryFiles ??= []).push({ class: 'File', path });
    }
    job[input.identifier] = value;
  }
  const jobFile = join(workdir, 'cwl-job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const outdir = join(workdir, 'cwl-out');
  const tmp = join(workdir, 'cwl-tmp');
  mkdirSync(tmp, { recursive: true });
  // An argument array, never a shell; values reach the tool through the job file.
  // No checksums of the outputs: cwltool would read every output file once more (2 GB: seconds).
  const args = [...tool.engine, '--no-compute-checksum', '--disable-color', '--outdir', outdir, '--tmpdir-prefix', `${tmp}/`, '--tmp-outdir-prefix', `${tmp}/`, tool.file, jobFile];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(tool.cwltool, args, { cwd: workdir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      // Also into the job's own log (/jobs/{id}/logs).
      process.stderr.write(d);
    });
    const stop = () => child.kill('SIGTERM');
    signal.addEventListener('abort', stop, { once: true });
    child.on('error', (e) => reject(new ProcessError(`cwltool could not be started: ${e.message}`)));
    child.on('close', (c) => {
      signal.removeEventListener('abort', stop);
      resolve({ code: c, stdout: out, stderr: err });
    });
  });
  signal.throwIfAborted();
  if (code !== 0) {
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    const reason = lines.find((l) => /permanentFail|ERROR|Error/.test(l)) ?? `cwltool exited with ${code}`;
    throw new ProcessError(`The tool failed: ${reason.trim()}\n${lines.slice(-STDERR_LINES).join('\n')}`);
  }
  let produced: Record<string, unknown>;
  try {
    produced = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new ProcessError('cwltool did not report the outputs');
  }
  const results: OutputResults = {};
  for (const output of outputs) {
    const value = produced[output.identifier];
    if (value === undefined || value === null) continue;
    if (output.type === 'complex') {
      const file = value as { path?: string; location?: string };
      results[output.identifier] = { file: file.path ?? new URL(file.location!).pathname };
    } else {
      results[output.identifier] = value as string | number | boolean;
    }
  }
  return results;
}
