import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { hostname } from 'node:os';
import { setTimeout as wait } from 'node:timers/promises';
import type { JobResult } from '../runner-contract.js';
import { openJobLogs } from '../storage/job-files.js';
import { expandCommand, poolFor, SESSION_URL_OUTPUT, type SessionSpec } from './app.js';
import { reservePort } from './ports.js';
import { descendantsOf, isSameProcessAlive, signalEach, type ProcessId } from '../scheduler/local/proc.js';

/** What a session's runner needs from its job: where it logs, and how it tells the server. */
export interface SessionRun {
  jobId: string;
  spec: SessionSpec;
  workdir: string;
  stdoutPath: string;
  stderrPath: string;
  /** Tells the server where the ready application listens; resolves whether it took the word. */
  announce(host: string, port: number): Promise<boolean>;
  /** Aborted when the job is stopped (dismissed, idle, past its wall time). */
  stop: AbortSignal;
  /** Between SIGTERM and SIGKILL when the application is stopped. */
  killGraceMs?: number;
}

/** The launcher's words, which its clients show: kept so that they read the same. */
export const NO_PORT = 'All the resources are currently taken';
export const NOT_READY = 'Session did not start before timeout expired. Check session logs.';

const POLL_MS = 100;
/** How often the application's process tree is looked at while it runs. */
const TREE_LOOK_MS = 2000;
/** Between SIGTERM and SIGKILL: the application's, then its leftovers' (both within the schedulers' own grace). */
const KILL_GRACE_MS = 4000;
/** A session that just ended may hold its port a moment longer (its application stopping): so long a new one waits for it. */
const PORT_WAIT_SECONDS = 10;
const LOG_LINES = 20;

/**
 * Runs one session on this node: takes a port of the node's pool, starts the application
 * (its output goes to the job's logs), waits for its ready line or its port, tells the
 * server, and keeps it until it exits or the job is stopped. A session that became ready
 * ends succeeded, whatever ended it; one that never did ends failed, with the last lines
 * of its log.
 */
export async function runSession(run: SessionRun): Promise<JobResult> {
  const { spec } = run;
  const output = [{ identifier: SESSION_URL_OUTPUT, value: { type: 'literal' as const, value: spec.url } }];
  const pool = poolFor(spec.pools, hostname());
  if (!pool) return failed(`No port pool is configured for host ${hostname()}`);
  const reservation = await reservePort(pool, Math.min(run.spec.app.timeoutSeconds, PORT_WAIT_SECONDS));
  if (!reservation) return failed(NO_PORT);
  let child: ChildProcess | undefined;
  // What the application started, looked at while it runs: some leave its process group
  // (Xpra's display server, Jupyter's kernels) and, once it is gone, nothing links them to it.
  const tree = new Map<number, ProcessId>();
  const noteTree = () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) for (const p of descendantsOf(child.pid)) tree.set(p.pid, p);
  };
  const looking = setInterval(noteTree, TREE_LOOK_MS);
  looking.unref();
  try {
    const values: Record<string, string> = { ...spec.app.properties, ...spec.values };
    Object.assign(values, {
      host: pool.host,
      port: String(reservation.port),
      secret: spec.secret,
      workdir: run.workdir,
      id: run.jobId,
      base_url: spec.basePath,
      url: spec.url,
    });
    const argv = expandCommand(spec.app.cmd, values);
    mkdirSync(run.workdir, { recursive: true });
    const logStart = { out: await sizeOf(run.stdoutPath), err: await sizeOf(run.stderrPath) };
    const { out, err } = openJobLogs(run.stdoutPath, run.stderrPath);
    try {
      // In the runner's process group: whatever kills the job (a scheduler, the local
      // scheduler's group kill) takes the application too.
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: run.workdir,
        // Not the runner's environment: a server's (database URLs, tokens) is no business of an application its user may drive.
        env: { ...plainEnvironment(), ...expandEnvironment(spec.app.env, values), WPS_SESSION_ID: run.jobId },
        stdio: ['ignore', out, err],
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const exited = new Promise<string>((resolve) => {
      child!.once('error', (e) => resolve(`could not be started: ${e.message}`));
      child!.once('exit', (code, signal) => resolve(signal ? `ended by ${signal}` : `exited with status ${code}`));
    });
    const logTail = () => lastLines([run.stdoutPath, run.stderrPath], logStart);
    const ready = await becomeReady(run, pool.host, reservation.port, logStart, exited);
    if (ready !== true) {
      noteTree();
      await stopChild(child, run.killGraceMs);
      const why = ready === 'timeout' ? NOT_READY : ready === 'stopped' ? 'The session was stopped before it was ready' : `The application ${ready} before it was ready`;
      return failed(`${why}${await logTail()}`);
    }
    if (!(await run.announce(pool.host, reservation.port))) {
      noteTree();
      await stopChild(child, run.killGraceMs);
      return failed(`The server did not accept the session at ${pool.host}:${reservation.port}`);
    }
    const end = await Promise.race([exited, stopped(run.stop)]);
    if (end === 'stopped') {
      noteTree();
      await stopChild(child, run.killGraceMs);
      return { state: 'succeeded', message: 'The session was stopped', outputs: output };
    }
    return { state: 'succeeded', message: `The session ended: the application ${end}`, outputs: output };
  } finally {
    clearInterval(looking);
    noteTree();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stopAll([...tree.values()], run.killGraceMs);
    reservation.release();
  }
}

const failed = (message: string): JobResult => ({ state: 'failed', error: { code: 'NoApplicableCode', message } });

/** True once ready; else why not: 'timeout', 'stopped', or how the application ended. */
async function becomeReady(run: SessionRun, host: string, port: number, logStart: { out: number; err: number }, exited: Promise<string>): Promise<true | string> {
  const { app } = run.spec;
  const deadline = Date.now() + app.timeoutSeconds * 1000;
  const pattern = app.readyLine !== undefined ? new RegExp(app.readyLine) : undefined;
  const scanners = pattern ? [lineScanner(run.stdoutPath, logStart.out, pattern), lineScanner(run.stderrPath, logStart.err, pattern)] : [];
  let ended: string | undefined;
  void exited.then((why) => (ended = why));
  for (;;) {
    if (pattern ? (await Promise.all(scanners.map((s) => s()))).some(Boolean) : await accepts(host, port)) return true;
    if (ended !== undefined) return ended;
    if (run.stop.aborted) return 'stopped';
    if (Date.now() >= deadline) return 'timeout';
    await wait(POLL_MS);
  }
}

/** Reads what a log gained since the last call; true once a whole line matched. */
function lineScanner(path: string, from: number, pattern: RegExp): () => Promise<boolean> {
  let offset = from;
  let partial = '';
  // A character may be cut between two reads.
  const decoder = new StringDecoder('utf8');
  return async () => {
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) return false;
    try {
      const { size } = await handle.stat();
      if (size <= offset) return false;
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(Math.min(size - offset, 1 << 20)), 0, Math.min(size - offset, 1 << 20), offset);
      offset += bytesRead;
      const lines = (partial + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
      partial = lines.pop() ?? '';
      return lines.some((l) => pattern.test(l));
    } finally {
      await handle.close();
    }
  };
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function stopped(signal: AbortSignal): Promise<'stopped'> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve('stopped');
    else signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
}

/** SIGTERM, then SIGKILL once the grace has passed (what it started is stopped after, by stopAll). */
async function stopChild(child: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Stops whatever of these processes is still the same one: SIGTERM, then SIGKILL after the grace. */
async function stopAll(processes: readonly ProcessId[], graceMs = KILL_GRACE_MS): Promise<void> {
  const alive = () => processes.filter((p) => isSameProcessAlive(p.pid, p.startTicks));
  if (alive().length === 0) return;
  signalEach(processes, 'SIGTERM');
  for (let waited = 0; waited < graceMs && alive().length > 0; waited += POLL_MS) await wait(POLL_MS);
  signalEach(processes, 'SIGKILL');
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

/** The application's last lines of output, for a person reading why a session failed. */
async function lastLines(paths: readonly string[], from: { out: number; err: number }): Promise<string> {
  const starts = [from.out, from.err];
  const lines: string[] = [];
  for (const [i, path] of paths.entries()) {
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) continue;
    try {
      const { size } = await handle.stat();
      const begin = Math.max(starts[i]!, size - 8192);
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(Math.max(0, size - begin)), 0, Math.max(0, size - begin), begin);
      lines.push(...buffer.subarray(0, bytesRead).toString('utf8').split('\n').filter((l) => l.trim() !== ''));
    } finally {
      await handle.close();
    }
  }
  const tail = lines.slice(-LOG_LINES);
  return tail.length > 0 ? `. Last lines of its log:\n${tail.join('\n')}` : '';
}

const PASSED_ON = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'XDG_RUNTIME_DIR'];

function expandEnvironment(env: Record<string, string>, values: Record<string, string>): Record<string, string> {
  const names = Object.keys(env);
  const expanded = expandCommand(names.map((n) => env[n]!), values);
  return Object.fromEntries(names.map((n, i) => [n, expanded[i]!]));
}

function plainEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ON) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  return env;
}
