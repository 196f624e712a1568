import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { DrmaaState, JobInfo, JobTemplate, Scheduler } from '../src/scheduler/types.js';
import { available, batchScheduler, sshAvailable, sshTransport, type BatchSystem } from './helpers/schedulers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function template(command: string, args: string[], extra: Partial<JobTemplate> = {}): JobTemplate {
  const dir = mkdtempSync(join(tmpdir(), 'wps-sched-'));
  dirs.push(dir);
  const jobId = randomUUID();
  return {
    jobId,
    jobName: `wps-test-${jobId.slice(0, 8)}`,
    remoteCommand: command,
    args,
    workingDirectory: dir,
    outputPath: join(dir, 'stdout.log'),
    errorPath: join(dir, 'stderr.log'),
    env: { WPS_JOB_ID: jobId },
    wallClockLimitSeconds: 120,
    nativeSpecification: [],
    ...extra,
  };
}

async function until(s: Scheduler, id: string, states: DrmaaState[], timeoutMs = 30_000): Promise<JobInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = (await s.status([id])).get(id)!;
    if (states.includes(info.state)) return info;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${info.state}`);
    await wait(200);
  }
}

const systems: [BatchSystem, 'local' | 'ssh'][] = [
  ['gridengine', 'local'],
  ['slurm', 'local'],
  ['gridengine', 'ssh'],
  ['slurm', 'ssh'],
];

describe.each(systems)('the %s adapter (commands %s)', (system, via) => {
  const runs = available(system) && (via === 'local' || sshAvailable());
  // Over ssh GridEngine's own commands are named, with their environment; here, the PATH's.
  const s = runs ? batchScheduler(system, via === 'ssh' ? sshTransport(true) : undefined, via === 'ssh') : undefined;
  afterAll(() => s?.close());

  it.runIf(runs)('submits a job, sees it queued or running, then done', async () => {
    // The job ends only once the test lets it, so a slow status call cannot see it done already.
    const t = template('/bin/sh', ['-c', 'while [ ! -e gate ]; do sleep 0.1; done']);
    const id = await s!.submit(t);
    expect(id).toMatch(/^\d+$/);
    expect(['queued', 'running']).toContain((await s!.status([id])).get(id)!.state);
    writeFileSync(join(t.workingDirectory, 'gate'), '');
    expect(await until(s!, id, ['done', 'failed'])).toMatchObject({ state: 'done' });
  });

  it.runIf(runs)('passes arguments and environment through untouched by any shell', async () => {
    const marker = join(tmpdir(), `wps-pwned-${randomUUID()}`);
    const nasty = [`$(touch ${marker})`, `\`touch ${marker}\``, `; touch ${marker}`, `'"quoted"'`, '&& | > < *'];
    const t = template('/usr/bin/printf', ['%s|', ...nasty]);
    const id = await s!.submit(t);
    await until(s!, id, ['done', 'failed']);
    await wait(200);
    expect(readFileSync(t.outputPath, 'utf8')).toBe(`${nasty.join('|')}|`);
    expect(existsSync(marker)).toBe(false);
  });

  it.runIf(runs)('reports a non-zero exit as failed, with the exit status', async () => {
    const id = await s!.submit(template('/bin/false', []));
    const info = await until(s!, id, ['done', 'failed']);
    expect(info.state).toBe('failed');
    expect(info.reason).toMatch(system === 'gridengine' ? /exit status 1/ : /FAILED.*exit code 1/);
  });

  it.runIf(runs)('terminates a running job; its end names what happened', async () => {
    const id = await s!.submit(template('/bin/sleep', ['300']));
    await until(s!, id, ['running']);
    await s!.terminate(id);
    const info = await until(s!, id, ['done', 'failed']);
    expect(info.state).toBe('failed');
    expect(info.reason).toMatch(system === 'gridengine' ? /exit status 137|failed: 100/ : /CANCELLED/);
  });

  it.runIf(runs)('refuses a template value that could break out of the command line', async () => {
    await expect(s!.submit(template('/bin/sh -c id', []))).rejects.toThrow(/unsafe command/);
    await expect(s!.submit(template('/bin/true', ['a\nb']))).rejects.toThrow(/unsafe argument/);
    await expect(s!.submit(template('/bin/true', [], { queue: 'all.q; touch /tmp/x' }))).rejects.toThrow(/unsafe queue/);
  });

  it.runIf(runs)('asks about many jobs in one status call', async () => {
    const ids = await Promise.all([1, 2, 3].map(() => s!.submit(template('/bin/true', []))));
    for (const id of ids) await until(s!, id, ['done', 'failed']);
    const all = await s!.status(ids);
    expect([...all.values()].map((i) => i.state)).toEqual(['done', 'done', 'done']);
    // Three scheduling cycles of a batch system on a busy host.
  }, 90_000);
});

describe.each(['local', 'ssh'] as const)('GridEngine error states (commands %s)', (via) => {
  const runs = available('gridengine') && (via === 'local' || sshAvailable());
  const s = runs ? batchScheduler('gridengine', via === 'ssh' ? sshTransport() : undefined, via === 'ssh') : undefined;
  afterAll(() => s?.close());

  it.runIf(runs)('fails and deletes a job stuck in an error state, with GridEngine’s reason', async () => {
    const t = template('/bin/true', [], { outputPath: '/nonexistent/wps/stdout.log' });
    const id = await s!.submit(t);
    const info = await until(s!, id, ['failed', 'done']);
    expect(info.reason).toMatch(/error state Eqw.*can't open output file "\/nonexistent\/wps\/stdout.log"/);
    expect((await s!.status([id])).get(id)!.state).not.toBe('queued');
  });

});

describe.runIf(sshAvailable())('the ssh transport', () => {
  it('sends a node’s commands over one shared connection, and ends it when closed', async () => {
    const transport = sshTransport();
    // sshd names the client's address and port of the connection a command came over.
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await transport.run('printenv', ['SSH_CONNECTION']);
      expect(r.code).toBe(0);
      seen.add(r.stdout.trim());
    }
    expect(seen.size).toBe(1);
    await transport.close!();
    await expect(transport.run('true', [])).rejects.toThrow(/closed/);
  });
});
