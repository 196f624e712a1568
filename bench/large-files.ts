/**
 * `npm run bench:files`: a job that produces a large output (2 GiB by default,
 * `BENCH_FILE_BYTES`) as a handler's file, beside `cp` of the same file on the same disk,
 * with the peak RSS of the server and of the runner; then a download of it through
 * /outputs/ beside a bare node:http server streaming the same file (curl to /dev/null
 * for both). The process is a package of the benchmark's own, named in WPS_PROCESSES,
 * as an operator's would be.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { benchDirectory, settleDisk, startNode, stopNode } from './harness.js';

const BYTES = Number(process.env.BENCH_FILE_BYTES ?? 2 * 1024 ** 3);
const ROUNDS = Number(process.env.BENCH_FILE_ROUNDS ?? 2);
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

/** The same work as a CWL tool: dd writes the file, cwltool runs it, the output is moved into storage. */
const CWL_TOOL = `cwlVersion: v1.2
class: CommandLineTool
label: A big file
baseCommand: [dd, if=/dev/zero, bs=1M, status=none]
inputs:
  megabytes:
    type: int
    inputBinding: {prefix: count=, separate: false}
arguments: [of=data.nc]
outputs:
  data:
    type: File
    format: http://edamontology.org/format_3650
    outputBinding: {glob: data.nc}
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
  const cwlFile = join(dir, 'big_file_cwl.cwl');
  writeFileSync(cwlFile, CWL_TOOL);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startNode('dist/src/cli/main.js', ['serve'], { PORT: String(port), WPS_BASE_URL: base, WPS_DATA_DIR: dir, WPS_PROCESSES: `${packageFile},${cwlFile}`, WPS_LOG_LEVEL: 'error' }, port);
  const bare = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BYTES) });
    createReadStream(req.url!.slice(1)).pipe(res);
  });
  try {
    const job = (identifier: string, input: string) =>
      timed(async () => {
        const accepted = await (await fetch(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=${identifier}&DataInputs=${input}&storeExecuteResponse=true&status=true&ResponseDocument=data@asReference=true`)).text();
        const location = /statusLocation="([^"]+)"/.exec(accepted)![1]!;
        for (;;) {
          const doc = await (await fetch(location)).text();
          if (doc.includes('ProcessFailed')) throw new Error(doc);
          const href = /<wps:Reference href="([^"]+)"/.exec(doc)?.[1];
          if (href) return { href, id: /([0-9a-f-]{36})\.xml$/.exec(location)![1]! };
          await wait(50);
        }
      });
    // Rounds of each measurement in turn, nothing removed until the end: on this machine kind
    // a write right after a large deletion was several times slower than the next one.
    const loop = `const fs=require('fs');const out=fs.createWriteStream(process.argv[1]);const c=Buffer.alloc(1048576,1);let left=${BYTES};(async()=>{for(;left>0;left-=c.length){if(!out.write(left>=c.length?c:c.subarray(0,left)))await new Promise(r=>out.once('drain',r));}out.end();})();`;
    const times: Record<'loop' | 'job' | 'dd' | 'cwl' | 'cp', number[]> = { loop: [], job: [], dd: [], cwl: [], cp: [] };
    let output: { href: string; id: string } | undefined;
    let figures = { server: 0, runner: 0 };
    let cwlFigures = { server: 0, runner: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      await settleDisk();
      // The handler's own writing loop, in a Node process of its own: the job's work without the server.
      times.loop.push((await timed(() => run(process.execPath, ['-e', loop, join(dir, `loop-${round}.nc`)])))[1]);
      const [made, jobSeconds] = await job('big_file', `bytes=${BYTES}`);
      times.job.push(jobSeconds);
      output = made;
      const runner = JSON.parse(readFileSync(join(dir, 'jobs', made.id, 'runner.json'), 'utf8')) as { pid: number };
      if (statSync(join(dir, 'outputs', made.id, 'data.nc')).size !== BYTES) throw new Error('the stored output has the wrong size');
      figures = { server: Math.max(figures.server, peakMb(server.pid!)), runner: Math.max(figures.runner, peakMb(runner.pid)) };
      // What the CWL tool does, without cwltool or the server.
      times.dd.push((await timed(() => run('dd', ['if=/dev/zero', `of=${join(dir, `dd-${round}.nc`)}`, 'bs=1M', `count=${Math.ceil(BYTES / 1024 ** 2)}`, 'status=none'])))[1]);
      const [cwlMade, cwlSeconds] = await job('big_file_cwl', `megabytes=${Math.ceil(BYTES / 1024 ** 2)}`);
      times.cwl.push(cwlSeconds);
      const cwlRunner = JSON.parse(readFileSync(join(dir, 'jobs', cwlMade.id, 'runner.json'), 'utf8')) as { pid: number };
      cwlFigures = { server: Math.max(cwlFigures.server, peakMb(server.pid!)), runner: Math.max(cwlFigures.runner, peakMb(cwlRunner.pid)) };
      times.cp.push((await timed(() => run('cp', [join(dir, 'outputs', made.id, 'data.nc'), join(dir, `copy-${round}.nc`)])))[1]);
    }
    const stored = join(dir, 'outputs', output!.id, 'data.nc');
    const range = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
    const best = (xs: number[]) => Math.min(...xs);
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const barePort = (bare.address() as { port: number }).port;
    const curl = (url: string) => timed(() => run('curl', ['-sS', '-o', '/dev/null', url]));
    // Each twice, alternating; the faster of each (the page cache holds the file after the first).
    const download = { ours: Infinity, bare: Infinity };
    for (let i = 0; i < 2; i++) {
      download.ours = Math.min(download.ours, (await curl(output!.href))[1]);
      download.bare = Math.min(download.bare, (await curl(`http://127.0.0.1:${barePort}/${stored}`))[1]);
    }
    const gib = BYTES / 1024 ** 3;
    console.log(`\n${gib.toFixed(2)} GiB output, ${ROUNDS} rounds (seconds of each round; ratios of the best of each):`);
    console.log(`| measure | this server | floor | ratio |`);
    console.log(`|---|---|---|---|`);
    console.log(`| handler's file: job, submit to ProcessSucceeded | ${range(times.job)} | the handler's loop alone (node) ${range(times.loop)} | ${(best(times.job) / best(times.loop)).toFixed(2)}× |`);
    console.log(`| | | cp of the stored file ${range(times.cp)} | ${(best(times.job) / best(times.cp)).toFixed(2)}× |`);
    console.log(`| CWL tool (dd under cwltool): job | ${range(times.cwl)} | dd alone ${range(times.dd)} | ${(best(times.cwl) / best(times.dd)).toFixed(2)}× |`);
    console.log(`| | | cp ${range(times.cp)} | ${(best(times.cwl) / best(times.cp)).toFixed(2)}× |`);
    console.log(`| peak RSS | handler's job: server ${figures.server.toFixed(0)} MB, runner ${figures.runner.toFixed(0)} MB; CWL job: server ${cwlFigures.server.toFixed(0)} MB, runner ${cwlFigures.runner.toFixed(0)} MB (cwltool's Python not counted) | | |`);
    console.log(`| download through /outputs/ (curl) | ${download.ours.toFixed(2)} | bare node:http stream ${download.bare.toFixed(2)} | ${(download.ours / download.bare).toFixed(2)}× |`);
  } finally {
    bare.close();
    await stopNode(server);
  }
}

await main();
