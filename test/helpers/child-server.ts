import { spawn, type ChildProcess } from 'node:child_process';

/** The built server run as its own process, the way `npm start` runs it. */
export interface ChildServer {
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no cleanup of any kind, as in a crash. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** `as`: the account to run it under (a service account rather than root). */
export async function spawnCli(args: string[], env: Record<string, string>, readyLine: string, as?: { uid: number; gid: number }): Promise<ChildServer> {
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
