/**
 * Accepted-response latency under many concurrent submitters of asynchronous zero-delay
 * `sleep` jobs, while the server runs the jobs; a fresh server per store, with room for
 * every job (the waiting limit raised). Two ways:
 * - closed loop (wrk): N connections, each sending the next submission as soon as its
 *   last was answered: the server's ceiling; latency is then N / throughput;
 * - open loop: submissions due at a fixed rate over N connections, latency counted from
 *   when each was due (a submission waiting for a free connection waits on the clock),
 *   as many independent clients would see it.
 */
import { writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { percentile, SLEEP_SUBMISSION } from './async.js';
import { freePort } from './free-port.js';
import { BENCH_DATABASE_URL, benchDirectory, dropBenchSchema, settleDisk, startNode, stopNode, wrk } from './harness.js';

export type Store = 'postgres' | 'pglite';

/**
 * What answers the submissions: this server on one of its stores, or one of two floors
 * that answer the same accepted document: `bare` does no work at all (the load tool's
 * and node:http's own cost on this machine), `bare durable` only the two durable writes
 * (bench/bare-submit-server.ts).
 */
export type Submitted = Store | 'bare' | 'bare durable';

export interface SubmitFigures {
  mode: string;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** What the errors were, where known: "request ECONNRESET ×3". */
  errorKinds?: string;
}

/**
 * Runs `measure` against a fresh server of that kind, then removes everything it made.
 * `accepted` is an accepted document of this server's, the floors' answer.
 */
export async function withSubmitServer<T>(kind: Submitted, accepted: Buffer, measure: (url: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const data = benchDirectory('wps-bench-submit-');
  const schema = `bench_submit_${Date.now()}`;
  const postgres = kind === 'postgres' || kind === 'bare durable';
  const { script, args, env, path } = launch(kind, data, schema, accepted);
  const server = await startNode(script, args, { PORT: String(port), ...env }, port);
  try {
    await settleDisk();
    return await measure(`http://127.0.0.1:${port}${path}`);
  } finally {
    await stopNode(server);
    if (postgres) await dropBenchSchema(schema);
  }
}

/** How a server of that kind is started, and the path its submissions go to. */
function launch(kind: Submitted, data: string, schema: string, accepted: Buffer): { script: string; args: string[]; env: Record<string, string>; path: string } {
  if (kind === 'bare' || kind === 'bare durable') writeFileSync(join(data, 'accepted'), accepted);
  switch (kind) {
    case 'bare':
      return { script: 'dist/bench/bare-server.js', args: [], env: { BODIES_DIR: data }, path: '/accepted' };
    case 'bare durable':
      return {
        script: 'dist/bench/bare-submit-server.js',
        args: [],
        env: { DATABASE_URL: BENCH_DATABASE_URL, SCHEMA: schema, STORAGE_DIR: data, TEMPLATE: join(data, 'accepted') },
        path: SLEEP_SUBMISSION,
      };
    default:
      return {
        script: 'dist/src/cli/main.js',
        args: ['serve'],
        env: {
          WPS_DATA_DIR: data,
          UV_THREADPOOL_SIZE: '16',
          WPS_LOG_LEVEL: 'warn',
          WPS_MAX_WAITING_JOBS: '1000000',
          ...(kind === 'postgres' ? { DATABASE_URL: BENCH_DATABASE_URL, WPS_DB_SCHEMA: schema } : {}),
        },
        path: SLEEP_SUBMISSION,
      };
  }
}

const ms = (s: string) => (s.endsWith('us') ? Number.parseFloat(s) / 1000 : s.endsWith('ms') ? Number.parseFloat(s) : Number.parseFloat(s) * 1000);

export async function closedLoop(url: string, connections: number, seconds: number, headers: string[] = [], script?: string): Promise<SubmitFigures> {
  const r = await wrk('submit', url, { threads: 1, connections, seconds, headers, ...(script ? { script } : {}) });
  return { mode: 'closed loop (wrk)', perSecond: r.rps, p50Ms: ms(r.p50), p99Ms: ms(r.p99), errors: r.errors === '0' ? 0 : Number.parseInt(r.errors, 10) || 1 };
}

/** Resolves undefined when the submission was accepted, else what went wrong, in a few words. */
function submit(agent: Agent, url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve(res.statusCode === 200 && body.includes('ProcessAccepted') ? undefined : `HTTP ${res.statusCode} ${/exceptionCode="(\w+)"/.exec(body)?.[1] ?? ''}`.trim()),
      );
      res.on('error', (err: NodeJS.ErrnoException) => resolve(`response ${err.code ?? err.message}`));
    }).on('error', (err: NodeJS.ErrnoException) => resolve(`request ${err.code ?? err.message}`));
  });
}

async function schedule(url: string, agent: Agent, rate: number, seconds: number, record: boolean, latencies: number[]): Promise<Map<string, number>> {
  const errors = new Map<string, number>();
  const pending: Promise<void>[] = [];
  const t0 = performance.now() + 20;
  for (let i = 0; i < Math.round(rate * seconds); i++) {
    const due = t0 + (i * 1000) / rate;
    const early = due - performance.now();
    if (early >= 1) await wait(early);
    // Sent up to a millisecond early (a timer that short would be late): counted from the sending.
    const from = Math.max(due, performance.now());
    pending.push(
      submit(agent, url).then((failure) => {
        if (!record) return;
        latencies.push(performance.now() - from);
        if (failure) errors.set(failure, (errors.get(failure) ?? 0) + 1);
      }),
    );
  }
  await Promise.all(pending);
  return errors;
}

export async function openLoop(url: string, connections: number, rate: number, seconds: number): Promise<SubmitFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  try {
    const latencies: number[] = [];
    await schedule(url, agent, rate, 2, false, latencies);
    const started = performance.now();
    const errors = await schedule(url, agent, rate, seconds, true, latencies);
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      mode: `open loop, ${rate}/s due`,
      perSecond: latencies.length / elapsed,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors: [...errors.values()].reduce((a, b) => a + b, 0),
      errorKinds: [...errors].map(([kind, n]) => `${kind} ×${n}`).join(', '),
    };
  } finally {
    agent.destroy();
  }
}

/** One keep-alive connection that sends a GET and reads its answer, with nothing in between (a Node http client costs more CPU than the server's answer). */
class RawConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting?: (answer: { ok: boolean; at: number }) => void;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.waiting?.({ ok: head.startsWith('HTTP/1.1 200') && body.includes('ProcessAccepted'), at: performance.now() });
    });
    socket.on('error', () => this.waiting?.({ ok: false, at: performance.now() }));
  }

  static open(url: URL): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => resolve(new RawConnection(socket)));
      socket.setNoDelay(true);
      socket.once('error', reject);
    });
  }

  send(request: string): Promise<{ ok: boolean; at: number }> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Bursts: `submitters` clients each send one submission at the same instant, over
 * connections already open, and wait for their answers; then a pause while the jobs
 * run, and again. Latency is each submission's own, from the burst's start.
 */
export async function bursts(url: string, submitters: number, count: number, pauseMs: number): Promise<SubmitFigures> {
  const target = new URL(url);
  const request = `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`;
  const connections = await Promise.all(Array.from({ length: submitters }, () => RawConnection.open(target)));
  try {
    const latencies: number[] = [];
    let errors = 0;
    let busy = 0;
    for (let b = -2; b < count; b++) {
      const t0 = performance.now();
      const answers = await Promise.all(connections.map((c) => c.send(request)));
      busy += performance.now() - t0;
      // The first two bursts warm the server; they are not counted.
      if (b >= 0) {
        for (const { ok, at } of answers) {
          latencies.push(at - t0);
          if (!ok) errors++;
        }
      }
      await wait(pauseMs);
    }
    latencies.sort((a, b) => a - b);
    return { mode: `bursts of ${submitters} at once`, perSecond: (submitters * (count + 2) * 1000) / busy, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
  } finally {
    for (const c of connections) c.close();
  }
}
