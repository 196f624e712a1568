#!/usr/bin/env node
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as wait } from 'node:timers/promises';
import type { ExecuteStatus, OutputData, ProcessInfo } from '../client/documents.js';
import { ServerError, WpsClient } from '../client/wps-client.js';
import { extensionFor } from '../storage/media-types.js';
import { describeInput, inputValues, optionName, UsageError } from './wps-inputs.js';

/**
 * `wps`: a birdy-style command line for any WPS 1.0.0 server. Each process is a
 * subcommand built from its description; `jobs`, `status`, `logs` and `dismiss`
 * manage jobs on servers that offer the /jobs API (this one).
 *
 * Exit codes: 0 success, 1 the process failed, 2 usage, 3 the server refused the
 * request (its exception code is shown), 4 the server could not be reached,
 * 130 interrupted.
 */

const GLOBAL_HELP = `usage: wps [--url URL] [options] <process> [--input value ...]
       wps [--url URL] jobs [--process ID] [--status S] [--limit N]
       wps [--url URL] status|logs|dismiss JOB_ID
       wps [--url URL] whoami|usage

The server is --url or $WPS_SERVICE. Options:
  --token TOKEN     send Authorization: Bearer TOKEN to the server (or $WPS_TOKEN)
  --async           run asynchronously and follow the job (progress on a terminal)
  --no-wait         with --async: print the status URL and return at once
  --output-dir DIR  save complex outputs (and download references) into DIR
  --json            machine-readable output (progress events as JSON lines)
  --language TAG    ask for this language
  -h, --help        this help, or a process's with: wps <process> -h
`;

interface Globals {
  url?: string;
  async: boolean;
  wait: boolean;
  outputDir?: string;
  json: boolean;
  help: boolean;
  language?: string;
  token?: string;
}

const VALUE_OPTIONS = new Set(['--url', '--output-dir', '--language', '--token']);

/** Splits global options (anywhere) from the command and its own options. */
function parseGlobals(argv: string[]): { globals: Globals; command?: string; rest: string[] } {
  const globals: Globals = { async: false, wait: true, json: false, help: false };
  const rest: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (VALUE_OPTIONS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      if (name === '--url') globals.url = value;
      else if (name === '--token') globals.token = value;
      else if (name === '--output-dir') globals.outputDir = value;
      else globals.language = value;
    } else if (arg === '--async') globals.async = true;
    else if (arg === '--no-wait') globals.wait = false;
    else if (arg === '--json') globals.json = true;
    else if (arg === '-h' || arg === '--help') globals.help = true;
    else if (command === undefined && !arg.startsWith('-')) command = arg;
    else rest.push(arg);
  }
  return { globals, ...(command ? { command } : {}), rest };
}

/** `--name value`, `--name=value`, repeated options, `--int_in` or `--int-in`. */
function parseProcessOptions(process: ProcessInfo, args: string[]): Record<string, string[]> {
  const byOption = new Map(process.inputs.map((i) => [optionName(i.identifier), i.identifier]));
  const given: Record<string, string[]> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const name = optionName(arg.slice(2, eq < 0 ? undefined : eq));
    const id = byOption.get(name);
    if (!id) throw new UsageError(`${process.identifier} has no input --${name}; see wps ${process.identifier} -h`);
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    (given[id] ??= []).push(value);
  }
  return given;
}

function processHelp(p: ProcessInfo): string {
  const lines = [`usage: wps ${p.identifier} ${p.inputs.map((i) => (i.minOccurs > 0 && i.defaultValue === undefined ? `--${optionName(i.identifier)} VALUE` : `[--${optionName(i.identifier)} VALUE]`)).join(' ')}`, ''];
  lines.push(p.title);
  if (p.abstract) lines.push('', p.abstract);
  if (p.inputs.length > 0) {
    lines.push('', 'inputs:');
    for (const i of p.inputs) lines.push(`  --${optionName(i.identifier)}  ${i.title}: ${describeInput(i)}${i.abstract ? `\n      ${i.abstract}` : ''}`);
  }
  lines.push('', 'outputs:');
  for (const o of p.outputs) lines.push(`  ${o.identifier}  ${o.title} (${o.kind === 'literal' ? o.dataType ?? 'string' : o.kind === 'complex' ? (o.formats ?? []).map((f) => f.mimeType).join(', ') : 'bounding box'})`);
  lines.push('', p.storeSupported ? 'runs synchronously, or with --async as a job' : 'runs synchronously only');
  return `${lines.join('\n')}\n`;
}

// ---- output ----

function plainValue(d: OutputData): unknown {
  switch (d.kind) {
    case 'literal':
      return d.uom ? { value: d.value, uom: d.uom } : d.value;
    case 'reference':
      return { href: d.href, mimeType: d.mimeType };
    case 'bbox':
      return { bbox: [...d.lowerCorner, ...d.upperCorner], crs: d.crs };
    case 'complex':
      return { mimeType: d.mimeType, value: d.value, ...(d.encoding ? { encoding: d.encoding } : {}) };
  }
}

async function saveOutput(client: WpsClient, dir: string, identifier: string, d: OutputData): Promise<string | undefined> {
  let bytes: Buffer;
  let mimeType: string | undefined;
  if (d.kind === 'reference') {
    const res = await client.fetch(d.href);
    if (!res.ok) throw new Error(`downloading ${d.href}: HTTP ${res.status}`);
    bytes = Buffer.from(await res.arrayBuffer());
    mimeType = d.mimeType ?? res.headers.get('content-type') ?? undefined;
  } else if (d.kind === 'complex') {
    bytes = d.encoding?.toLowerCase() === 'base64' ? Buffer.from(d.value, 'base64') : Buffer.from(d.value, 'utf8');
    mimeType = d.mimeType;
  } else {
    return undefined;
  }
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${identifier}.${extensionFor(mimeType ?? 'application/octet-stream')}`);
  await writeFile(file, bytes);
  return file;
}

async function printResult(client: WpsClient, status: ExecuteStatus, g: Globals, jobId?: string): Promise<number> {
  if (status.status === 'ProcessFailed') {
    const ex = status.exception ?? { code: 'NoApplicableCode', text: status.message };
    if (g.json) process.stdout.write(`${JSON.stringify({ event: 'result', status: 'ProcessFailed', jobID: jobId, exception: ex })}\n`);
    else process.stderr.write(`ProcessFailed: ${ex.code}${ex.locator ? ` (${ex.locator})` : ''}: ${ex.text}\n`);
    return 1;
  }
  const saved: Record<string, string> = {};
  if (g.outputDir) {
    for (const o of status.outputs) {
      const file = await saveOutput(client, g.outputDir, o.identifier, o.data);
      if (file) saved[o.identifier] = file;
    }
  }
  if (g.json) {
    const outputs = Object.fromEntries(status.outputs.map((o) => [o.identifier, saved[o.identifier] ? { file: saved[o.identifier], ...(plainValue(o.data) as object) } : plainValue(o.data)]));
    process.stdout.write(`${JSON.stringify({ event: 'result', status: status.status, jobID: jobId, statusLocation: status.statusLocation, outputs })}\n`);
    return 0;
  }
  for (const o of status.outputs) {
    const d = o.data;
    if (saved[o.identifier]) process.stdout.write(`${o.identifier}: saved to ${saved[o.identifier]}\n`);
    else if (d.kind === 'literal') process.stdout.write(`${o.identifier}: ${d.value}${d.uom ? ` ${d.uom}` : ''}\n`);
    else if (d.kind === 'reference') process.stdout.write(`${o.identifier}: ${d.href}\n`);
    else if (d.kind === 'bbox') process.stdout.write(`${o.identifier}: ${[...d.lowerCorner, ...d.upperCorner].join(',')}${d.crs ? ` ${d.crs}` : ''}\n`);
    else if (d.encoding?.toLowerCase() === 'base64') process.stdout.write(`${o.identifier}: ${Buffer.from(d.value, 'base64').length} bytes of ${d.mimeType ?? 'data'} (use --output-dir to save them)\n`);
    else process.stdout.write(`${o.identifier}:\n${d.value}\n`);
  }
  return 0;
}

// ---- following a job ----

const jobIdOf = (location: string | undefined) => location && /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(location)?.[1];

class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = '';

  constructor(private readonly json: boolean) {}

  show(s: ExecuteStatus): void {
    const percent = s.status === 'ProcessSucceeded' ? 100 : (s.percent ?? 0);
    const key = `${s.status}|${percent}|${s.message}`;
    if (key === this.last) return;
    this.last = key;
    if (this.json) {
      process.stdout.write(`${JSON.stringify({ event: 'status', status: s.status, percent, message: s.message })}\n`);
    } else if (this.tty) {
      const width = 30;
      const filled = Math.round((percent / 100) * width);
      process.stderr.write(`\r\x1b[2K[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(percent).padStart(3)}% ${s.message}`.slice(0, (process.stderr.columns ?? 120) - 1));
    } else {
      process.stderr.write(`${s.status} ${percent}% ${s.message}\n`);
    }
  }

  done(): void {
    if (this.tty && !this.json && this.last) process.stderr.write('\n');
  }
}

function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => rl.question(question, (answer) => (rl.close(), resolve(answer))));
}

async function follow(client: WpsClient, first: ExecuteStatus, g: Globals): Promise<number> {
  const location = first.statusLocation!;
  const jobId = jobIdOf(location);
  const progress = new Progress(g.json);
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  process.on('SIGINT', onInterrupt);
  try {
    let status = first;
    // This server pushes the job's changes (an event stream); another polls its status document.
    const pushed = jobId ? await followPushed(client, jobId, progress, () => interrupted) : false;
    if (pushed) status = await client.status(location);
    let pause = 200;
    for (;;) {
      progress.show(status);
      if (status.status === 'ProcessSucceeded' || status.status === 'ProcessFailed') break;
      if (interrupted) {
        progress.done();
        if (process.stdin.isTTY && jobId) {
          process.removeListener('SIGINT', onInterrupt);
          const answer = await ask(`Dismiss job ${jobId}? [y/N] `);
          if (/^y(es)?$/i.test(answer.trim())) {
            const dismissed = await client.dismiss(jobId);
            process.stderr.write(`dismissed: ${dismissed.message}\n`);
            return 130;
          }
        }
        process.stderr.write(`interrupted; the job goes on: ${location}\n`);
        return 130;
      }
      await wait(pause);
      pause = Math.min(2000, pause * 1.5);
      status = await client.status(location);
    }
    progress.done();
    return printResult(client, status, g, jobId);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

const PUSHED_STATUS: Record<string, ExecuteStatus['status']> = {
  accepted: 'ProcessAccepted',
  running: 'ProcessStarted',
  successful: 'ProcessSucceeded',
  failed: 'ProcessFailed',
  dismissed: 'ProcessFailed',
};

/**
 * Follows the job through `GET /jobs/{id}` as an event stream, showing each change; true
 * once it saw the job end. False when the server has no such stream (another WPS server)
 * or it broke off, or the user interrupted: then the caller polls the status document.
 */
async function followPushed(client: WpsClient, jobId: string, progress: Progress, interrupted: () => boolean): Promise<boolean> {
  const controller = new AbortController();
  const watch = setInterval(() => interrupted() && controller.abort(), 100);
  try {
    const base = client.url.replace(/\/wps\/?$/, '');
    const res = await client.fetch(`${base}/jobs/${jobId}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    if (!res.ok || !res.body || !/^text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
      await res.body?.cancel();
      return false;
    }
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const info = JSON.parse(data.slice(6)) as { status: string; progress?: number; message?: string };
        const status = PUSHED_STATUS[info.status] ?? 'ProcessStarted';
        progress.show({ status, percent: info.progress ?? 0, message: info.message ?? '', outputs: [] });
        if (info.status === 'successful' || info.status === 'failed' || info.status === 'dismissed') return true;
      }
    }
    return false;
  } catch {
    return false;
  } finally {
    clearInterval(watch);
    controller.abort();
  }
}

// ---- job management (/jobs API) ----

async function jobsApi(client: WpsClient, path: string, init?: RequestInit): Promise<Record<string, any>> {
  const base = client.url.replace(/\/wps\/?$/, '');
  const res = await client.fetch(`${base}${path}`, init);
  const body = (await res.json().catch(() => undefined)) as Record<string, any> | undefined;
  if (!res.ok || !body) {
    throw new ServerError({ code: String(body?.title ?? `HTTP ${res.status}`), text: String(body?.detail ?? `${base}${path} is not a jobs API`) }, res.status);
  }
  return body;
}

async function manage(command: string, rest: string[], client: WpsClient, g: Globals): Promise<number> {
  const print = (body: unknown, text: () => string) => process.stdout.write(g.json ? `${JSON.stringify(body)}\n` : text());
  if (command === 'whoami') {
    const me = await jobsApi(client, '/users/me');
    print(me, () =>
      me.user === null
        ? 'nobody in particular: the server has authentication off\n'
        : `${me.user}${me.admin ? ' (admin)' : ''}${me.groups.length > 0 ? `, groups: ${me.groups.join(', ')}` : ''}\n`,
    );
    return 0;
  }
  if (command === 'usage') {
    const me = await jobsApi(client, '/users/me');
    const limit = (n: number | null | undefined) => (n === null || n === undefined ? 'no limit' : String(n));
    print(me, () => {
      if (me.user === null) return 'nobody in particular: the server has authentication off\n';
      const u = me.usage;
      const q = me.quota;
      return (
        `${me.user}: ${u.jobsRunning} jobs running (${limit(q?.running)}), ${u.jobsUnfinished - u.jobsRunning} waiting (${limit(q?.waiting)})\n` +
        `core-hours since ${u.since}: ${u.coreHoursUsed} used, ${u.coreHoursHeld} held by unfinished jobs, of ${limit(q?.coreHours)}${q ? ` per ${q.period}` : ''}\n`
      );
    });
    return 0;
  }
  if (command === 'jobs') {
    const q = new URLSearchParams();
    for (let i = 0; i < rest.length; i += 2) {
      const [name, value] = [rest[i], rest[i + 1]];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      if (name === '--process') q.set('processID', value);
      else if (name === '--status') q.set('status', value);
      else if (name === '--limit') q.set('limit', value);
      else throw new UsageError(`jobs: unknown option ${name}`);
    }
    const body = await jobsApi(client, `/jobs?${q}`);
    print(body, () =>
      (body.jobs as Record<string, any>[])
        .map((j) => `${j.jobID}  ${String(j.status).padEnd(10)} ${String(j.progress).padStart(3)}%  ${String(j.processID).padEnd(18)} ${j.created}`)
        .join('\n')
        .concat('\n'),
    );
    return 0;
  }
  const id = rest[0];
  if (!id) throw new UsageError(`${command} needs a job id`);
  if (command === 'status') {
    const j = await jobsApi(client, `/jobs/${encodeURIComponent(id)}`);
    print(j, () => `${j.jobID} ${j.processID}: ${j.status} ${j.progress}%${j.message ? ` (${j.message})` : ''}\ncreated ${j.created}${j.started ? `, started ${j.started}` : ''}${j.finished ? `, finished ${j.finished}` : ''}\n`);
    return 0;
  }
  if (command === 'logs') {
    const l = await jobsApi(client, `/jobs/${encodeURIComponent(id)}/logs`);
    print(l, () => `--- stdout ---\n${l.stdout}${String(l.stdout).endsWith('\n') || !l.stdout ? '' : '\n'}--- stderr ---\n${l.stderr}${String(l.stderr).endsWith('\n') || !l.stderr ? '' : '\n'}`);
    return 0;
  }
  const dismissed = await client.dismiss(id);
  print({ jobID: id, status: 'dismissed', message: dismissed.message }, () => `${id}: ${dismissed.message}\n`);
  return 0;
}

// ---- main ----

async function main(argv: string[]): Promise<number> {
  const { globals: g, command, rest } = parseGlobals(argv);
  const url = g.url ?? process.env.WPS_SERVICE;
  if (!url) {
    if (g.help || !command) {
      process.stdout.write(GLOBAL_HELP);
      return 0;
    }
    throw new UsageError('no server: give --url or set WPS_SERVICE');
  }
  const token = g.token ?? process.env.WPS_TOKEN;
  const client = new WpsClient(url, {
    cacheTtlMs: Number(process.env.WPS_CACHE_TTL ?? 60) * 1000,
    ...(g.language ? { language: g.language } : {}),
    ...(token ? { token } : {}),
  });
  if (!command) {
    const caps = await client.capabilities();
    const width = Math.max(...caps.processes.map((p) => p.identifier.length), 8);
    process.stdout.write(`${GLOBAL_HELP}\n${caps.title} (${url}) offers:\n`);
    for (const p of caps.processes) process.stdout.write(`  ${p.identifier.padEnd(width)}  ${p.title}\n`);
    return 0;
  }
  if (['jobs', 'status', 'logs', 'dismiss', 'whoami', 'usage'].includes(command)) return manage(command, rest, client, g);
  const process_ = await client.describe(command).catch((err: unknown) => {
    if (err instanceof ServerError && err.exception.locator === 'identifier') throw new UsageError(`the server offers no process ${command}; see wps -h`);
    throw err;
  });
  if (g.help) {
    process.stdout.write(processHelp(process_));
    return 0;
  }
  const inputs = inputValues(process_.inputs, parseProcessOptions(process_, rest));
  if (g.async && !process_.storeSupported) throw new UsageError(`${command} runs synchronously only`);
  const first = await client.execute(command, inputs, { async: g.async, outputs: process_.outputs.map((o) => o.identifier) });
  if (!g.async || !first.statusLocation) return printResult(client, first, g);
  if (!g.wait) {
    const jobId = jobIdOf(first.statusLocation);
    process.stdout.write(g.json ? `${JSON.stringify({ event: 'accepted', jobID: jobId, statusLocation: first.statusLocation })}\n` : `${first.statusLocation}\n`);
    return 0;
  }
  return follow(client, first, g);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`wps: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ServerError) {
      process.stderr.write(`wps: the server refused: ${err.message}\n`);
      process.exit(3);
    }
    const cause = (err as { cause?: { code?: string; errors?: { code?: string }[]; message?: string } }).cause;
    const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message;
    process.stderr.write(`wps: ${why ? `cannot reach the server (${why})` : (err as Error).message}\n`);
    process.exit(4);
  },
);
