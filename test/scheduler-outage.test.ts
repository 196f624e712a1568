import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { get } from './helpers/http.js';
import { available, SSH_DIR, sshAvailable } from './helpers/schedulers.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/** A private sshd for this test alone, so stopping it disturbs no other test. */
async function startSshd(port: number, dir: string): Promise<ChildProcess> {
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      'HostKey /etc/ssh/ssh_host_ed25519_key',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'MaxStartups 100:30:200',
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const probe = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (probe) return child;
    await wait(100);
  }
  throw new Error('private sshd did not start');
}

describe('a command node outage', () => {
  const runs = available('gridengine') && sshAvailable();
  let s: TestServer | undefined;
  let sshd: ChildProcess | undefined;
  afterAll(async () => {
    sshd?.kill();
    await s?.close();
  });

  it.runIf(runs)('fails no job, shows in /health while it lasts, and is over when the node is back', async () => {
    const dir = tempDir('wps-sshd-');
    const port = await freePort();
    sshd = await startSshd(port, dir);
    s = await startTestServer(
      {
        scheduler: {
          default: 'gridengine',
          ssh: { nodes: [{ host: '127.0.0.1', port, user: 'root', key: join(SSH_DIR, 'id_ed25519') }], knownHosts: join(dir, 'known_hosts'), strictHostKeys: false },
        },
        jobs: { monitorInterval: 0.3 },
      },
      undefined,
      { store: 'postgres' },
    );
    const location = statusLocationOf(
      (await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=5&storeExecuteResponse=true&status=true`)).text,
    );
    const id = /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
    for (let i = 0; i < 100 && (await s.services.store.get(id))!.state !== 'running'; i++) await wait(100);
    // The node goes away: its sshd, and with it every connection to it (the server keeps
    // one open, shared by its commands).
    sshd.kill('SIGSTOP');
    spawnSync('pkill', ['-KILL', '-P', String(sshd.pid)]);
    sshd.kill('SIGKILL');
    await new Promise((r) => sshd!.once('exit', r));
    type Health = { status: string; schedulers: { scheduler: string; ok: boolean; outage?: { failures: number; error: string } }[] };
    let health: Health | undefined;
    for (let i = 0; i < 40; i++) {
      health = (await (await fetch(`${s.url}/health`)).json()) as Health;
      if (health!.status === 'degraded') break;
      await wait(100);
    }
    expect(health!.status).toBe('degraded');
    const ge = health!.schedulers.find((h) => h.scheduler === 'gridengine')!;
    expect(ge.ok).toBe(false);
    expect(ge.outage!.error).toMatch(/no command node answered/);
    expect((await s.services.store.get(id))!.state).not.toBe('failed');
    sshd = await startSshd(port, dir);
    const views = await followStatus(location, { timeoutMs: 60_000 });
    expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
    for (let i = 0; i < 40; i++) {
      health = (await (await fetch(`${s.url}/health`)).json()) as Health;
      if (health!.status === 'ok') break;
      await wait(250);
    }
    expect(health!.status).toBe('ok');
  }, 90_000);
});
