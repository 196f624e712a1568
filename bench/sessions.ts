/**
 * `npm run bench:sessions`: the session proxy beside the same application reached directly
 * and through nginx (Debian's, configured as a websocket proxy as its documentation
 * shows), in one run: websocket echo round trips (one message in flight: the latency
 * each hop adds), websocket throughput (many in flight), and a 100 MB HTTP download (curl
 * to /dev/null). The application is test/apps/ws-echo.mjs, started as a session through
 * the launcher API of a built server; nginx is pointed at the address the launcher
 * reports. Rounds alternate the order of the three paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import WebSocket from 'ws';
import { median, percentileOf } from './async.js';
import { freePort } from './free-port.js';
import { benchDirectory, run, startNode, stopNode } from './harness.js';

const ROUNDS = Number(process.env.BENCH_SESSION_ROUNDS ?? 5);
const ROUND_TRIPS = Number(process.env.BENCH_SESSION_ROUND_TRIPS ?? 5000);
const MESSAGES = Number(process.env.BENCH_SESSION_MESSAGES ?? 50_000);
const MESSAGE_BYTES = Number(process.env.BENCH_SESSION_MESSAGE_BYTES ?? 4096);
const IN_FLIGHT = 64;
const DOWNLOAD_BYTES = 100 * 1024 * 1024;

type Path = 'direct' | 'proxy' | 'nginx';

interface Target {
  ws: string;
  http: string;
  headers: Record<string, string>;
}

/** One message at a time: the time each takes there and back. */
async function roundTrips(t: Target, n: number): Promise<number[]> {
  const ws = await open(t);
  const payload = Buffer.alloc(32, 97);
  const times: number[] = [];
  await new Promise<void>((done) => {
    let started = 0;
    const next = () => {
      if (times.length === n) return done();
      started = performance.now();
      ws.send(payload);
    };
    ws.on('message', () => {
      times.push(performance.now() - started);
      next();
    });
    next();
  });
  ws.close();
  return times;
}

/** Many messages in flight (a window of IN_FLIGHT): messages per second echoed. */
async function throughput(t: Target, n: number, bytes: number): Promise<number> {
  const ws = await open(t);
  const payload = Buffer.alloc(bytes, 98);
  const start = performance.now();
  await new Promise<void>((done) => {
    let sent = 0;
    let received = 0;
    const send = () => {
      while (sent < n && sent - received < IN_FLIGHT) {
        ws.send(payload);
        sent++;
      }
    };
    ws.on('message', () => {
      received++;
      if (received === n) return done();
      send();
    });
    send();
  });
  const seconds = (performance.now() - start) / 1000;
  ws.close();
  return n / seconds;
}

/** A websocket past its greeting (the echo app says hello first). */
function open(t: Target): Promise<WebSocket> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(t.ws, { headers: t.headers, perMessageDeflate: false });
    ws.once('message', () => done(ws));
    ws.once('error', fail);
  });
}

/** Seconds curl takes to fetch the 100 MB download to /dev/null. */
async function download(t: Target): Promise<number> {
  const headers = Object.entries(t.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const out = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{time_total} %{size_download}', ...headers, `${t.http}/bytes/${DOWNLOAD_BYTES}`]);
  const [seconds, size] = out.trim().split(' ').map(Number);
  if (size !== DOWNLOAD_BYTES) throw new Error(`download got ${size} bytes`);
  return seconds!;
}


function nginxConfig(dir: string, port: number, upstream: string): string {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream app { server ${upstream}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 3600s;
      # Interactive applications' answers go straight through (as Jupyter's and Xpra's guides set it).
      proxy_buffering off;
    }
  }
}
`,
  );
  return conf;
}

async function main(): Promise<void> {
  const dir = benchDirectory('wps-bench-sessions-');
  const port = await freePort();
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      sessions: {
        resources: [{ host: '127.0.0.1', port_range: [19500, 19509] }],
        fields: ['host', 'port'],
        apps: { echo: { cmd: [process.execPath, resolve('test/apps/ws-echo.mjs'), '${host}', '${port}'], ready_line: 'ws-echo listening' } },
      },
    }),
  );
  const server = await startNode('dist/src/cli/main.js', ['serve'], { PORT: String(port), WPS_DATA_DIR: dir, WPS_CONFIG: config, WPS_LOG_LEVEL: 'warn' }, port);
  let nginx: ChildProcess | undefined;
  let sessionId: string | undefined;
  try {
    const launched = await fetch(`http://127.0.0.1:${port}/paraview`, { method: 'POST', body: JSON.stringify({ application: 'echo' }) });
    const session = (await launched.json()) as { id: string; sessionURL: string; host: string; port: number };
    if (!session.sessionURL) throw new Error(`no session: ${JSON.stringify(session)}`);
    sessionId = session.id;
    const app = `${session.host}:${session.port}`;
    const secret = new URL(session.sessionURL).searchParams.get('session_secret')!;
    const nginxPort = await freePort();
    nginx = spawn('nginx', ['-c', nginxConfig(dir, nginxPort, app), '-p', dir, '-g', 'daemon off;'], { stdio: 'inherit' });
    for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${nginxPort}/`).then(() => true, () => false)); i++) await wait(50);
    const targets: Record<Path, Target> = {
      direct: { ws: `ws://${app}/ws`, http: `http://${app}`, headers: {} },
      proxy: { ws: session.sessionURL, http: `http://127.0.0.1:${port}/sessions/${session.id}`, headers: { cookie: `wps-session-secret=${secret}` } },
      nginx: { ws: `ws://127.0.0.1:${nginxPort}/ws`, http: `http://127.0.0.1:${nginxPort}`, headers: {} },
    };
    const order: Path[] = ['direct', 'proxy', 'nginx'];
    const results: Record<Path, { p50: number[]; p99: number[]; rate: number[]; download: number[] }> = {
      direct: { p50: [], p99: [], rate: [], download: [] },
      proxy: { p50: [], p99: [], rate: [], download: [] },
      nginx: { p50: [], p99: [], rate: [], download: [] },
    };
    // Warm every path once (JIT, connection pools).
    for (const p of order) await roundTrips(targets[p], 500);
    for (let round = 0; round < ROUNDS; round++) {
      const paths = round % 2 === 0 ? order : [...order].reverse();
      for (const p of paths) {
        const times = await roundTrips(targets[p], ROUND_TRIPS);
        results[p].p50.push(percentileOf(times, 50));
        results[p].p99.push(percentileOf(times, 99));
        results[p].rate.push(await throughput(targets[p], MESSAGES, MESSAGE_BYTES));
        results[p].download.push(await download(targets[p]));
      }
      console.log(
        `round ${round + 1}: ` +
          order.map((p) => `${p} p50 ${results[p].p50.at(-1)!.toFixed(3)} ms, ${Math.round(results[p].rate.at(-1)!)} msg/s, 100 MB in ${results[p].download.at(-1)!.toFixed(2)} s`).join(' | '),
      );
    }
    console.log(`\nmedians over ${ROUNDS} rounds (${ROUND_TRIPS} round trips of 32 B; ${MESSAGES} messages of ${MESSAGE_BYTES} B, ${IN_FLIGHT} in flight; ${DOWNLOAD_BYTES / 1024 ** 2} MB download):`);
    console.log('path    rtt p50 ms  rtt p99 ms   msg/s    MB/s (ws)  100 MB s   MB/s (http)');
    for (const p of order) {
      const r = results[p];
      const rate = median(r.rate);
      const dl = median(r.download);
      console.log(
        `${p.padEnd(7)} ${median(r.p50).toFixed(3).padStart(10)}  ${median(r.p99).toFixed(3).padStart(10)}  ${String(Math.round(rate)).padStart(7)}  ${((rate * MESSAGE_BYTES) / 1024 ** 2).toFixed(1).padStart(9)}  ${dl.toFixed(2).padStart(8)}  ${(DOWNLOAD_BYTES / 1024 ** 2 / dl).toFixed(0).padStart(11)}`,
      );
    }
    const added = median(results.proxy.p50) - median(results.direct.p50);
    console.log(`\nadded p50 latency: proxy ${added.toFixed(3)} ms, nginx ${(median(results.nginx.p50) - median(results.direct.p50)).toFixed(3)} ms (goal: proxy under 0.2 ms)`);
    console.log(`websocket throughput, proxy / nginx: ${((median(results.proxy.rate) / median(results.nginx.rate)) * 100).toFixed(0)} % (goal: at least 100 %)`);
    console.log(`download, proxy / nginx: ${((median(results.nginx.download) / median(results.proxy.download)) * 100).toFixed(0)} % of nginx's rate`);
  } finally {
    // The session would outlive the server (a restarted one takes it up again): ended first.
    if (sessionId) await fetch(`http://127.0.0.1:${port}/paraview/${sessionId}`, { method: 'DELETE' }).catch(() => undefined);
    await wait(500);
    nginx?.kill('SIGQUIT');
    await stopNode(server);
  }
}

await main();
