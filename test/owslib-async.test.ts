import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({}, undefined, { store: 'pglite' });
});
afterAll(() => s.close());

describe('OWSLib, asynchronously', () => {
  it('execute(mode=ASYNC) and monitoring end in ProcessSucceeded, percentCompleted rising', async () => {
    const out = JSON.parse((await runPython('test/interop/owslib_async.py', [s.wps, '2'])).trim().split('\n').pop()!);
    expect(out.statusLocation).toMatch(new RegExp(`^${s.url}/outputs/`));
    expect(out.status).toBe('ProcessSucceeded');
    expect(out.succeeded).toBe(true);
    expect(out.outputs).toEqual({ sleep_output: ['done sleeping'] });
    expect(out.seen[0].status).toBe('ProcessAccepted');
    const percents = out.seen.filter((v: { status: string }) => v.status === 'ProcessStarted').map((v: { percent: number }) => v.percent);
    expect(new Set(percents).size).toBeGreaterThanOrEqual(2);
    expect(percents).toEqual([...percents].sort((a: number, b: number) => a - b));
  });
});
