import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/storage/atomic-write.js';
import { OutputStore } from '../src/storage/output-store.js';
import { tempDir } from './helpers/temp-dir.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

describe('the outputs URL', () => {
  it('never serves a mix of two versions of a file being replaced', async () => {
    const id = randomUUID();
    const path = s.services.publisher.statusPath(id);
    const versions = ['<short/>', `<long>${'x'.repeat(50_000)}</long>`, `<medium>${'y'.repeat(5_000)}</medium>`];
    await writeFileAtomic(path, versions[0]!);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) await writeFileAtomic(path, versions[i % versions.length]!);
    })();
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const res = await fetch(s.services.publisher.statusLocation(id));
      const body = await res.text();
      expect(versions).toContain(body);
      seen.add(body);
    }
    writing = false;
    await writer;
    expect(seen.size).toBeGreaterThan(1);
  });

  it('serves only regular files reached without a symbolic link', async () => {
    const root = s.storageDir;
    const doc = s.services.publisher.statusPath(randomUUID());
    await writeFileAtomic(doc, '<ok/>');
    const name = doc.slice(root.length + 1);
    expect((await fetch(`${s.url}/outputs/${name}`)).status).toBe(200);
    symlinkSync('/etc/passwd', join(root, 'passwd.xml'));
    symlinkSync('/etc', join(root, 'etc'));
    symlinkSync(doc, join(root, 'alias.xml'));
    for (const path of ['passwd.xml', 'etc/passwd', 'etc/hostname', 'alias.xml']) {
      const r = await fetch(`${s.url}/outputs/${path}`);
      expect(r.status, path).toBe(404);
      expect(await r.text()).toBe('Not found\n');
    }
    // A directory replaced by a link after its file was served (and remembered) is not followed either.
    const dir = join(root, randomUUID());
    mkdirSync(dir);
    await writeFileAtomic(join(dir, 'out.txt'), 'inside');
    const url = `${s.url}/outputs/${dir.slice(root.length + 1)}/out.txt`;
    expect(await (await fetch(url)).text()).toBe('inside');
    rmSync(dir, { recursive: true });
    mkdirSync(`${dir}.elsewhere`);
    await writeFileAtomic(join(`${dir}.elsewhere`, 'out.txt'), 'inside');
    symlinkSync(`${dir}.elsewhere`, dir);
    expect((await fetch(url)).status).toBe(404);
  });

  it('stores outputs with their media type\'s usual extension, and serves them with that type', async () => {
    const types = {
      'application/x-netcdf': ['nc', 'application/x-netcdf'],
      'image/tiff; subtype=geotiff': ['tif', 'image/tiff'],
      'application/geopackage+sqlite3': ['gpkg', 'application/geopackage+sqlite3'],
      'application/vnd.google-earth.kml+xml': ['kml', 'application/vnd.google-earth.kml+xml; charset=utf-8'],
      'application/x-hdf5': ['h5', 'application/x-hdf5'],
      'application/zip': ['zip', 'application/zip'],
      'application/x-unheard-of': ['bin', 'application/octet-stream'],
    };
    const id = randomUUID();
    for (const [type, [ext, served]] of Object.entries(types)) {
      const url = await s.services.outputs.writeOutput(id, 'out', Buffer.from('data'), type);
      expect(url, type).toBe(`${s.url}/outputs/${id}/out.${ext}`);
      expect((await fetch(url)).headers.get('content-type'), type).toBe(served);
    }
  });

  it('answers Range requests and If-None-Match, for small (remembered) and large (streamed) files', async () => {
    const id = randomUUID();
    for (const size of [1000, 600 * 1024]) {
      const data = randomBytes(size);
      const url = await s.services.outputs.writeOutput(id, `f${size}`, data, 'application/octet-stream');
      const whole = await fetch(url);
      const etag = whole.headers.get('etag')!;
      expect({ status: whole.status, ranges: whole.headers.get('accept-ranges'), etag }).toEqual({ status: 200, ranges: 'bytes', etag: expect.stringMatching(/^"[0-9a-z-]+"$/) });
      expect(Buffer.from(await whole.arrayBuffer()).equals(data)).toBe(true);
      const part = async (range: string, extra: Record<string, string> = {}) => {
        const r = await fetch(url, { headers: { range, ...extra } });
        return { status: r.status, contentRange: r.headers.get('content-range'), body: Buffer.from(await r.arrayBuffer()) };
      };
      expect(await part('bytes=10-19')).toEqual({ status: 206, contentRange: `bytes 10-19/${size}`, body: data.subarray(10, 20) });
      expect(await part('bytes=-5')).toEqual({ status: 206, contentRange: `bytes ${size - 5}-${size - 1}/${size}`, body: data.subarray(size - 5) });
      expect(await part(`bytes=${size - 3}-`)).toEqual({ status: 206, contentRange: `bytes ${size - 3}-${size - 1}/${size}`, body: data.subarray(size - 3) });
      expect(await part(`bytes=100-${size * 2}`)).toMatchObject({ status: 206, contentRange: `bytes 100-${size - 1}/${size}` });
      expect(await part(`bytes=${size}-`)).toMatchObject({ status: 416, contentRange: `bytes */${size}` });
      // A stale If-Range gets the whole file; a matching one the part.
      expect(await part('bytes=0-0', { 'if-range': '"stale"' })).toMatchObject({ status: 200, body: data });
      expect(await part('bytes=0-0', { 'if-range': etag })).toMatchObject({ status: 206, body: data.subarray(0, 1) });
      const cached = await fetch(url, { headers: { 'if-none-match': etag } });
      expect({ status: cached.status, body: await cached.text() }).toEqual({ status: 304, body: '' });
      expect((await fetch(url, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    }
  });

  it('serves status documents with no-cache, outputs as cacheable, and HEAD without a body', async () => {
    const id = randomUUID();
    await writeFileAtomic(s.services.publisher.statusPath(id), '<doc/>');
    const head = await fetch(s.services.publisher.statusLocation(id), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('6');
    expect(head.headers.get('cache-control')).toBe('no-cache');
    const href = await s.services.outputs.writeOutput(id, 'result', Buffer.from('{"a":1}'), 'application/json');
    const out = await fetch(href);
    expect(out.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(out.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(await out.json()).toEqual({ a: 1 });
  });

  it('streams a large output whole, and closes the file after a HEAD and after a client that hangs up', async () => {
    const id = randomUUID();
    const bytes = randomBytes(3 * 1024 * 1024);
    const href = await s.services.outputs.writeOutput(id, 'big', bytes, 'application/octet-stream');
    const file = s.services.outputs.pathOf(decodeURIComponent(new URL(href).pathname.slice('/outputs/'.length)))!;
    const openOnFile = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    }).length;

    const out = await fetch(href);
    expect(out.status).toBe(200);
    expect(out.headers.get('content-length')).toBe(String(bytes.length));
    expect(new Date(out.headers.get('last-modified')!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(Buffer.from(await out.arrayBuffer()).equals(bytes)).toBe(true);

    for (let i = 0; i < 5; i++) {
      const head = await fetch(href, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect(await head.text()).toBe('');
    }
    // Read the first chunk, then hang up.
    await new Promise<void>((resolve, reject) => {
      const req = httpGet(href, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.setTimeout(5000, () => reject(new Error('no data')));
    });
    await expect.poll(openOnFile, { timeout: 5000 }).toBe(0);
  });

  it("makes an output's job directory, but never brings back a storage tree that was removed", async () => {
    const root = tempDir('wps-outputs-');
    const store = new OutputStore(join(root, 'outputs'), 'http://127.0.0.1/outputs');
    mkdirSync(store.dir);
    const href = await store.writeOutput(randomUUID(), 'out', Buffer.from('x'), 'text/plain');
    expect(href).toMatch(/^http:\/\/127.0.0.1\/outputs\/[0-9a-f-]{36}\/out.txt$/);
    rmSync(store.dir, { recursive: true });
    await expect(store.writeOutput(randomUUID(), 'out', Buffer.from('x'), 'text/plain')).rejects.toThrow(/ENOENT/);
    expect(existsSync(store.dir)).toBe(false);
  });
});
