import { execFileSync } from 'node:child_process';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/** The `wps` command in a real terminal: a tmux session whose screen the test reads. */
class Terminal {
  readonly name = `wps-tty-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(command: string) {
    execFileSync('tmux', ['new-session', '-d', '-s', this.name, '-x', '120', '-y', '20', `${command}; sleep 60`]);
  }

  screen(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-t', this.name], { encoding: 'utf8' });
  }

  keys(...keys: string[]): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, ...keys]);
  }

  async until(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${screen}`);
      await wait(50);
    }
  }

  close(): void {
    execFileSync('tmux', ['kill-session', '-t', this.name]);
  }
}

let s: TestServer;
const cacheHome = tempDir('wps-cli-cache-');
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const command = (args: string) => `env WPS_SERVICE=${s.wps} XDG_CACHE_HOME=${cacheHome} ${process.execPath} dist/src/cli/wps.js ${args}`;

describe('wps on a terminal', () => {
  it('draws a progress bar whose percentage rises, then prints the output', async () => {
    const t = new Terminal(command('sleep --delay 3 --async'));
    try {
      const seen: number[] = [];
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const screen = t.screen();
        const bar = /\[([# ]{30})\] +(\d+)% /.exec(screen);
        if (bar) {
          const percent = Number(bar[2]);
          if (seen[seen.length - 1] !== percent) seen.push(percent);
          expect(bar[1]!.replace(/ /g, '').length).toBe(Math.round((percent / 100) * 30));
        }
        if (/sleep_output: done sleeping/.test(screen)) break;
        await wait(40);
      }
      expect(t.screen()).toMatch(/sleep_output: done sleeping/);
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    } finally {
      t.close();
    }
  });

  it('Ctrl-C while following asks whether to dismiss the job, and does so on yes', async () => {
    const t = new Terminal(command('sleep --delay 30 --async'));
    try {
      await t.until(/\] +\d+% slept/);
      const [job] = await s.services.store.unfinished();
      t.keys('C-c');
      await t.until(new RegExp(`Dismiss job ${job!.id}\\? \\[y/N\\]`));
      t.keys('y', 'Enter');
      await t.until(/dismissed: The job was dismissed by the client/);
      expect((await s.services.store.get(job!.id))!.state).toBe('dismissed');
    } finally {
      t.close();
    }
  });
});
