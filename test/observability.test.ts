import { rm } from 'node:fs/promises';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { spawnServer, type ChildServer } from './helpers/child-server.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/** The value of one series in a Prometheus text exposition. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',').filter(Boolean);
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe('metrics and readiness', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  it('/metrics counts requests by operation and code, jobs by state, queue depth and scheduler commands', async () => {
    await fetch(`${s.wps}?service=WPS&request=GetCapabilities`);
    await fetch(`${s.wps}?service=WPS&request=GetCapabilities`);
    await fetch(`${s.wps}?service=WPS&request=Nope`);
    const r = await fetch(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=m&storeExecuteResponse=true`);
    await followStatus(statusLocationOf(await r.text()));
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(series(text, 'wps_requests_total', { operation: 'GetCapabilities', code: '200' })).toBe(2);
    expect(series(text, 'wps_requests_total', { operation: 'unparsed', code: '501' })).toBe(1);
    expect(series(text, 'wps_requests_total', { operation: 'Execute', code: '200' })).toBe(1);
    expect(series(text, 'wps_jobs', { state: 'succeeded' })).toBe(1);
    expect(series(text, 'wps_jobs', { state: 'accepted' })).toBe(0);
    expect(series(text, 'wps_queue_depth')).toBe(0);
    expect(series(text, 'wps_scheduler_command_duration_seconds_count', { scheduler: 'local', command: 'submit' })).toBe(1);
    expect(series(text, 'wps_request_duration_seconds_count', { operation: 'GetCapabilities' })).toBe(2);
    expect(text).toMatch(/^# TYPE wps_requests_total counter$/m);
  });

  it('a fresh server is ready before its first job: it made its storage and job directories', async () => {
    const fresh = await startTestServer();
    try {
      const res = await fetch(`${fresh.url}/ready`);
      expect(await res.json()).toMatchObject({ status: 'ready' });
      expect(res.status).toBe(200);
    } finally {
      await fresh.close();
    }
  });

  it('/ready checks database, queue, storage and schedulers; a lost storage directory makes it 503', async () => {
    const ok = await fetch(`${s.url}/ready`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, queue: { ok: true }, storage: { ok: true }, schedulers: { ok: true } } });
    await rm(s.config.storageDir, { recursive: true, force: true });
    const down = await fetch(`${s.url}/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'not ready', checks: { storage: { ok: false, error: expect.stringMatching(/ENOENT/) } } });
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});

describe('structured logs', () => {
  let server: ChildServer | undefined;
  afterEach(() => server?.stop());

  it('follow a job by its id through server, dispatcher and runner', async () => {
    const port = await freePort();
    server = await spawnServer({ PORT: String(port), WPS_DATA_DIR: tempDir('wps-logs-'), WPS_BASE_URL: `http://127.0.0.1:${port}`, WPS_LOG_LEVEL: 'info' });
    const r = await fetch(`http://127.0.0.1:${port}/wps?service=WPS&request=Execute&version=1.0.0&identifier=show_error&storeExecuteResponse=true`);
    const location = statusLocationOf(await r.text());
    const jobId = /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
    await followStatus(location);
    let mine: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && mine.length < 3; i++) {
      await wait(100);
      mine = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.jobId === jobId);
    }
    const msgs = mine.map((e) => e.msg);
    expect(msgs).toEqual(expect.arrayContaining(['job submitted', 'job started', 'job finished']));
    const finished = mine.find((e) => e.msg === 'job finished')!;
    expect(finished).toMatchObject({ role: 'runner', state: 'failed', error: 'This process failed intentionally.', level: 40 });
    expect(typeof finished.time).toBe('number');
  });
});
