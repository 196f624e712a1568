/**
 * The overhead of a batch scheduler adapter, in one run: a zero-delay `sleep` job
 * through the WPS (submit → ProcessStarted, → ProcessSucceeded) beside the raw
 * qsub/sbatch of the same runtime (Node starting, as the runner does), from submission
 * to the job's start and to the batch system's "done".
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { SLEEP_SUBMISSION } from './async.js';
import { benchDirectory } from './harness.js';

export type BatchSystem = 'gridengine' | 'slurm';

export interface AdapterFigures {
  system: BatchSystem;
  jobs: number;
  rawStartMs: number;
  rawDoneMs: number;
  wpsStartedMs: number;
  wpsSucceededMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function batchSystemAvailable(system: BatchSystem): boolean {
  try {
    execFileSync(system === 'gridengine' ? 'qstat' : 'squeue', [], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function submitRaw(system: BatchSystem, dir: string, marker: string): string {
  const script = `#!/bin/sh\nexec '${process.execPath}' -e "require('fs').writeFileSync('${marker}', String(Date.now()))"\n`;
  const args =
    system === 'gridengine'
      ? ['-terse', '-S', '/bin/sh', '-wd', dir, '-o', join(dir, 'raw.out'), '-e', join(dir, 'raw.err')]
      : ['--parsable', `--chdir=${dir}`, `--output=${join(dir, 'raw.out')}`];
  return execFileSync(system === 'gridengine' ? 'qsub' : 'sbatch', args, { input: script, encoding: 'utf8' }).trim().split(/[.;]/)[0]!;
}

function rawDone(system: BatchSystem, id: string): boolean {
  try {
    if (system === 'gridengine') {
      execFileSync('qacct', ['-j', id], { stdio: 'ignore' });
      return true;
    }
    return /JobState=COMPLETED/.test(execFileSync('scontrol', ['-o', 'show', 'job', id], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await wait(5);
  }
}

async function raw(system: BatchSystem, dir: string): Promise<{ start: number; done: number }> {
  const marker = join(dir, `start-${Date.now()}-${Math.random()}`);
  const t0 = Date.now();
  const id = submitRaw(system, dir, marker);
  await until(() => existsSync(marker));
  const start = Number(readFileSync(marker, 'utf8')) - t0;
  await until(() => rawDone(system, id));
  return { start, done: Date.now() - t0 };
}

async function throughWps(base: string, storageDir: string): Promise<{ started: number; succeeded: number }> {
  const t0 = Date.now();
  const res = await fetch(`${base}${SLEEP_SUBMISSION}`);
  const id = /statusLocation="[^"]*\/([0-9a-f-]{36})\.xml"/.exec(await res.text())![1]!;
  let started = 0;
  for (;;) {
    const doc = readFileSync(join(storageDir, `${id}.xml`), 'utf8');
    if (!started && /ProcessStarted|ProcessSucceeded/.test(doc)) started = Date.now() - t0;
    if (doc.includes('ProcessSucceeded')) return { started, succeeded: Date.now() - t0 };
    if (doc.includes('ProcessFailed')) throw new Error(`job failed: ${doc}`);
    await wait(5);
  }
}

export async function benchAdapter(system: BatchSystem, port: number, jobs: number): Promise<AdapterFigures> {
  const data = benchDirectory(`wps-bench-${system}-`);
  const server = spawn(process.execPath, ['dist/src/cli/main.js', 'serve'], {
    env: { ...process.env, PORT: String(port), WPS_DATA_DIR: data, WPS_SCHEDULER: system, WPS_MONITOR_INTERVAL: '0.5' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false)) break;
      await wait(100);
    }
    const rawStart: number[] = [];
    const rawDoneMs: number[] = [];
    const started: number[] = [];
    const succeeded: number[] = [];
    for (let i = 0; i < jobs; i++) {
      // Alternate, so both see the same machine and the same scheduler ticks.
      const r = await raw(system, data);
      rawStart.push(r.start);
      rawDoneMs.push(r.done);
      const w = await throughWps(`http://127.0.0.1:${port}`, join(data, 'outputs'));
      started.push(w.started);
      succeeded.push(w.succeeded);
    }
    return {
      system,
      jobs,
      rawStartMs: median(rawStart),
      rawDoneMs: median(rawDoneMs),
      wpsStartedMs: median(started),
      wpsSucceededMs: median(succeeded),
    };
  } finally {
    server.kill('SIGTERM');
    await wait(300);
  }
}
