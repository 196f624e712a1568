import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseXml } from './helpers/http.js';
import { freePort } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGTERM');
  child = undefined;
});

/**
 * Starts the built server the way `npm start` does and waits for it to listen. Its
 * embedded database is created as at a first start, unless `seeded`: then it is a copy of
 * the migrated template (creating one takes seconds, many more in a busy parallel suite).
 */
async function serve(env: Record<string, string>, seeded = true): Promise<void> {
  const dataDir = tempDir('wps-start-');
  if (seeded) await cp(inject('pgliteTemplate'), join(dataDir, 'db'), { recursive: true });
  child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve'], {
    env: { ...process.env, WPS_LOG_LEVEL: 'info', WPS_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('"listening"')) resolve();
    });
    child!.stderr!.on('data', (d) => (out += d));
    child!.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

describe('the server command', () => {
  it('serves WPS at http://localhost:PORT/wps, creating its database at the first start', async () => {
    const port = await freePort();
    await serve({ PORT: String(port) }, false);
    const res = await fetch(`http://localhost:${port}/wps?service=WPS&request=GetCapabilities`);
    expect(res.status).toBe(200);
    const op = parseXml(await res.text()).Capabilities.OperationsMetadata.Operation[2];
    expect(op.DCP.HTTP.Post['@href']).toBe(`http://localhost:${port}/wps`);
  }, 120_000);

  it('advertises the configured public base URL', async () => {
    const port = await freePort();
    await serve({ PORT: String(port), WPS_BASE_URL: 'https://wps.example.org/birdhouse' });
    const res = await fetch(`http://127.0.0.1:${port}/wps?service=WPS&request=GetCapabilities`);
    const op = parseXml(await res.text()).Capabilities.OperationsMetadata.Operation[0];
    expect(op.DCP.HTTP.Get['@href']).toBe('https://wps.example.org/birdhouse/wps?');
  });

  it('migrates the embedded database on demand, and says when it is up to date', async () => {
    const env = { ...process.env, WPS_DATA_DIR: tempDir('wps-migrate-') };
    const run = () =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['dist/src/cli/main.js', 'migrate'], { env }, (err, out) => (err ? reject(err) : resolve(out))),
      );
    expect(await run()).toBe('applied: 001_jobs, 002_waiting_count, 003_job_counts, 004_jobs_newest_first, 005_offerings, 006_job_owners, 007_user_usage, 008_user_usage_apart, 009_sessions\n');
    expect(await run()).toBe('up to date\n');
  }, 120_000);

  it('answers --help with the usage, without doing the command, and refuses stray arguments', async () => {
    const dataDir = tempDir('wps-help-');
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) =>
        execFile(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, WPS_DATA_DIR: dataDir } }, (err, out, errOut) =>
          resolve({ code: (err as { code?: number } | null)?.code ?? 0, out, err: errOut }),
        ),
      );
    const help = await run(['migrate', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: wps-server <command>/);
    expect(existsSync(join(dataDir, 'db'))).toBe(false);
    const stray = await run(['migrate', 'now']);
    expect(stray.code).toBe(2);
    expect(stray.err).toMatch(/^unexpected argument: now\nusage: wps-server/);
    expect(existsSync(join(dataDir, 'db'))).toBe(false);
  });

  it('exits with a clear message on bad configuration', async () => {
    const p = spawn(process.execPath, ['dist/src/cli/main.js', 'serve'], { env: { ...process.env, PORT: 'nope' } });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => p.once('exit', r));
    expect(code).toBe(1);
    expect(err).toBe('configuration error: PORT: not a port: nope\n');
  });

  it('refuses to listen beyond loopback without auth, and listens there with auth "none"', async () => {
    const p = spawn(process.execPath, ['dist/src/cli/main.js', 'serve'], { env: { ...process.env, HOST: '0.0.0.0', PORT: String(await freePort()) } });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    expect(await new Promise((r) => p.once('exit', r))).toBe(1);
    expect(err).toMatch(/^configuration error: server.host 0.0.0.0 is reachable from other machines and no auth is configured: configure auth, or set it to "none" \(WPS_AUTH=none\) to serve without it\n$/);
    await serve({ HOST: '0.0.0.0', PORT: String(await freePort()), WPS_AUTH: 'none' });
  });
});
