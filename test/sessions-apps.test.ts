import { execFileSync } from 'node:child_process';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ConfigFile } from '../src/config.js';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { expectAllValid, statusLocationOf } from './helpers/async.js';
import { linkOf, sessionIdOf, untilFinal, untilReady } from './helpers/sessions.js';
import { get } from './helpers/http.js';
import { available } from './helpers/schedulers.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Real interactive applications from Debian as sessions, reached only through the
 * server's proxy: Jupyter Notebook (a kernel's websocket runs code; Chromium opens it) and
 * Xpra, bwVisu's own application (its HTML5 client page and websocket).
 */

function installed(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${command} is missing (scripts/test-deps.sh installs it)`);
    console.warn(`skipping: ${command} is missing (scripts/test-deps.sh installs it)`);
    return false;
  }
}
const haveJupyter = installed('jupyter-notebook');
const haveXpra = installed('xpra');

/** Jupyter Notebook 6 as a session: told its base URL (the proxy keeps the prefix) and its token by the environment, never on its command line. */
const jupyter = {
  cmd: ['jupyter-notebook', '--no-browser', '--allow-root', '--ip=${host}', '--port=${port}', '--NotebookApp.port_retries=0', '--NotebookApp.base_url=${base_url}', '--notebook-dir=${workdir}'],
  // Its ready line is the URL it prints.
  ready_line: 'http://\\S+/\\?token=',
  keep_prefix: true,
  path: '/tree?token=${secret}',
  timeout: 90,
  env: {
    JUPYTER_TOKEN: '${secret}',
    JUPYTER_RUNTIME_DIR: '${workdir}/runtime',
    JUPYTER_DATA_DIR: '${workdir}/data',
    JUPYTER_CONFIG_DIR: '${workdir}/config',
    IPYTHONDIR: '${workdir}/ipython',
  },
};

/** Xpra with its HTML5 client; the password (its `env` authentication) comes by the environment. */
const xpra = {
  cmd: [
    'xpra', 'start', '--daemon=no', '--bind-tcp=${host}:${port}', '--html=on', '--tcp-auth=env',
    '--mdns=no', '--pulseaudio=no', '--notifications=no', '--webcam=no', '--speaker=off', '--microphone=off',
    '--systemd-run=no', '--dbus-launch=no', '--dbus-proxy=no', '--dbus-control=no',
    '--socket-dirs=${workdir}', '--log-dir=${workdir}', '--start=',
  ],
  ready_line: 'xpra is ready',
  path: '/index.html?password=${secret}',
  timeout: 90,
  env: { XPRA_PASSWORD: '${secret}' },
};

/** Processes of the applications these tests start (they run one session at a time). */
function leftovers(): string[] {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /Xvfb-for-Xpra|ipykernel_launcher|jupyter-notebook|xpra start/.test(l));
}

interface Session {
  id: string;
  link: string;
  location: string;
  /** Our proxy's cookie, as a browser keeps it after opening the link. */
  cookie: string;
  end(): Promise<void>;
}

async function startSession(s: TestServer, app: string): Promise<Session> {
  const location = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=${app}&storeExecuteResponse=true&status=true`)).text);
  const views = await untilReady(location, 120_000);
  await expectAllValid(views);
  const link = linkOf(views.at(-1)!);
  const id = sessionIdOf(link);
  const opened = await fetch(link, { redirect: 'manual' });
  expect(opened.status).toBe(303);
  const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
  return {
    id,
    link,
    location,
    cookie,
    async end() {
      await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${id}`);
      await untilFinal(location, 60_000);
      // Nothing of the application outlives its session: not even what left its process
      // group (Xpra's display server, Jupyter's kernels).
      for (let i = 0; i < 100 && leftovers().length > 0; i++) await wait(100);
      expect(leftovers()).toEqual([]);
    },
  };
}

/** Runs `1+1` in a new kernel over its websocket channels, through the proxy; resolves what the kernel answered. */
async function runInKernel(s: TestServer, session: Session): Promise<string> {
  const secret = new URL(session.link).searchParams.get('token')!;
  const headers = { cookie: session.cookie, authorization: `token ${secret}` };
  const base = `${s.url}/sessions/${session.id}`;
  const created = await fetch(`${base}/api/kernels`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
  expect(created.status).toBe(201);
  const kernel = ((await created.json()) as { id: string }).id;
  return new Promise((done, fail) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/kernels/${kernel}/channels?session_id=test`, { headers });
    const timer = setTimeout(() => fail(new Error('no execute_result in 60 s')), 60_000);
    ws.on('open', () =>
      ws.send(
        JSON.stringify({
          header: { msg_id: 'run-1', username: 'test', session: 'test', msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code: '1+1', silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          channel: 'shell',
          buffers: [],
        }),
      ),
    );
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { msg_type: string; parent_header: { msg_id?: string }; content: { data?: Record<string, string> } };
      if (msg.msg_type === 'execute_result' && msg.parent_header.msg_id === 'run-1') {
        clearTimeout(timer);
        ws.close();
        done(msg.content.data!['text/plain']!);
      }
    });
    ws.on('error', (err) => (clearTimeout(timer), fail(err)));
    ws.on('unexpected-response', (_req, res) => (clearTimeout(timer), fail(new Error(`websocket refused: ${res.statusCode}`))));
  });
}

const systems = [
  ['local', true],
  ['slurm', available('slurm')],
  ['gridengine', available('gridengine')],
] as const;

describe.each(systems)('applications as sessions (%s)', (system, schedulerUp) => {
  let s: TestServer;
  const base = { local: 19300, slurm: 19330, gridengine: 19360 }[system];
  beforeAll(async () => {
    if (!schedulerUp || !(haveJupyter || haveXpra)) return;
    const sessions: NonNullable<ConfigFile['sessions']> = { resources: [{ host: '127.0.0.1', port_range: [base, base + 19] }], apps: { jupyter, xpra } };
    s = await startTestServer({ scheduler: { default: system }, jobs: { monitorInterval: 0.5, parallel: 4 }, sessions }, undefined, { store: 'postgres' });
  }, 60_000);
  afterAll(() => s?.close());

  it.runIf(schedulerUp && haveJupyter)('Jupyter Notebook: its kernel’s websocket runs 1+1 through the proxy', async () => {
    const session = await startSession(s, 'jupyter');
    try {
      expect(await runInKernel(s, session)).toBe('2');
    } finally {
      await session.end();
    }
  }, 180_000);

  // Chromium once, on the local scheduler: where the application runs does not change what the browser sees.
  if (system === 'local') it.runIf(haveJupyter && chromiumAvailable())('Chromium opens Jupyter through the proxy from the session URL alone', async () => {
    const session = await startSession(s, 'jupyter');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(session.link);
      await page.waitForSelector('#notebook_list', { timeout: 60_000 });
      expect(new URL(page.url()).pathname).toBe(`/sessions/${session.id}/tree`);
      expect(await page.title()).toBe('Home Page - Select or create a notebook');
    } finally {
      await browser.close();
      await session.end();
    }
  }, 180_000);

  // Xpra's display server leaves the job's process group, which GridEngine's qdel kills
  // (unless the site sets ENABLE_ADDGRP_KILL): on the local scheduler and Slurm.
  if (system !== 'gridengine') it.runIf(schedulerUp && haveXpra)('Xpra: its HTML5 client page and websocket through the proxy; the client authenticates', async () => {
    const session = await startSession(s, 'xpra');
    try {
      const page = await fetch(`${s.url}/sessions/${session.id}/index.html`, { headers: { cookie: session.cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Xpra');
      if (chromiumAvailable()) {
        const browser = await launchChromium();
        try {
          const tab = await browser.newPage();
          const said: string[] = [];
          tab.on('console', (m) => said.push(m.text()));
          await tab.goto(session.link);
          // The client's own words once the password's challenge is answered and the server's hello is in.
          for (let i = 0; i < 300 && !said.some((t) => /accepted our connection/.test(t)); i++) await wait(100);
          expect(said.find((t) => /got hello: server version/.test(t))).toMatch(/accepted our connection/);
        } finally {
          await browser.close();
        }
      }
      const logs = (await (await fetch(`${s.url}/jobs/${session.id}/logs`)).json()) as { stdout: string; stderr: string };
      expect(`${logs.stdout}${logs.stderr}`).toMatch(/Handshake complete|authentication.*(success|passed)|client [0-9]+ .*connected|New .*connection/i);
    } finally {
      await session.end();
    }
  }, 180_000);
});
