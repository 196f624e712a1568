import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../config.js';
import { isProcessDefinition } from '../process/declare.js';
import type { ProcessDefinition } from '../process/types.js';
import type { CwlOptions } from './cwl-tool.js';

/**
 * Where processes come from: the packages an operator names in `processes` (config) or
 * `WPS_PROCESSES`. Each entry is an installed npm package's name, a path to a
 * `.js`/`.mjs` module or to a directory with a package.json, a `.cwl` file (a CWL
 * CommandLineTool, `cwl-tool.ts`), or a directory of `.cwl` files. A module offers its
 * default export (a process or an array of them) and every named export that is a process.
 * Nothing named: the demo processes, a package like any other.
 *
 * Each process remembers the file it came from (`sourceOf`): a job's spec carries it,
 * and the runner on the compute node imports that file, so it runs what the server
 * described.
 */

/** The demo processes' package (this install's `processes/`; its TypeScript source when run from source, as the tests do). */
const DEMO_PACKAGE = ['index.js', 'index.ts']
  .map((name) => fileURLToPath(new URL(`../../processes/${name}`, import.meta.url)))
  .find((file) => existsSync(file))!;

const sources = new WeakMap<ProcessDefinition, string>();

const isCwlFile = (name: string): boolean => /\.cwl$/i.test(name);

/** The file a loaded process came from; undefined for processes made elsewhere (tests). */
export const sourceOf = (process: ProcessDefinition): string | undefined => sources.get(process);

/**
 * Loads every package named, in order; the processes are offered in that order. A
 * package that fails to load, offers no process, or offers an identifier another has
 * taken is a ConfigError naming the package and the reason, in one line.
 */
export async function loadProcesses(specifiers: readonly string[], cwl: CwlOptions = { containers: 'none' }, cwd = process.cwd()): Promise<ProcessDefinition[]> {
  const named = specifiers.length > 0 ? specifiers : [DEMO_PACKAGE];
  const offered = new Map<string, string>();
  const all: ProcessDefinition[] = [];
  for (const specifier of named) {
    const fail = (reason: string) => new ConfigError(`processes: ${specifier}: ${reason}`);
    const offer = (p: ProcessDefinition, file: string, from: string) => {
      const other = offered.get(p.identifier);
      if (other !== undefined) throw new ConfigError(`processes: ${from}: process ${p.identifier} is already offered by ${other}`);
      offered.set(p.identifier, from);
      sources.set(p, file);
      all.push(p);
    };
    const cwlFiles = cwlFilesOf(specifier, cwd);
    if (cwlFiles) {
      if (cwlFiles.length === 0) throw fail('is a directory with neither a package.json nor .cwl files');
      for (const file of cwlFiles) {
        const failCwl = (reason: string) => new ConfigError(`processes: ${file}: ${reason}`);
        offer(await cwlProcess(file, cwl, failCwl), file, file);
      }
      continue;
    }
    const file = resolveModule(specifier, cwd, fail);
    const found = await processesOf(file, fail);
    if (found.length === 0) throw fail('exports no process (a default export or named exports made by defineProcess)');
    for (const p of found) offer(p, file, specifier);
  }
  return all;
}

/** The .cwl files a specifier names: itself, or those of a directory that is no package; undefined otherwise. */
function cwlFilesOf(specifier: string, cwd: string): string[] | undefined {
  const path = resolve(cwd, specifier);
  if (isCwlFile(specifier)) return [path];
  if (!existsSync(path) || !statSync(path).isDirectory() || existsSync(join(path, 'package.json'))) return undefined;
  return readdirSync(path)
    .filter(isCwlFile)
    .sort()
    .map((f) => join(path, f));
}

async function cwlProcess(file: string, options: CwlOptions, fail: (reason: string) => Error): Promise<ProcessDefinition> {
  if (!existsSync(file)) throw fail('no such file or directory');
  // The CWL parser (cwl-ts-auto, ~10 MB in memory) is loaded only by servers that offer CWL tools.
  const { loadCwlTool } = await import('./cwl-tool.js');
  try {
    return await loadCwlTool(file, options);
  } catch (err) {
    throw fail(firstLine(err));
  }
}

/** The process `identifier` from the module at `file` (what a job's spec names), or undefined. */
export async function loadProcessFrom(file: string, identifier: string, cwl: CwlOptions = { containers: 'none' }): Promise<ProcessDefinition | undefined> {
  const fail = (reason: string) => new Error(`${file}: ${reason}`);
  const found = isCwlFile(file) ? [await cwlProcess(file, cwl, fail)] : await processesOf(file, fail);
  const process = found.find((p) => p.identifier === identifier);
  if (process) sources.set(process, file);
  return process;
}

async function processesOf(file: string, fail: (reason: string) => Error): Promise<ProcessDefinition[]> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw fail(`could not be loaded: ${firstLine(err)}`);
  }
  const found: ProcessDefinition[] = [];
  const add = (value: unknown, name: string) => {
    if (!isProcessDefinition(value)) throw fail(`${name} is not a process made by defineProcess`);
    if (!found.includes(value)) found.push(value);
  };
  const main = module.default;
  if (Array.isArray(main)) main.forEach((p, i) => add(p, `the default export's item ${i}`));
  else if (main !== undefined) add(main, 'the default export');
  for (const [name, value] of Object.entries(module)) {
    if (name !== 'default' && isProcessDefinition(value)) add(value, name);
  }
  return found;
}

/** The module file a specifier names: a path (a module, or a package's directory) or an installed package's name. */
function resolveModule(specifier: string, cwd: string, fail: (reason: string) => Error): string {
  const looksLikePath = specifier.startsWith('.') || isAbsolute(specifier) || /\.(m?js)$/.test(specifier);
  if (looksLikePath) {
    const path = resolve(cwd, specifier);
    if (!existsSync(path)) throw fail('no such file or directory');
    return statSync(path).isDirectory() ? packageEntry(path, fail) : path;
  }
  // A package name: installed under node_modules, seen from the working directory up,
  // then from this install (an operator who ran `npm install` beside the server).
  for (const start of [cwd, dirname(fileURLToPath(import.meta.url))]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', specifier);
      if (existsSync(join(candidate, 'package.json'))) return packageEntry(candidate, fail);
      if (dirname(dir) === dir) break;
    }
  }
  throw fail('no such package installed (npm install it, or give a path)');
}

/** A package directory's ES module entry: `exports` ('.' with import or default), else `main`, else index.js. */
function packageEntry(dir: string, fail: (reason: string) => Error): string {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) throw fail('is a directory without a package.json');
  let pkg: { exports?: unknown; main?: string };
  try {
    pkg = JSON.parse(readFileSync(manifest, 'utf8')) as typeof pkg;
  } catch (err) {
    throw fail(`its package.json could not be read: ${firstLine(err)}`);
  }
  const entry = exportedEntry(pkg.exports) ?? pkg.main ?? 'index.js';
  const file = resolve(dir, entry);
  if (!existsSync(file)) throw fail(`its entry ${entry} does not exist`);
  return file;
}

function exportedEntry(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const root = '.' in exports ? (exports as Record<string, unknown>)['.'] : exports;
  if (typeof root === 'string') return root;
  if (typeof root !== 'object' || root === null) return undefined;
  const conditions = root as Record<string, unknown>;
  for (const key of ['import', 'node', 'default']) {
    const value = conditions[key];
    if (typeof value === 'string') return value;
    const nested = exportedEntry(value);
    if (nested) return nested;
  }
  return undefined;
}

const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0]!;

/** How a runner finds a job's process: by the file its spec names, else among the configured packages. */
export type ProcessFinder = (identifier: string, source: string | undefined, cwl: CwlOptions | undefined) => Promise<ProcessDefinition | undefined>;

export function processFinder(configuredPackages: () => readonly string[]): ProcessFinder {
  let configured: Promise<ProcessDefinition[]> | undefined;
  return async (identifier, source, cwl) => {
    if (source) return loadProcessFrom(source, identifier, cwl);
    // Read only when needed: a spec that names its source needs no configuration here.
    configured ??= loadProcesses(configuredPackages(), cwl);
    return (await configured).find((p) => p.identifier === identifier);
  };
}
