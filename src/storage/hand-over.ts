import { execFile } from 'node:child_process';
import { chmod, chown, lchown, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Gives a job's directories to the Unix account it runs as (scheduler.runAsUser): its
 * runner writes its result, logs and outputs there. A server running as root hands them
 * over (chown) and closes them to everyone else (the spec holds the job's report
 * secret); any other makes them group-writable and setgid, for a site whose service
 * account and users share a group on the shared storage.
 */
export async function handOver(dirs: readonly { path: string; private: boolean }[], account: string): Promise<void> {
  for (const dir of dirs) await mkdir(dir.path, { recursive: true });
  if (process.getuid?.() !== 0) {
    for (const dir of dirs) await chmod(dir.path, dir.private ? 0o2770 : 0o2775);
    return;
  }
  const { uid, gid } = await idsOf(account);
  for (const dir of dirs) {
    // What is in it first, while the directory is still ours (its user cannot swap an
    // entry for a link yet), and never through a link.
    for (const entry of await readdir(dir.path)) await lchown(join(dir.path, entry), uid, gid);
    await chmod(dir.path, dir.private ? 0o700 : 0o755);
    await chown(dir.path, uid, gid);
  }
}

async function idsOf(account: string): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', '--', account]), run('id', ['-g', '--', account])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(`there is no Unix account ${account} here to run the job as`);
  }
}
