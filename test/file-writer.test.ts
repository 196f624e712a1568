import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileWriter } from '../src/storage/file-writer.js';
import { removeStaleTemporaryFiles } from '../src/storage/leftovers.js';
import { smallDisk } from './helpers/temp-dir.js';

const writer = new FileWriter(2);
const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'wps-writer-'));
  dirs.push(d);
  return d;
};

afterAll(async () => {
  await writer.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('status documents written on threads of their own', () => {
  it('replaces a file whole, creating its directory, leaving no temporary file', async () => {
    const dir = join(freshDir(), 'not-yet');
    const file = join(dir, 'a.xml');
    await writer.replace(file, '<first/>');
    await writer.replace(file, Buffer.from('<second/>'));
    expect(readFileSync(file, 'utf8')).toBe('<second/>');
    expect(readdirSync(dir)).toEqual(['a.xml']);
  });

  it("makes a document's own directory, never its parents: a removed storage tree stays removed", async () => {
    const data = freshDir();
    const storage = join(data, 'outputs');
    rmSync(data, { recursive: true });
    await expect(writer.create(join(storage, 'late.xml'), '<late/>')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(writer.replace(join(storage, 'late.xml'), '<late/>')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(data)).toBe(false);
  });

  it('creates a first version, and refuses to create over an existing file without touching it', async () => {
    const dir = freshDir();
    const file = join(dir, 'job.xml');
    await writer.create(file, 'first');
    await expect(writer.create(file, 'second')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(file, 'utf8')).toBe('first');
  });

  it('a burst of writes all land with their own bytes, each failure reported to its own caller', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'taken.xml'), 'taken');
    const writes = Array.from({ length: 2000 }, (_, i) => writer.create(join(dir, `${i}.xml`), `<doc n="${i}"/>`));
    // Judged as soon as it settles: with the burst spread over both threads it may fail before the others land.
    const refused = expect(writer.create(join(dir, 'taken.xml'), 'x')).rejects.toMatchObject({ code: 'EEXIST' });
    await Promise.all(writes);
    await refused;
    for (const i of [0, 999, 1999]) expect(readFileSync(join(dir, `${i}.xml`), 'utf8')).toBe(`<doc n="${i}"/>`);
    expect(readdirSync(dir)).toHaveLength(2001);
  });

  it('on a full disk a write fails with ENOSPC and leaves neither a temporary nor a partial file', async () => {
    const disk = smallDisk('wps-writer-full-', '64k');
    const dir = disk.dir;
    try {
      const big = Buffer.alloc(200 * 1024, 'x');
      await expect(writer.replace(join(dir, 'r.xml'), big)).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(writer.create(join(dir, 'c.xml'), big)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(readdirSync(dir)).toEqual([]);
      // The writer goes on once there is room.
      await writer.create(join(dir, 'small.xml'), 'ok');
      expect(readFileSync(join(dir, 'small.xml'), 'utf8')).toBe('ok');
    } finally {
      disk.unmount();
    }
  });

  it('a writer thread that dies is replaced: no write waits forever', async () => {
    const w = new FileWriter(1);
    const dir = freshDir();
    await w.create(join(dir, 'before'), 'x');
    // Simulates a crash of the thread (nothing in the public interface kills it).
    const thread = (w as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads[0]!;
    await thread.worker.terminate();
    await new Promise((r) => setTimeout(r, 50));
    await w.create(join(dir, 'after'), 'y');
    expect(readFileSync(join(dir, 'after'), 'utf8')).toBe('y');
    await w.close();
  });

  it('a closed writer refuses new writes', async () => {
    const w = new FileWriter(1);
    const dir = freshDir();
    await w.create(join(dir, 'x'), 'x');
    await w.close();
    await expect(w.create(join(dir, 'y'), 'y')).rejects.toThrow(/closed/);
  });
});

describe('leftovers of writes cut short', () => {
  it('removes stale temporary files of atomic writes, and nothing else', async () => {
    const dir = freshDir();
    const hourAgo = new Date(Date.now() - 3_600_000);
    const files = {
      stale: '.5f0c3d2e-job.xml.0123456789ab.tmp',
      fresh: '.another.xml.ba9876543210.tmp',
      document: '5f0c3d2e-job.xml',
      other: '.hidden.tmp',
    };
    for (const name of Object.values(files)) {
      writeFileSync(join(dir, name), 'x');
      if (name !== files.fresh) utimesSync(join(dir, name), hourAgo, hourAgo);
    }
    expect(await removeStaleTemporaryFiles(dir, 10 * 60_000)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([files.fresh, files.other, files.document].sort());
    expect(await removeStaleTemporaryFiles(join(dir, 'missing'), 0)).toBe(0);
  });
});
