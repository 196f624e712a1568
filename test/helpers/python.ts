import { execFile } from 'node:child_process';

/** Debian's python3, where python3-owslib and python3-pywps live (not a pyenv one on PATH). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export function runPython(script: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(DEBIAN_PYTHON, [script, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
