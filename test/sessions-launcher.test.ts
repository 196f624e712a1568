import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The ParaViewWeb launcher's REST API, as wslink's launcher client speaks it: a JSON
 * POST sent as text/plain, GET and DELETE of {endpoint}/{id}, the launcher's fields and
 * its error words; and wslink's own ProcessLauncher, unchanged, in Chromium.
 */

const ECHO = resolve('test/apps/ws-echo.mjs');
const echo = (extra: string[] = []) => [process.execPath, ECHO, '${host}', '${port}', ...extra];

const launch = (s: TestServer, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}/paraview`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

function echoOnce(url: string): Promise<string> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url);
    let greeted = false;
    ws.on('message', (data) => {
      if (!greeted) {
        greeted = true;
        ws.send('hello launcher');
        return;
      }
      ws.close();
      done(String(data));
    });
    ws.on('error', fail);
    ws.on('unexpected-response', (_req, res) => fail(new Error(`refused: ${res.statusCode}`)));
  });
}

describe('the launcher API', () => {
  let s: TestServer;
  let mapping: string;
  beforeAll(async () => {
    mapping = join(await mkdtemp(join(tmpdir(), 'wps-proxy-map-')), 'proxy-mapping.txt');
    s = await startTestServer({
      // Each session holds one of the local scheduler's slots while it lasts.
      jobs: { parallel: 6 },
      sessions: {
        resources: [{ host: '127.0.0.1', port_range: [19150, 19169] }],
        sessionURL: 'ws://${host}:${port}/ws',
        fields: ['host', 'port', 'application', 'mode'],
        proxy_file: mapping,
        timeout: 15,
        sanitize: { mode: { type: 'inList', list: ['fast', 'slow'], default: 'fast' } },
        apps: {
          echo: { cmd: echo(), ready_line: 'ws-echo listening' },
          keyed: { cmd: echo(['--authKey', '${secret}']), ready_line: 'ws-echo listening' },
          picky: {
            cmd: echo(['${mode}', '${color}']),
            ready_line: 'ws-echo listening',
            sanitize: { color: { type: 'regexp', regexp: '^[a-z]+$', default: 'grey' } },
          },
          never_ready: { cmd: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], ready_line: 'never', timeout: 1 },
        },
      },
    });
  }, 60_000);
  afterAll(() => s?.close());

  it('POST (text/plain JSON) answers once ready with id, sessionURL, sessionManagerURL and the configured fields; the sessionURL works as given; GET and DELETE follow; the mapping file follows', async () => {
    const res = await launch(s, { application: 'echo' });
    expect(res.status).toBe(200);
    const session = (await res.json()) as Record<string, unknown>;
    const id = session.id as string;
    expect(Object.keys(session).sort()).toEqual(['application', 'host', 'id', 'port', 'sessionManagerURL', 'sessionURL']);
    expect(session).toMatchObject({ application: 'echo', host: '127.0.0.1', sessionManagerURL: `${s.url}/paraview/${id}` });
    expect(session.sessionURL).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/sessions/${id}/ws\\?session_secret=[^&]+$`));
    expect(await echoOnce(session.sessionURL as string)).toBe('hello launcher');
    expect(readFileSync(mapping, 'utf8')).toContain(`${id} 127.0.0.1:${session.port}\n`);

    const got = await fetch(`${s.url}/paraview/${id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(session);
    const deleted = await fetch(`${s.url}/paraview/${id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(((await deleted.json()) as { id: string }).id).toBe(id);
    for (let i = 0; i < 50 && readFileSync(mapping, 'utf8').includes(id); i++) await wait(50);
    expect(readFileSync(mapping, 'utf8')).not.toContain(id);
    const gone = await fetch(`${s.url}/paraview/${id}`);
    expect(gone.status).toBe(400);
    expect(await gone.json()).toEqual({ error: `No session with id: ${id}` });
    expect((await fetch(`${s.url}/paraview/${id}`, { method: 'DELETE' })).status).toBe(404);
  }, 30_000);

  it('gives the secret when the command uses it, and passes clients’ values through the sanitize rules (a refused one becomes the default)', async () => {
    const keyed = (await (await launch(s, { application: 'keyed' })).json()) as Record<string, string>;
    expect(keyed.secret).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(keyed.sessionURL).toContain(`session_secret=${encodeURIComponent(keyed.secret!)}`);
    const picky = (await (await launch(s, { application: 'picky', mode: 'rm -rf /', color: 'Blue; reboot' })).json()) as Record<string, string>;
    expect(picky.mode).toBe('fast');
    const opened = await fetch(picky.sessionURL!.replace(/^ws/, 'http').replace('/ws?', '/argv?'), { redirect: 'manual' });
    const page = await fetch(`${s.url}${opened.headers.get('location')}`, { headers: { cookie: opened.headers.get('set-cookie')!.split(';')[0]! } });
    const seen = (await page.json()) as { argv: string[] };
    expect(seen.argv).toEqual(['fast', 'grey']);
    for (const id of [keyed.id, picky.id]) await fetch(`${s.url}/paraview/${id}`, { method: 'DELETE' });
  }, 30_000);

  it('refuses with the launcher’s status codes and words', async () => {
    const error = async (res: Response) => [res.status, ((await res.json()) as { error: string }).error] as const;
    expect(await error(await launch(s, {}))).toEqual([400, 'The request is not complete']);
    expect(await error(await launch(s, 'not json'))).toEqual([400, 'The request is not complete']);
    expect(await error(await launch(s, { application: 'nothing-like-it' }))).toEqual([404, 'No application nothing-like-it']);
    expect(await error(await launch(s, { application: 'never_ready' }))).toEqual([503, 'Session did not start before timeout expired. Check session logs.']);
    expect(await error(await fetch(`${s.url}/paraview/not-an-id`))).toEqual([400, 'No session with id: not-an-id']);
    // A page of another site cannot start sessions in its visitor's name.
    expect(await error(await launch(s, { application: 'echo' }, { 'sec-fetch-site': 'cross-site' }))).toEqual([403, 'POST /paraview is not accepted from a page on another site']);
  }, 30_000);

  it.runIf(chromiumAvailable())('wslink’s ProcessLauncher, unchanged, starts a session in Chromium, whose websocket answers', async () => {
    const browser = await launchChromium();
    try {
      // A document of the server's own origin (as a ParaViewWeb front end is served beside
      // its launcher), with wslink's bundle added; its CSP (no scripts) set aside for that.
      const page = await (await browser.newContext({ bypassCSP: true })).newPage();
      await page.goto(`${s.url}/health`);
      await page.addScriptTag({ content: readFileSync(resolve('node_modules/wslink/dist/wslink.js'), 'utf8') });
      const result = await page.evaluate(
        () =>
          new Promise<{ id: string; echoed: string }>((done, fail) => {
            const { ProcessLauncher } = (globalThis as unknown as { wslink: { ProcessLauncher: { newInstance(o: unknown): any } } }).wslink;
            const launcher = ProcessLauncher.newInstance({ endPoint: '/paraview' });
            launcher.onError((xhr: { status: number }) => fail(new Error(`launcher error ${xhr.status}`)));
            launcher.onProcessReady((session: { id: string; sessionURL: string }) => {
              // The browser's own WebSocket (the name alone would be this file's import of ws).
              const ws = new (globalThis as unknown as { WebSocket: new (url: string) => { send(m: string): void; close(): void; onmessage: (e: { data: unknown }) => void; onerror: () => void } }).WebSocket(session.sessionURL);
              let greeted = false;
              ws.onmessage = (e) => {
                if (!greeted) {
                  greeted = true;
                  ws.send('from the browser');
                  return;
                }
                ws.close();
                done({ id: session.id, echoed: String(e.data) });
              };
              ws.onerror = () => fail(new Error('websocket failed'));
            });
            launcher.start({ application: 'echo', launcherRetry: [500, 1000] });
          }),
      );
      expect(result.echoed).toBe('from the browser');
      expect((await fetch(`${s.url}/paraview/${result.id}`, { method: 'DELETE' })).status).toBe(200);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('the launcher API when the pool is taken', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ sessions: { resources: [{ host: '127.0.0.1', port_range: [19170, 19170] }], apps: { echo: { cmd: echo(), ready_line: 'ws-echo listening' } } } });
  }, 60_000);
  afterAll(() => s?.close());

  it('answers 503 "All the resources are currently taken" until a session ends', async () => {
    const first = (await (await launch(s, { application: 'echo' })).json()) as { id: string };
    const refused = await launch(s, { application: 'echo' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: 'All the resources are currently taken' });
    expect((await fetch(`${s.url}/paraview/${first.id}`, { method: 'DELETE' })).status).toBe(200);
    const again = await launch(s, { application: 'echo' });
    expect(again.status).toBe(200);
    await fetch(`${s.url}/paraview/${((await again.json()) as { id: string }).id}`, { method: 'DELETE' });
  }, 30_000);
});
