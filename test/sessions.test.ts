import { connect } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ConfigFile } from '../src/config.js';
import { expectAllValid, statusLocationOf, statusOf, type StatusView } from './helpers/async.js';
import { expectException, get } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Interactive sessions through the local scheduler: a small websocket application
 * (test/apps/ws-echo.mjs) started as a job, reached only through the server's proxy.
 */

const ECHO = resolve('test/apps/ws-echo.mjs');
const PORTS: [number, number] = [19100, 19119];

export const echoApps = (extra: Record<string, unknown> = {}): NonNullable<ConfigFile['sessions']> => ({
  resources: [{ host: '127.0.0.1', port_range: PORTS }],
  apps: {
    echo: { cmd: [process.execPath, ECHO, '${host}', '${port}'], ready_line: 'ws-echo listening', timeout: 20, ...extra },
    never_ready: { cmd: [process.execPath, '-e', 'console.log("starting, never ready"); setInterval(() => {}, 1000)'], ready_line: 'ready!', timeout: 2 },
  },
});

/** Polls a status document until the session is ready (its message carries the URL) or the job ends. */
async function untilReady(location: string, timeoutMs = 30_000): Promise<StatusView[]> {
  const seen: StatusView[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = statusOf(await (await fetch(location)).text());
    if (seen.at(-1)?.xml !== view.xml) seen.push(view);
    if (/Session ready: /.test(view.message) || view.name === 'ProcessSucceeded' || view.name === 'ProcessFailed') return seen;
    if (Date.now() > deadline) throw new Error(`session not ready: ${seen.map((v) => `${v.name} ${v.message}`).join(' → ')}`);
    await wait(50);
  }
}

const linkOf = (view: StatusView): string => /Session ready: (\S+)/.exec(view.message)![1]!;

async function untilFinal(location: string, timeoutMs = 30_000): Promise<StatusView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = statusOf(await (await fetch(location)).text());
    if (view.name === 'ProcessSucceeded' || view.name === 'ProcessFailed') return view;
    if (Date.now() > deadline) throw new Error(`no final status: ${view.name} ${view.message}`);
    await wait(50);
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });
}

function echoOver(url: string, headers: Record<string, string> = {}): Promise<{ hello: unknown; echoed: string }> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url, { headers });
    let hello: unknown;
    ws.on('message', (data) => {
      if (hello === undefined) {
        hello = JSON.parse(String(data));
        ws.send('ping über proxy');
        return;
      }
      ws.close();
      done({ hello, echoed: String(data) });
    });
    ws.on('error', fail);
    ws.on('unexpected-response', (_req, res) => fail(new Error(`refused: ${res.statusCode}`)));
  });
}

describe('sessions through the local scheduler', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ sessions: echoApps({ idle_timeout: 600 }), jobs: { monitorInterval: 0.5 } });
  }, 60_000);
  afterAll(() => s?.close());

  const start = async (app = 'echo') => statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=${app}&storeExecuteResponse=true&status=true`)).text);

  it('Execute answers ProcessAccepted; once ready, ProcessStarted carries the session URL; the proxy serves HTTP and a websocket; Dismiss ends it and frees the port', async () => {
    const location = await start();
    const views = await untilReady(location);
    await expectAllValid(views);
    const ready = views.at(-1)!;
    expect(ready.name).toBe('ProcessStarted');
    const link = linkOf(ready);
    const id = /sessions\/([0-9a-f-]{36})\//.exec(link)![1]!;
    expect(link).toMatch(new RegExp(`^${s.url}/sessions/${id}/\\?session_secret=`));
    const job = (await s.services.store.get(id))!;
    expect(job.sessionHost).toBe('127.0.0.1');
    expect(job.sessionPort).toBeGreaterThanOrEqual(PORTS[0]);

    // Opened with the secret: a cookie scoped to the session, and the same page without it.
    const opened = await fetch(link, { redirect: 'manual' });
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe(`/sessions/${id}/`);
    const cookie = opened.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^wps-session-secret=[^;]+; Path=/sessions/${id}/; HttpOnly; SameSite=Lax$`));
    const page = await fetch(`${s.url}/sessions/${id}/some/page?x=1`, { headers: { cookie: `${cookie.split(';')[0]}; other=2` } });
    expect(page.status).toBe(200);
    const seen = (await page.json()) as { url: string; headers: Record<string, string> };
    // The prefix is stripped, the secret's cookie kept from the application, the rest passed on.
    expect(seen.url).toBe('/some/page?x=1');
    expect(seen.headers.cookie).toBe('other=2');
    expect(seen.headers['x-forwarded-prefix']).toBe(`/sessions/${id}`);

    const ws = await echoOver(`${link.replace(/^http/, 'ws').replace('/?', '/ws?')}`);
    expect(ws.hello).toEqual({ hello: '/ws' });
    expect(ws.echoed).toBe('ping über proxy');

    // Without the secret, or with another: as if there were no session.
    expect((await fetch(`${s.url}/sessions/${id}/`)).status).toBe(404);
    expect((await fetch(`${s.url}/sessions/${id}/?session_secret=not-it`)).status).toBe(404);

    const dismissed = await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${id}`);
    expect(dismissed.status).toBe(200);
    expect((await untilFinal(location)).name).toBe('ProcessFailed');
    for (let i = 0; i < 100 && (await listening(job.sessionPort!)); i++) await wait(100);
    expect(await listening(job.sessionPort!)).toBe(false);
    expect((await fetch(`${s.url}/sessions/${id}/`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(404);
  }, 60_000);

  it('an application that never prints its ready line fails with the launcher’s words and the last lines of its log', async () => {
    const final = await untilFinal(await start('never_ready'));
    expect(final.name).toBe('ProcessFailed');
    await expectAllValid([final]);
    expect(final.xml).toMatch(/Session did not start before timeout expired\. Check session logs\.[^<]*starting, never ready/);
  }, 30_000);

  it('a session cannot run synchronously', async () => {
    await expectException(await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=echo`), 'InvalidParameterValue', 'storeExecuteResponse', 400);
  });
});
