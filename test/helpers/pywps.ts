import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { freePort } from './server.js';

/** The peer server: Debian's PyWPS 4.5.2 with the same processes, under Debian's gunicorn. */
export interface PyWps {
  wps: string;
  close(): Promise<void>;
}

export async function startPyWps(workers = 2): Promise<PyWps> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pywps-'));
  const child: ChildProcess = spawn(
    '/usr/bin/gunicorn',
    ['--chdir', 'bench/peer', '-b', `127.0.0.1:${port}`, '-w', String(workers), 'pywps_app:application'],
    { env: { ...process.env, PYWPS_DIR: dir, PYWPS_PORT: String(port) }, stdio: 'ignore' },
  );
  const wps = `http://127.0.0.1:${port}/wps`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${wps}?service=WPS&request=GetCapabilities`).then((r) => r.ok, () => false)) {
      return {
        wps,
        async close() {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await wait(100);
  }
  child.kill('SIGKILL');
  throw new Error('PyWPS under gunicorn did not start (python3-pywps and gunicorn from Debian are needed)');
}
