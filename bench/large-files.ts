/**
 * `npm run bench:files`: a job that produces a large output (2 GiB by default,
 * `BENCH_FILE_BYTES`) as a handler's file, beside `cp` of the same file on the same disk,
 * with the peak RSS of the server and of the runner; then a download of it through
 * /outputs/ beside a bare node:http server streaming the same file (curl to /dev/null
 * for both). The process is a package of the benchmark's own, named in WPS_PROCESSES,
 * as an operator's would be.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync, createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { benchDirectory, settleDisk, startNode, stopNode } from './harness.js';

const BYTES = Number(process.env.BENCH_FILE_BYTES ?? 2 * 1024 ** 3);
const run = promisify(execFile);

const PACKAGE = (api: string) => `
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { complexOutput, defineProcess, literalInput } from '${api}';

/** Writes a file of the given size in 1 MiB pieces into its working directory and returns it. */
export default defineProcess({
  identifier: 'big_file', title: 'A big file',
  inputs: [literalInput('bytes', { title: 'Bytes', dataType: 'integer' })],
  outputs: [complexOutput('data', { title: 'Data', formats: [{ mimeType: 'application/x-netcdf' }] })],
  async handler({ inputs, workdir }) {
    const file = join(workdir, 'data.nc');
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const out = createWriteStream(file);
    for (let left = Number(inputs.literal('bytes').value); left > 0; left -= chunk.length) {
      if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => out.once('drain', r));
    }
    await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
    return { data: { file } };
  },
});
`;

const peakMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, (performance.now() - started) / 1000];
}

async function main(): Promise<void> {
  const dir = benchDirectory('wps-bench-files-');
  const packageFile = join(dir, 'big-file.mjs');
  writeFileSync(packageFile, PACKAGE(pathToFileURL(resolve('dist/src/index.js')).href));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startNode('dist/src/cli/main.js', ['serve'], { PORT: String(port), WPS_BASE_URL: base, WPS_DATA_DIR: dir, WPS_PROCESSES: packageFile, WPS_LOG_LEVEL: 'error' }, port);
  const bare = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BYTES) });
    createReadStream(req.url!.slice(1)).pipe(res);
  });
  try {
    await settleDisk();
    const [output, jobSeconds] = await timed(async () => {
      const accepted = await (await fetch(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=big_file&DataInputs=bytes=${BYTES}&storeExecuteResponse=true&status=true&ResponseDocument=data@asReference=true`)).text();
      const location = /statusLocation="([^"]+)"/.exec(accepted)![1]!;
      for (;;) {
        const doc = await (await fetch(location)).text();
        if (doc.includes('ProcessFailed')) throw new Error(doc);
        const href = /<wps:Reference href="([^"]+)"/.exec(doc)?.[1];
        if (href) return { href, id: /([0-9a-f-]{36})\.xml$/.exec(location)![1]! };
        await wait(50);
      }
    });
    const runner = JSON.parse(readFileSync(join(dir, 'jobs', output.id, 'runner.json'), 'utf8')) as { pid: number };
    const stored = join(dir, 'outputs', output.id, 'data.nc');
    if (statSync(stored).size !== BYTES) throw new Error('the stored output has the wrong size');
    const figures = { server: peakMb(server.pid!), runner: peakMb(runner.pid) };
    await settleDisk();
    const copy = join(dir, 'copy.nc');
    const [, cpSeconds] = await timed(() => run('cp', [stored, copy]));
    rmSync(copy);
    await settleDisk();
    // What the handler itself does, without a server: write the bytes in 1 MiB pieces.
    const [, ddSeconds] = await timed(() => run('dd', ['if=/dev/zero', `of=${copy}`, 'bs=1M', `count=${Math.ceil(BYTES / 1024 ** 2)}`, 'status=none']));
    rmSync(copy);
    await settleDisk();

    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const barePort = (bare.address() as { port: number }).port;
    const curl = (url: string) => timed(() => run('curl', ['-sS', '-o', '/dev/null', url]));
    // Each twice, alternating; the faster of each (the page cache holds the file after the first).
    const times = { ours: Infinity, bare: Infinity };
    for (let i = 0; i < 2; i++) {
      times.ours = Math.min(times.ours, (await curl(output.href))[1]);
      times.bare = Math.min(times.bare, (await curl(`http://127.0.0.1:${barePort}/${stored}`))[1]);
    }
    const gib = BYTES / 1024 ** 3;
    console.log(`\n${gib.toFixed(2)} GiB output as a handler's file (moved into storage):`);
    console.log(`| measure | this server | floor | ratio |`);
    console.log(`|---|---|---|---|`);
    console.log(`| job, submit to ProcessSucceeded (handler writes, file moved) | ${jobSeconds.toFixed(2)} s | cp of the same file ${cpSeconds.toFixed(2)} s | ${(jobSeconds / cpSeconds).toFixed(2)}× |`);
    console.log(`| | | dd writing the same size in 1 MiB pieces ${ddSeconds.toFixed(2)} s | ${(jobSeconds / ddSeconds).toFixed(2)}× |`);
    console.log(`| download through /outputs/ (curl) | ${times.ours.toFixed(2)} s | bare node:http stream ${times.bare.toFixed(2)} s | ${(times.ours / times.bare).toFixed(2)}× |`);
    console.log(`| peak RSS | server ${figures.server.toFixed(0)} MB, runner ${figures.runner.toFixed(0)} MB | | |`);
  } finally {
    bare.close();
    await stopNode(server);
  }
}

await main();
