import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { expectAllValid, statusLocationOf } from './helpers/async.js';
import { isFinal, linkOf, listening, sessionIdOf, untilReady, untilStatus } from './helpers/sessions.js';
import { get } from './helpers/http.js';
import { available, SSH_DIR, SSH_PORT, sshAvailable, type BatchSystem } from './helpers/schedulers.js';
import type { ConfigFile } from '../src/config.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Sessions through the batch systems: the application starts on the compute node as a
 * Slurm or GridEngine job, and is reached only through the server's proxy.
 */

const ECHO = resolve('test/apps/ws-echo.mjs');

function queued(system: BatchSystem, id: string): boolean {
  if (system === 'slurm') return execFileSync('squeue', ['-h', '-j', id, '-o', '%T'], { encoding: 'utf8' }).trim() !== '';
  return execFileSync('qstat', ['-u', '*'], { encoding: 'utf8' }).split('\n').some((l) => l.trim().split(/\s+/)[0] === id);
}

const combos: [BatchSystem, 'local' | 'ssh', number][] = [
  ['slurm', 'local', 19200],
  ['gridengine', 'local', 19220],
  ['slurm', 'ssh', 19240],
];

describe.each(combos)('a session as a %s job (commands %s)', (system, via, firstPort) => {
  const runs = available(system) && (via === 'local' || sshAvailable());
  let s: TestServer;
  beforeAll(async () => {
    if (!runs) return;
    const scheduler: NonNullable<ConfigFile['scheduler']> = { default: system };
    if (via === 'ssh') {
      scheduler.ssh = { nodes: [{ host: '127.0.0.1', port: SSH_PORT, user: 'root', key: join(SSH_DIR, 'id_ed25519') }], knownHosts: join(SSH_DIR, 'known_hosts') };
    }
    s = await startTestServer(
      {
        scheduler,
        jobs: { monitorInterval: 0.5 },
        sessions: {
          resources: [{ host: '127.0.0.1', port_range: [firstPort, firstPort + 19] }],
          apps: { echo: { cmd: [process.execPath, ECHO, '${host}', '${port}'], ready_line: 'ws-echo listening', timeout: 60 } },
        },
      },
      undefined,
      { store: 'postgres' },
    );
  }, 60_000);
  afterAll(() => s?.close());

  it.runIf(runs)('starts on the node, is reached through the proxy (HTTP and websocket), and ends with Dismiss: no job, process or port left', async () => {
    const location = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=echo&storeExecuteResponse=true&status=true`)).text);
    const views = await untilReady(location, 60_000);
    await expectAllValid(views);
    const link = linkOf(views.at(-1)!);
    const id = sessionIdOf(link);
    const job = (await s.services.store.get(id))!;
    expect(job).toMatchObject({ scheduler: system, state: 'running', sessionHost: '127.0.0.1' });
    expect(queued(system, job.schedulerJobId!)).toBe(true);

    const opened = await fetch(link, { redirect: 'manual' });
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(`${s.url}/sessions/${id}/on-the-node`, { headers: { cookie } });
    expect(((await page.json()) as { url: string }).url).toBe('/on-the-node');
    const echoed = await new Promise<string>((done, fail) => {
      const ws = new WebSocket(`${link.replace(/^http/, 'ws').replace('/?', '/ws?')}`);
      let greeted = false;
      ws.on('message', (data) => {
        if (!greeted) return ((greeted = true), ws.send(`hello ${system}`));
        ws.close();
        done(String(data));
      });
      ws.on('error', fail);
    });
    expect(echoed).toBe(`hello ${system}`);

    await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${id}`);
    const final = await untilStatus(location, isFinal);
    expect(final.at(-1)!.name).toBe('ProcessFailed');
    for (let i = 0; i < 100 && ((await listening(job.sessionPort!)) || queued(system, job.schedulerJobId!)); i++) await wait(200);
    expect(await listening(job.sessionPort!)).toBe(false);
    expect(queued(system, job.schedulerJobId!)).toBe(false);
    expect((await fetch(`${s.url}/sessions/${id}/`, { headers: { cookie } })).status).toBe(404);
  }, 120_000);
});
