/**
 * `npm run bench:peer`: this server beside PyWPS 4.5.2 (Debian's python3-pywps under
 * Debian's gunicorn, the same processes: bench/peer/pywps_app.py), measured in one run
 * with the same load tool on loopback, printed as a table of ratios.
 *
 *   BENCH_DURATION=10 BENCH_JOBS=200 npm run bench:peer
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { benchDirectory, startNode } from './harness.js';
import { runAsyncJobs, type AsyncFigures } from './async.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const JOBS = Number(process.env.BENCH_JOBS ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

interface Load {
  rps: number;
  p50: string;
  p99: string;
  errors: number;
}

function wrk(url: string): Promise<Load> {
  return new Promise((resolve, reject) =>
    execFile('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--timeout', '10s', '--latency', url], (err, out) => {
      if (err) return reject(err);
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
        p50: /\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '?',
        p99: /\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '?',
        errors: non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
      });
    }),
  );
}

/**
 * Peak resident memory (VmHWM), in MB, of a process and its descendants down to `depth`
 * generations (0: the process alone; Infinity: its whole tree).
 */
function peakRssMb(pid: number, depth: number): number {
  let kb = 0;
  const visit = (p: number, left: number) => {
    try {
      kb += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return; // gone
    }
    if (left <= 0) return;
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      // no children
    }
    for (const c of children) visit(Number(c), left - 1);
  };
  visit(pid, depth);
  return Math.round(kb / 1024);
}

async function up(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await wait(100);
  }
  throw new Error(`${url} did not come up`);
}

interface Figures {
  caps: Load;
  describe: Load;
  hello: Load;
  jobs: AsyncFigures;
  polling: Load;
  /** The serving processes: this server's own; gunicorn's master and workers. */
  rssMb: number;
  /** With every child process: warm runners and the embedded database; job processes. */
  treeRssMb: number;
}

async function measure(name: string, base: string, storageDir: string, pid: number, servingDepth: number): Promise<Figures> {
  const wps = `${base}/wps`;
  process.stderr.write(`${name}: GetCapabilities, DescribeProcess, Execute hello…\n`);
  const caps = await wrk(`${wps}?service=WPS&request=GetCapabilities`);
  const describe = await wrk(`${wps}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=hello`);
  const hello = await wrk(`${wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=bench`);
  process.stderr.write(`${name}: ${JOBS} async jobs…\n`);
  const jobs = await runAsyncJobs(base, storageDir, JOBS, 10, 120_000);
  const polling = await wrk(jobs.anyLocation);
  return { caps, describe, hello, jobs, polling, rssMb: peakRssMb(pid, servingDepth), treeRssMb: peakRssMb(pid, Infinity) };
}

async function main(): Promise<void> {
  const ourPort = await freePort();
  const peerPort = await freePort();
  const ourData = benchDirectory('wps-peer-ours-');
  const peerData = benchDirectory('wps-peer-pywps-');
  const children: ChildProcess[] = [];
  try {
    const ours = await startNode(
      'dist/src/cli/main.js',
      ['serve'],
      { PORT: String(ourPort), WPS_DATA_DIR: ourData, UV_THREADPOOL_SIZE: '16', WPS_MAX_WAITING_JOBS: String(JOBS + 100), WPS_LOG_LEVEL: 'warn' },
      ourPort,
    );
    children.push(ours);
    const peer = spawn('/usr/bin/gunicorn', ['--chdir', 'bench/peer', '-b', `127.0.0.1:${peerPort}`, '-w', '2', 'pywps_app:application'], {
      env: { ...process.env, PYWPS_DIR: peerData, PYWPS_PORT: String(peerPort) },
      stdio: 'ignore',
    });
    children.push(peer);
    await up(`http://127.0.0.1:${peerPort}/wps?service=WPS&request=GetCapabilities`);
    const a = await measure('this server', `http://127.0.0.1:${ourPort}`, join(ourData, 'outputs'), ours.pid!, 0);
    const b = await measure('PyWPS', `http://127.0.0.1:${peerPort}`, join(peerData, 'outputs'), peer.pid!, 1);
    const ratio = (x: number, y: number) => (y > 0 ? `${(x / y).toFixed(1)}×` : '∞');
    const row = (name: string, x: Load, y: Load) =>
      `| ${name} | ${x.rps.toFixed(0)} (p50 ${x.p50}, p99 ${x.p99}, ${x.errors} errors) | ${y.rps.toFixed(0)} (p50 ${y.p50}, p99 ${y.p99}, ${y.errors} errors) | ${ratio(x.rps, y.rps)} |`;
    console.log(`\nthis server vs PyWPS 4.5.2 under gunicorn (2 sync workers); wrk -t1 -c${CONNECTIONS} -d${DURATION}s on loopback\n`);
    console.log('| measure | this server | PyWPS | ratio |');
    console.log('|---|---|---|---|');
    console.log(row('GetCapabilities req/s', a.caps, b.caps));
    console.log(row('DescribeProcess req/s', a.describe, b.describe));
    console.log(row('sync Execute hello req/s', a.hello, b.hello));
    console.log(
      `| ${JOBS} async zero-delay sleep jobs: time to all succeeded | ${a.jobs.allSucceededSeconds.toFixed(2)} s (${a.jobs.lost} lost, ${a.jobs.refused} refused, ${a.jobs.failed} failed) | ${b.jobs.allSucceededSeconds.toFixed(2)} s (${b.jobs.lost} lost, ${b.jobs.refused} refused, ${b.jobs.failed} failed) | ${ratio(b.jobs.allSucceededSeconds, a.jobs.allSucceededSeconds)} |`,
    );
    console.log(`| accepted response p50 / p99 | ${a.jobs.acceptedP50Ms.toFixed(1)} / ${a.jobs.acceptedP99Ms.toFixed(1)} ms | ${b.jobs.acceptedP50Ms.toFixed(1)} / ${b.jobs.acceptedP99Ms.toFixed(1)} ms | |`);
    console.log(row('status document polling req/s', a.polling, b.polling));
    console.log(`| peak RSS, serving processes (this server's; gunicorn's master and workers) | ${a.rssMb} MB | ${b.rssMb} MB | |`);
    console.log(`| peak RSS with every child process (warm runners, embedded database; job processes) | ${a.treeRssMb} MB | ${b.treeRssMb} MB | |`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await wait(1000);
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
