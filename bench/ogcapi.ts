/**
 * `npm run bench:ogcapi`: OGC API - Processes in one run.
 * 1. `GET /processes/{id}` and `GET /jobs/{id}` requests per second (wrk) beside a bare
 *    node:http twin answering the same bytes, in alternating rounds (goal: at least 50 %).
 * 2. 1,000 event-stream subscribers (`BENCH_SUBSCRIBERS`) on running jobs: how late each
 *    event arrives after the change it tells of (the row's `updated` time; a stream's first
 *    event, the job as it stood, is not counted), p50 and p99, and the server's peak RSS
 *    while they listen.
 */
import { request } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { median, percentileOf } from './async.js';
import { freePort } from './free-port.js';
import { benchDirectory, requireWrk, startNode, stopNode, wrk } from './harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const JOBS = Number(process.env.BENCH_STREAM_JOBS ?? 50);


function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.replace(/\D+/g, '')) / 1024;
}

/** One event-stream subscriber: the delay of every event it receives, until its job ends. */
function subscribe(url: string, delays: number[]): Promise<void> {
  return new Promise((done) => {
    const req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buffered = '';
      // The first event is the job as it stood when the stream opened, not news of a change.
      let first = true;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data && !first) delays.push(Date.now() - Date.parse((JSON.parse(data.slice(6)) as { updated: string }).updated));
          if (data) first = false;
        }
      });
      res.on('end', () => done());
      res.on('error', () => done());
    });
    req.on('error', () => done());
    req.end();
  });
}

async function main(): Promise<void> {
  await requireWrk();
  const dir = benchDirectory('wps-bench-ogcapi-');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startNode('dist/src/cli/main.js', ['serve'], { PORT: String(port), WPS_DATA_DIR: dir, WPS_LOG_LEVEL: 'warn', WPS_PARALLEL_JOBS: String(JOBS), WPS_MAX_WAITING_JOBS: '100000' }, port);
  const bodies = join(dir, 'bodies');
  mkdirSync(bodies, { recursive: true });
  const barePort = await freePort();
  let bare: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    // A finished job to read.
    const submitted = await fetch(`${base}/processes/hello/execution`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ inputs: { name: 'bench' } }) });
    const { jobID } = (await submitted.json()) as { jobID: string };
    for (let i = 0; i < 100; i++) {
      if (((await (await fetch(`${base}/jobs/${jobID}`)).json()) as { status: string }).status === 'successful') break;
      await wait(50);
    }
    const paths = { process: '/processes/hello', job: `/jobs/${jobID}` };
    for (const [name, path] of Object.entries(paths)) writeFileSync(join(bodies, name), Buffer.from(await (await fetch(`${base}${path}`)).arrayBuffer()));
    bare = await startNode('dist/bench/bare-server.js', [], { PORT: String(barePort), BODIES_DIR: bodies }, barePort);
    const ratios: Record<string, number[]> = { process: [], job: [] };
    const rates: Record<string, { ours: number[]; bare: number[] }> = { process: { ours: [], bare: [] }, job: { ours: [], bare: [] } };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, path] of Object.entries(paths)) {
        const order = round % 2 === 0 ? ['ours', 'bare'] : ['bare', 'ours'];
        const got: Record<string, number> = {};
        for (const who of order) {
          const url = who === 'ours' ? `${base}${path}` : `http://127.0.0.1:${barePort}/${name}`;
          got[who] = (await wrk(name, url, { threads: 1, connections: 50, seconds: SECONDS })).rps;
        }
        rates[name]!.ours.push(got.ours!);
        rates[name]!.bare.push(got.bare!);
        ratios[name]!.push(got.ours! / got.bare!);
      }
      console.log(`round ${round + 1}: ` + Object.keys(paths).map((n) => `${n} ${Math.round(rates[n]!.ours.at(-1)!)} vs bare ${Math.round(rates[n]!.bare.at(-1)!)} req/s`).join(' | '));
    }
    console.log(`\nmedians over ${ROUNDS} rounds (wrk -t1 -c50, ${SECONDS} s):`);
    for (const [name, path] of Object.entries(paths)) {
      console.log(`GET ${path.replace(jobID, '{id}').padEnd(18)} ${String(Math.round(median(rates[name]!.ours))).padStart(7)} req/s, bare twin ${String(Math.round(median(rates[name]!.bare))).padStart(7)}: ${(median(ratios[name]!) * 100).toFixed(0)} % (goal at least 50 %)`);
    }

    // Event streams: JOBS running sleep jobs, SUBSCRIBERS streams spread over them.
    const jobs: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const res = await fetch(`${base}/processes/sleep/execution`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ inputs: { delay: 8 } }) });
      jobs.push(((await res.json()) as { jobID: string }).jobID);
    }
    const delays: number[] = [];
    const rssBefore = rssOf(server.pid!);
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(server.pid!))), 200);
    const streams = Array.from({ length: SUBSCRIBERS }, (_, i) => subscribe(`${base}/jobs/${jobs[i % jobs.length]}`, delays));
    await Promise.all(streams);
    clearInterval(sampler);
    console.log(`\n${SUBSCRIBERS} event-stream subscribers on ${JOBS} running jobs: ${delays.length} events, latency p50 ${median(delays)} ms, p99 ${percentileOf(delays, 99)} ms; server RSS ${rssBefore.toFixed(0)} MB before, ${peak.toFixed(0)} MB at most`);
  } finally {
    if (bare) await stopNode(bare);
    await stopNode(server);
  }
}

await main();
