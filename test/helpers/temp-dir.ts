import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

// Imported while a test file is collected: the hook belongs to that file, and runs after
// its own afterAll hooks have stopped the servers writing into these directories.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

/** A new directory under the system's temporary directory, removed when the test file ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A tmpfs of a few kilobytes or megabytes (root only): storage a test can fill up or make read-only. */
export interface SmallDisk {
  dir: string;
  readOnly(on: boolean): void;
  /** Unmounts it (after whatever writes to it has stopped); the directory goes with the test file's others. */
  unmount(): void;
}

export function smallDisk(prefix: string, size: string): SmallDisk {
  const dir = tempDir(prefix);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    readOnly: (on) => execFileSync('mount', ['-o', on ? 'remount,ro' : 'remount,rw', dir]),
    unmount: () => execFileSync('umount', [dir]),
  };
}
