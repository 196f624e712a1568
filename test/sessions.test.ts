import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ConfigFile } from '../src/config.js';
import { defineSession, literalInput } from '../src/index.js';
import { expectAllValid, statusLocationOf } from './helpers/async.js';
import { linkOf, listening, untilFinal, untilReady } from './helpers/sessions.js';
import { expectException, get } from './helpers/http.js';
import { startSecondServer, startTestServer, type TestServer } from './helpers/server.js';

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
    const page = await fetch(`${s.url}/sessions/${id}/some/page?x=1`, { headers: { cookie: `${cookie.split(';')[0]}; other=2`, authorization: 'Bearer a-token-of-this-server' } });
    expect(page.status).toBe(200);
    const seen = (await page.json()) as { url: string; headers: Record<string, string> };
    // The prefix is stripped, the secret's cookie kept from the application, the rest passed on.
    expect(seen.url).toBe('/some/page?x=1');
    expect(seen.headers.cookie).toBe('other=2');
    expect(seen.headers['x-forwarded-prefix']).toBe(`/sessions/${id}`);
    // Bearer credentials are the server's, never the application's; its own scheme passes.
    expect(seen.headers.authorization).toBeUndefined();
    const own = await fetch(`${s.url}/sessions/${id}/`, { headers: { cookie: cookie.split(';')[0]!, authorization: 'token its-own' } });
    expect(((await own.json()) as { headers: Record<string, string> }).headers.authorization).toBe('token its-own');

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

  it('the jobs API links a ready session (rel session) for its owner', async () => {
    const location = await start();
    const link = linkOf((await untilReady(location)).at(-1)!);
    const id = /sessions\/([0-9a-f-]{36})\//.exec(link)![1]!;
    const info = (await (await fetch(`${s.url}/jobs/${id}`)).json()) as { status: string; links: { rel: string; href: string }[] };
    expect(info.status).toBe('running');
    expect(info.links.find((l) => l.rel === 'session')?.href).toBe(link);
    expect((await fetch(`${s.url}/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await untilFinal(location)).name).toBe('ProcessFailed');
  }, 30_000);

  it('never an open proxy: the target is the session’s own address, whatever the path, Host or request line say', async () => {
    const location = await start();
    const link = linkOf((await untilReady(location)).at(-1)!);
    const id = /sessions\/([0-9a-f-]{36})\//.exec(link)![1]!;
    const secret = new URL(link).searchParams.get('session_secret')!;
    const cookie = `wps-session-secret=${encodeURIComponent(secret)}`;
    const port = new URL(s.url).port;
    // Raw requests: an absolute URL naming another host and port, a Host header naming another.
    const raw = (line: string, host: string) =>
      new Promise<string>((done) => {
        const c = connect({ host: '127.0.0.1', port: Number(port) });
        let got = '';
        c.on('data', (d) => (got += d));
        c.on('end', () => done(got));
        c.write(`${line}\r\nHost: ${host}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
      });
    for (const [line, host] of [
      [`GET http://127.0.0.1:5432/sessions/${id}/x HTTP/1.1`, '127.0.0.1:5432'],
      [`GET /sessions/${id}/x HTTP/1.1`, 'example.org:22'],
    ] as const) {
      const answer = await raw(line, host);
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(answer).toContain('"app":"ws-echo"');
    }
    // A body on a GET stays its body (chunked framing kept): never a request of its own.
    const smuggled = 'GET /admin HTTP/1.1\r\nHost: x\r\n\r\n';
    const carried = await new Promise<string>((done) => {
      const c = connect({ host: '127.0.0.1', port: Number(port) });
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => done(got));
      c.write(`GET /sessions/${id}/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`);
    });
    expect(carried.match(/"app":"ws-echo"/g)).toHaveLength(1);
    expect(carried).toContain('"body":"GET /admin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"');
    // Encoded paths stay paths of the same application.
    const encoded = await fetch(`${s.url}/sessions/${id}/..%2F..%2Fwps%3Frequest=GetCapabilities`, { headers: { cookie } });
    expect(((await encoded.json()) as { url: string }).url).toBe('/..%2F..%2Fwps%3Frequest=GetCapabilities');
    for (const path of ['/sessions/%2e%2e/wps', `/sessions/${id}@127.0.0.1:5432/`, `/sessions/${id.toUpperCase()}/`, '/sessions/../wps']) {
      expect((await fetch(`${s.url}${path}`, { headers: { cookie } })).status, path).not.toBe(200);
    }
    // A row pointing outside the pools (the server's own port) is not followed.
    const job = (await s.services.store.get(id))!;
    await s.services.db('jobs').where({ id }).update({ session_port: Number(port) });
    await wait(2100); // the proxy's route cache
    expect((await fetch(`${s.url}/sessions/${id}/`, { headers: { cookie } })).status).toBe(404);
    await s.services.db('jobs').where({ id }).update({ session_port: job.sessionPort });
    // A runner cannot claim an address outside the pools, nor one another session holds.
    const spec = JSON.parse(readFileSync(join(s.config.jobsDir, id, 'job.json'), 'utf8')) as { secret: string };
    const report = (body: unknown) =>
      fetch(`${s.config.jobs.internalUrl}/internal/jobs/${id}/report`, { method: 'POST', headers: { authorization: `Bearer ${spec.secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await report({ event: 'session', host: '127.0.0.1', port: Number(port) })).status).toBe(409);
    const other = await start();
    const otherId = /sessions\/([0-9a-f-]{36})\//.exec(linkOf((await untilReady(other)).at(-1)!))![1]!;
    const otherSpec = JSON.parse(readFileSync(join(s.config.jobsDir, otherId, 'job.json'), 'utf8')) as { secret: string };
    const claim = await fetch(`${s.config.jobs.internalUrl}/internal/jobs/${otherId}/report`, {
      method: 'POST',
      headers: { authorization: `Bearer ${otherSpec.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'session', host: '127.0.0.1', port: job.sessionPort }),
    });
    expect(claim.status).toBe(409);
    for (const l of [location, other]) await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${/([0-9a-f-]{36})\.xml$/.exec(l)![1]}`);
  }, 60_000);

  it('a session cannot run synchronously', async () => {
    await expectException(await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=echo`), 'InvalidParameterValue', 'storeExecuteResponse', 400);
  });
});

describe('how sessions end', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({
      sessions: {
        resources: [{ host: '127.0.0.1', port_range: [19120, 19139] }],
        apps: {
          idle: { cmd: [process.execPath, ECHO, '${host}', '${port}'], ready_line: 'ws-echo listening', idle_timeout: 2 },
          brief: { cmd: [process.execPath, '-e', 'console.log("up"); setTimeout(() => process.exit(3), 1000)'], ready_line: '^up$' },
          short: { cmd: [process.execPath, ECHO, '${host}', '${port}'], ready_line: 'ws-echo listening', wall_time: 3 },
        },
      },
      jobs: { monitorInterval: 0.25, wallGrace: 1 },
    });
  }, 60_000);
  afterAll(() => s?.close());

  const run = async (app: string) => {
    const location = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=${app}&storeExecuteResponse=true&status=true`)).text);
    const ready = (await untilReady(location)).at(-1)!;
    const final = await untilFinal(location);
    await expectAllValid([final]);
    return { ready, final };
  };

  it('after its idle timeout without traffic through the proxy: ProcessSucceeded, its URL the output, its port free', async () => {
    const { ready, final } = await run('idle');
    const link = linkOf(ready);
    expect(final.name).toBe('ProcessSucceeded');
    expect(final.message).toBe('The session ended after 2 s without traffic');
    expect(final.xml).toContain(`<wps:LiteralData dataType="anyURI">${link.split('?')[0]}</wps:LiteralData>`);
    const port = (await s.services.store.get(/sessions\/([0-9a-f-]{36})\//.exec(link)![1]!))!.sessionPort!;
    for (let i = 0; i < 50 && (await listening(port)); i++) await wait(100);
    expect(await listening(port)).toBe(false);
  }, 30_000);

  it('when the application exits: ProcessSucceeded, saying how', async () => {
    const { final } = await run('brief');
    expect(final.name).toBe('ProcessSucceeded');
    expect(final.message).toBe('The session ended: the application exited with status 3');
  }, 30_000);

  it('at its wall time: ProcessSucceeded, saying so', async () => {
    const { final } = await run('short');
    expect(final.name).toBe('ProcessSucceeded');
    expect(final.message).toBe('The session reached its wall time of 3 s');
  }, 30_000);
});

describe('owned sessions (authentication on)', () => {
  const ALICE = 'alice-token-0123456789abcdef';
  const BOB = 'bob-token-0123456789abcdef01';
  const ADMIN = 'admin-token-0123456789abcdef';
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({
      auth: { tokens: [{ user: 'alice', token: ALICE }, { user: 'bob', token: BOB }, { user: 'root-admin', token: ADMIN, admin: true }] },
      sessions: { resources: [{ host: '127.0.0.1', port_range: [19140, 19149] }], apps: echoApps().apps },
    });
  }, 60_000);
  afterAll(() => s?.close());
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it('the owner and an admin get through by their tokens (which the application never sees); another user does not', async () => {
    const location = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=echo&storeExecuteResponse=true&status=true`, as(ALICE))).text);
    const ready = (await untilReady(location)).at(-1)!;
    // With authentication on, a status document is a capability URL found from the job id: no secret in it.
    expect(ready.message).not.toContain('session_secret');
    const id = /sessions\/([0-9a-f-]{36})\//.exec(linkOf(ready))![1]!;
    const page = (token: string) => fetch(`${s.url}/sessions/${id}/who`, { headers: as(token) });
    const owner = await page(ALICE);
    expect(owner.status).toBe(200);
    expect(((await owner.json()) as { headers: Record<string, string> }).headers.authorization).toBeUndefined();
    expect((await page(ADMIN)).status).toBe(200);
    expect((await page(BOB)).status).toBe(404);
    expect((await fetch(`${s.url}/sessions/${id}/who`)).status).toBe(404);
    const ws = await echoOver(`ws://127.0.0.1:${new URL(s.url).port}/sessions/${id}/ws`, as(ALICE));
    expect(ws.echoed).toBe('ping über proxy');
    await expect(echoOver(`ws://127.0.0.1:${new URL(s.url).port}/sessions/${id}/ws`, as(BOB))).rejects.toThrow(/refused: 404/);
    // Bob can neither list nor end it.
    expect((await fetch(`${s.url}/jobs/${id}`, { method: 'DELETE', headers: as(BOB) })).status).toBe(404);
    expect((await fetch(`${s.url}/jobs/${id}`, { method: 'DELETE', headers: as(ALICE) })).status).toBe(200);
  }, 30_000);
});

describe('a session declared in a process package (defineSession)', () => {
  let s: TestServer;
  beforeAll(async () => {
    const greeter = defineSession({
      identifier: 'greeter',
      title: 'A greeting application',
      inputs: [literalInput('greeting', { title: 'Greeting', dataType: 'string', allowedValues: ['hello', 'hi'], default: 'hello' })],
      cmd: [process.execPath, ECHO, '${host}', '${port}', '${greeting}'],
      readyLine: 'ws-echo listening',
      idleTimeoutSeconds: 60,
    });
    s = await startTestServer({ sessions: { resources: [{ host: '127.0.0.1', port_range: [19180, 19189] }] } }, [greeter]);
  }, 60_000);
  afterAll(() => s?.close());

  it('is described like any process, refuses a value it does not allow, and starts its application with the one it does', async () => {
    const described = await get(`${s.wps}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=greeter`);
    expect(described.text).toContain('<ows:Identifier>session_url</ows:Identifier>');
    await expectException(await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=greeter&storeExecuteResponse=true&DataInputs=greeting=rm`), 'InvalidParameterValue', 'greeting', 400);
    const location = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=greeter&storeExecuteResponse=true&status=true&DataInputs=greeting=hi`)).text);
    const link = linkOf((await untilReady(location)).at(-1)!);
    const opened = await fetch(link, { redirect: 'manual' });
    const page = await fetch(`${s.url}${opened.headers.get('location')}`, { headers: { cookie: opened.headers.get('set-cookie')!.split(';')[0]! } });
    expect(((await page.json()) as { argv: string[] }).argv).toEqual(['hi']);
  }, 30_000);
});

describe('sessions behind several servers', () => {
  let s: TestServer;
  let other: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    const sessions = { resources: [{ host: '127.0.0.1', port_range: [19190, 19199] as [number, number] }], apps: echoApps().apps };
    s = await startTestServer({ sessions }, undefined, { queue: 'bullmq' });
    other = await startSecondServer(s, { sessions });
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await s?.close();
  });

  it('any server proxies any session (the route is in the store), and forgets it when it ends elsewhere', async () => {
    const location = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=echo&storeExecuteResponse=true&status=true`)).text);
    const link = linkOf((await untilReady(location)).at(-1)!);
    const id = /sessions\/([0-9a-f-]{36})\//.exec(link)![1]!;
    const viaOther = link.replace(s.url, other.url);
    const opened = await fetch(viaOther, { redirect: 'manual' });
    expect(opened.status).toBe(303);
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(`${other.url}/sessions/${id}/elsewhere`, { headers: { cookie } });
    expect(((await page.json()) as { url: string }).url).toBe('/elsewhere');
    expect((await echoOver(viaOther.replace(/^http/, 'ws').replace('/?', '/ws?'))).echoed).toBe('ping über proxy');
    // Ended through the other server: the dispatching one stops it, both forget the route.
    expect((await get(`${other.url}/wps?service=WPS&request=Dismiss&version=1.0.0&jobId=${id}`)).status).toBe(200);
    expect((await untilFinal(location)).name).toBe('ProcessFailed');
    expect((await fetch(`${other.url}/sessions/${id}/`, { headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${s.url}/sessions/${id}/`, { headers: { cookie } })).status).toBe(404);
  }, 60_000);
});
