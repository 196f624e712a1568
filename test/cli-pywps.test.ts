import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPyWps, type PyWps } from './helpers/pywps.js';
import { tempDir } from './helpers/temp-dir.js';

const cacheHome = tempDir('wps-cli-cache-');
const wps = (url: string, args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ['dist/src/cli/wps.js', ...args], { env: { ...process.env, WPS_SERVICE: url, XDG_CACHE_HOME: cacheHome } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

describe('the wps command against another server: PyWPS 4.5.2 (Debian)', () => {
  let peer: PyWps;
  beforeAll(async () => {
    peer = await startPyWps();
  }, 30_000);
  afterAll(() => peer.close());

  it('lists and describes its processes', async () => {
    expect((await wps(peer.wps, ['-h'])).stdout).toMatch(/PyWPS Processing Service .* offers:\n {2}hello +Say Hello/);
    expect((await wps(peer.wps, ['sleep', '-h'])).stdout).toMatch(/--delay {2}Delay: float; one of 0\.\.60; default 10/);
  });

  it('runs hello synchronously and sleep asynchronously with progress', async () => {
    expect(await wps(peer.wps, ['hello', '--name', 'Birdy'])).toMatchObject({ code: 0, stdout: 'output: Hello Birdy\n' });
    const r = await wps(peer.wps, ['sleep', '--delay', '1', '--async', '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string });
    expect(events.some((e) => e.status === 'ProcessStarted')).toBe(true);
    expect(events[events.length - 1]).toMatchObject({ event: 'result', status: 'ProcessSucceeded', outputs: { sleep_output: 'done sleeping' } });
  });

  it('shows PyWPS’s own exception code for an invalid value', async () => {
    const r = await wps(peer.wps, ['inout', '--int-in', '11', '--bool-in', 'true', '--float-in', '1', '--string-in', 'rock']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^wps: the server refused: InvalidParameterValue/);
  });
});
