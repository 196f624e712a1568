import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { inject } from 'vitest';

/** The built server run as its own process, the way `npm start` runs it. */
export interface ChildServer {
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no cleanup of any kind, as in a crash. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `as`: the account to run it under (a service account rather than root). A server of
 * its own on the embedded database starts from a copy of the migrated template: creating
 * the database takes seconds, many times over when the suite runs in parallel; the copy
 * belongs to the account the server runs as.
 */
export async function spawnCli(args: string[], env: Record<string, string>, readyLine: string, as?: { uid: number; gid: number }): Promise<ChildServer> {
  const embedded = env.DATABASE_URL === undefined ? (env.WPS_PGLITE_DIR ?? (env.WPS_DATA_DIR && join(env.WPS_DATA_DIR, 'db'))) : undefined;
  if (embedded && !existsSync(embedded)) {
    await cp(inject('pgliteTemplate'), embedded, { recursive: true });
    if (as) execFileSync('chown', ['-R', `${as.uid}:${as.gid}`, embedded]);
  }
  const child = spawn(process.execPath, ['dist/src/cli/main.js', ...args], {
    // It announces itself in its log ("listening", "dispatching"): at info level.
    env: { ...process.env, WPS_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${out}`)), 30_000);
    const check = () => {
      if (out.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}: ${out}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export const spawnServer = (env: Record<string, string>) => spawnCli(['serve'], env, '"listening"');
