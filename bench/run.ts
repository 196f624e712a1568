/**
 * `npm run bench`: requests/s and latency of the plain WPS requests on loopback,
 * measured with wrk (Debian's package) against the built server in its own process,
 * beside a bare node:http server that answers the same GetCapabilities bytes: the
 * ceiling any Node server on this machine can reach.
 *
 * Then asynchronous Execute: accepted-response latency, the time from the first
 * submission of BENCH_JOBS zero-delay `sleep` jobs to the last ProcessSucceeded with
 * 2 parallel slots (local scheduler, embedded PGlite, in-process queue), and
 * status-document polling. Then the accepted-response latency with
 * BENCH_SUBMIT_CONNECTIONS (100) submitters: without pause (closed loop), at fixed
 * rates (open loop) and in bursts all at once, on PGlite and on Postgres
 * (TEST_DATABASE_URL or the local one), each on a fresh server, and beside them two
 * floors under the same load: a bare server answering the same document, and one doing
 * only a submission's two durable writes (bench/bare-submit-server.ts).
 *
 *   BENCH_DURATION=10 BENCH_CONNECTIONS=50 BENCH_JOBS=1000 npm run bench
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { benchDirectory, requireWrk, startNode, stopNode, wrk as wrkRun, type WrkResult } from './harness.js';
import { runAsyncJobs, SLEEP_SUBMISSION, type AsyncFigures } from './async.js';
import { bursts, closedLoop, openLoop, withSubmitServer, type SubmitFigures, type Submitted } from './submitters.js';
import { batchSystemAvailable, benchAdapter, type AdapterFigures } from './schedulers.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const SUBMITTERS = Number(process.env.BENCH_SUBMITTERS ?? 10);
/** Connections submitting async jobs without pause, for the accepted-response latency under load. */
const SUBMIT_CONNECTIONS = Number(process.env.BENCH_SUBMIT_CONNECTIONS ?? 100);
/**
 * Open-loop submission rates (per second) measured beside the closed loop: below what
 * the local scheduler can run (zero-delay jobs on the same CPUs: ~100/s on a slow day
 * of this 2-vCPU machine kind) and above it, where the jobs' own work competes with
 * the submissions for the server's thread.
 */
const SUBMIT_RATES = (process.env.BENCH_SUBMIT_RATES ?? '50,100,200,500,1000,2000').split(',').map(Number);
/** Bursts of BENCH_SUBMIT_CONNECTIONS submissions sent at the same instant, and the pause between them. */
const BURSTS = Number(process.env.BENCH_BURSTS ?? 20);
const BURST_PAUSE_MS = Number(process.env.BENCH_BURST_PAUSE_MS ?? 1000);
const ADAPTER_JOBS = Number(process.env.BENCH_ADAPTER_JOBS ?? 10);
/** Extra rounds of BENCH_REPEAT_JOBS zero-delay jobs, to count lost jobs over repetitions. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 0);
const REPEAT_JOBS = Number(process.env.BENCH_REPEAT_JOBS ?? 200);

/** Alternating runs of the bare twin and the server per request: this machine's speed drifts within seconds. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Row {
  name: string;
  ours: WrkResult;
  bare: WrkResult;
  /** Median of the rounds' ratios. */
  ratio: number;
}

const median = <T>(values: T[], key: (v: T) => number): T => [...values].sort((a, b) => key(a) - key(b))[Math.floor(values.length / 2)]!;

/** ROUNDS alternating runs of DURATION / ROUNDS seconds each; the medians. */
async function beside(name: string, bareUrl: string, url: string): Promise<Row> {
  const seconds = Math.max(1, Math.round(DURATION / ROUNDS));
  const rounds: { bare: WrkResult; ours: WrkResult }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const o = { threads: THREADS, connections: CONNECTIONS, seconds, warm: i > 0 };
    rounds.push({ bare: await wrkRun(`bare ${name}`, bareUrl, o), ours: await wrkRun(name, url, o) });
  }
  const ratio = median(rounds, (r) => r.ours.rps / r.bare.rps);
  return { name, ours: median(rounds, (r) => r.ours.rps).ours, bare: median(rounds, (r) => r.bare.rps).bare, ratio: ratio.ours.rps / ratio.bare.rps };
}

async function main(): Promise<void> {
  await requireWrk();
  const port = await freePort();
  const barePort = await freePort();
  const data = benchDirectory('wps-bench-');
  const server = await startNode(
    'dist/src/cli/main.js',
    ['serve'],
    { PORT: String(port), WPS_DATA_DIR: data, UV_THREADPOOL_SIZE: '16', WPS_PARALLEL_JOBS: '2', WPS_MAX_WAITING_JOBS: String(JOBS + 100) },
    port,
  );
  const base = `http://127.0.0.1:${port}/wps`;
  const requests: [string, string][] = [
    ['GetCapabilities', `${base}?service=WPS&request=GetCapabilities`],
    ['DescribeProcess (inout)', `${base}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=inout`],
    ['DescribeProcess (ALL)', `${base}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=ALL`],
    ['Execute hello (sync, KVP)', `${base}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=bench`],
    ['Execute hello (sync, RawDataOutput)', `${base}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=bench&RawDataOutput=output`],
  ];
  // The bare twin of each request answers the very bytes the WPS answers.
  const bodies = benchDirectory('wps-bench-bodies-');
  for (const [i, [, url]] of requests.entries()) writeFileSync(join(bodies, String(i)), Buffer.from(await (await fetch(url)).arrayBuffer()));
  const bare = await startNode('dist/bench/bare-server.js', [], { PORT: String(barePort), BODIES_DIR: bodies }, barePort);
  const rows: Row[] = [];
  let jobs: (AsyncFigures & { anyLocation: string }) | undefined;
  try {
    for (const [i, [name, url]] of requests.entries()) {
      rows.push(await beside(name, `http://127.0.0.1:${barePort}/${i}`, url));
    }
    jobs = await runAsyncJobs(`http://127.0.0.1:${port}`, join(data, 'outputs'), JOBS, SUBMITTERS);
    for (let i = 1; i <= REPEATS; i++) {
      const r = await runAsyncJobs(`http://127.0.0.1:${port}`, join(data, 'outputs'), REPEAT_JOBS, SUBMITTERS);
      console.log(`repeat ${i}/${REPEATS}: ${REPEAT_JOBS} jobs ended after ${r.allSucceededSeconds.toFixed(2)} s; lost ${r.lost}, failed ${r.failed}, refused ${r.refused}`);
    }
    writeFileSync(join(bodies, 'status'), Buffer.from(await (await fetch(jobs.anyLocation)).arrayBuffer()));
  } finally {
    bare.kill();
  }
  // The answer the floors of the accepted response give (see withSubmitServer).
  const accepted = Buffer.from(await (await fetch(`http://127.0.0.1:${port}${SLEEP_SUBMISSION}`)).arrayBuffer());
  // The status document only exists now: its bare twin starts afresh.
  const bare2 = await startNode('dist/bench/bare-server.js', [], { PORT: String(barePort), BODIES_DIR: bodies }, barePort);
  try {
    if (jobs) rows.push(await beside('status document polling', `http://127.0.0.1:${barePort}/status`, jobs.anyLocation));
  } finally {
    bare2.kill();
    await stopNode(server);
  }
  console.log(`\nwrk -t${THREADS} -c${CONNECTIONS} on loopback, server in its own process (node ${process.version});`);
  console.log(`each request beside a bare node:http server answering the same bytes, ${ROUNDS} alternating rounds of ${Math.max(1, Math.round(DURATION / ROUNDS))} s;`);
  console.log('medians of the rounds (of bare: the median of the rounds\' ratios)\n');
  const table = rows.map((r) => [r.name, r.ours.rps.toFixed(0), r.bare.rps.toFixed(0), `${(100 * r.ratio).toFixed(0)} %`, r.ours.p50, r.ours.p99, r.ours.errors]);
  const head = ['request', 'req/s', 'bare req/s', 'of bare', 'p50', 'p99', 'errors'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of table) console.log(line(r));
  if (jobs) {
    console.log(`\nasync Execute of sleep (delay 0), ${jobs.jobs} jobs from ${SUBMITTERS} concurrent submitters, 2 parallel slots, local scheduler, PGlite:`);
    console.log(`  accepted response: p50 ${jobs.acceptedP50Ms.toFixed(1)} ms, p99 ${jobs.acceptedP99Ms.toFixed(1)} ms`);
    console.log(`  all submitted after ${jobs.submitSeconds.toFixed(2)} s; all ended after ${jobs.allSucceededSeconds.toFixed(2)} s (${(jobs.jobs / jobs.allSucceededSeconds).toFixed(0)} jobs/s)`);
    console.log(`  failed: ${jobs.failed}, never finished: ${jobs.lost}`);
  }
  console.log(`\naccepted responses to async Execute of sleep (delay 0) from ${SUBMIT_CONNECTIONS} connections, a fresh server for each load;`);
  console.log('this server runs the jobs meanwhile (local scheduler, 2 slots); beside it, in the same minutes, two floors answering');
  console.log('the same document: "bare" does nothing else, "bare durable" only commits a row (Postgres, group insert) and creates the file:');
  console.log('| load | server | accepted/s | p50 | p99 | errors |');
  console.log('|---|---|---|---|---|---|');
  const loads: ((url: string) => Promise<SubmitFigures>)[] = [
    (url) => closedLoop(url, SUBMIT_CONNECTIONS, DURATION),
    ...SUBMIT_RATES.map((rate) => (url: string) => openLoop(url, SUBMIT_CONNECTIONS, rate, DURATION)),
    (url) => bursts(url, SUBMIT_CONNECTIONS, BURSTS, BURST_PAUSE_MS),
  ];
  const servers: Submitted[] = ['bare', 'bare durable', 'pglite', 'postgres'];
  for (const load of loads) {
    for (const kind of servers) {
      try {
        const r = await withSubmitServer(kind, accepted, load);
        console.log(`| ${r.mode} | ${kind} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(1)} ms | ${r.p99Ms.toFixed(1)} ms | ${r.errors}${r.errorKinds ? ` (${r.errorKinds})` : ''} |`);
      } catch (err) {
        console.log(`| | ${kind} | not measured: ${(err as Error).message.split('\n')[0]} | | | |`);
      }
    }
  }
  const adapters: AdapterFigures[] = [];
  for (const system of ['gridengine', 'slurm'] as const) {
    if (!batchSystemAvailable(system)) {
      console.log(`\n${system}: not running (scripts/schedulers/start.sh starts it); adapter overhead not measured`);
      continue;
    }
    adapters.push(await benchAdapter(system, await freePort(), ADAPTER_JOBS));
  }
  if (adapters.length > 0) {
    console.log(`\nbatch scheduler adapters: medians of ${ADAPTER_JOBS} zero-delay jobs, raw submission of a Node start beside the same through the WPS`);
    console.log('| scheduler | raw: submit → start | raw: submit → done | WPS: submit → ProcessStarted | WPS: submit → ProcessSucceeded | overhead to start | overhead to end |');
    console.log('|---|---|---|---|---|---|---|');
    for (const a of adapters) {
      console.log(
        `| ${a.system} | ${a.rawStartMs} ms | ${a.rawDoneMs} ms | ${a.wpsStartedMs} ms | ${a.wpsSucceededMs} ms | ${a.wpsStartedMs - a.rawStartMs} ms | ${a.wpsSucceededMs - a.rawDoneMs} ms |`,
      );
    }
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
