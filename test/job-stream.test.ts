import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOgcValid } from './helpers/ogcapi.js';
import { startSecondServer, startTestServer, type TestServer } from './helpers/server.js';

/**
 * A job followed as Server-Sent Events (GET /jobs/{id} with Accept: text/event-stream):
 * one event per change until it ends, resumable with Last-Event-ID, on any server.
 */

interface Event {
  id: number;
  event: string;
  data: Record<string, any>;
}

/** Reads a job's event stream to its end. */
async function follow(url: string, headers: Record<string, string> = {}): Promise<Event[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))!.slice(name.length + 2);
      return { id: Number(field('id')), event: field('event'), data: JSON.parse(field('data')) };
    });
}

const submit = async (s: TestServer, delay: number) => {
  const res = await fetch(`${s.url}/processes/sleep/execution`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ inputs: { delay } }) });
  return ((await res.json()) as { jobID: string }).jobID;
};

describe('job event streams', () => {
  let s: TestServer;
  let other: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    s = await startTestServer({}, undefined, { queue: 'bullmq' });
    other = await startSecondServer(s);
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await s?.close();
  });

  it('sends the job now, then each change in order, and ends with its end', async () => {
    const id = await submit(s, 1);
    const events = await follow(`${s.url}/jobs/${id}`);
    expect(events.at(-1)!.event).toBe('successful');
    expect(events.some((e) => e.event === 'running')).toBe(true);
    for (const e of events) expectOgcValid('statusInfo', e.data);
    const ids = events.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const progress = events.map((e) => e.data.progress as number);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  }, 40_000);

  it('resumes from Last-Event-ID: what changed since, or nothing when the client has seen the end', async () => {
    const id = await submit(s, 0.2);
    const all = await follow(`${s.url}/jobs/${id}`);
    const end = all.at(-1)!;
    expect(await follow(`${s.url}/jobs/${id}`, { 'last-event-id': String(end.id - 1) })).toEqual([end]);
    expect(await follow(`${s.url}/jobs/${id}`, { 'last-event-id': String(end.id) })).toEqual([]);
  }, 40_000);

  it('works on a server that does not run the job (changes arrive over Redis)', async () => {
    const id = await submit(s, 1);
    const events = await follow(`${other.url}/jobs/${id}`);
    expect(events.at(-1)!.event).toBe('successful');
    expect(events.length).toBeGreaterThan(1);
  }, 40_000);
});
