/**
 * `npm run bench:attacks`: the memory attacks of the security review (issue 22), each
 * against a fresh built server on loopback. For each: the server's peak RSS (VmHWM),
 * what the attack's requests were answered, how many references the server fetched,
 * and whether GetCapabilities was answered throughout (probed every 250 ms).
 *
 * `WPS_BENCH_SERVER=/path/to/other/checkout/dist/src/cli/main.js` measures another
 * build the same way (an older commit in a `git worktree`, for a before and after).
 */
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as wait } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { benchDirectory, startNode, stopNode } from './harness.js';

const SERVER = process.env.WPS_BENCH_SERVER ?? 'dist/src/cli/main.js';
const WPS_NS = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink"';

interface Figures {
  attack: string;
  baseMb: number;
  peakMb: number;
  answers: string;
  fetched: number;
  probes: string;
}

/**
 * The data host the references point at: 900 KB of words and 20 MB of one word (what
 * the server holds, not what wordcounter makes of many words), counted.
 */
let fetched = 0;
function dataHost(): Promise<{ server: Server; origin: string }> {
  const small = Buffer.alloc(900 * 1024, 'a ');
  const large = Buffer.alloc(20 * 1024 * 1024, 'b');
  const server = createServer((req, res) => {
    fetched++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url === '/20mb' ? large : small);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

const kb = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** POSTs a body and tells the status (or the error) it ended with. */
function postBody(url: string, body: string): Promise<string> {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' }, signal: AbortSignal.timeout(120_000) }).then(
    async (r) => {
      await r.arrayBuffer();
      return String(r.status);
    },
    (err: Error) => (err.cause as { code?: string } | undefined)?.code ?? err.name,
  );
}

const tally = (answers: string[]) => {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ');
};

async function measure(attack: string, body: (wps: string, origin: string) => Promise<string>, origin: string): Promise<Figures> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = await startNode(
    SERVER,
    ['serve'],
    { PORT: String(port), WPS_BASE_URL: base, WPS_DATA_DIR: benchDirectory('wps-attack-'), WPS_REFERENCE_ALLOW: '127.0.0.1', WPS_LOG_LEVEL: 'error' },
    port,
  );
  const pid = child.pid!;
  try {
    // Warm: the first answers build caches that are not the attack's doing.
    for (let i = 0; i < 20; i++) await fetch(`${base}/wps?service=WPS&request=GetCapabilities`).then((r) => r.arrayBuffer());
    const baseMb = kb(pid, 'VmRSS') / 1024;
    fetched = 0;
    let probing = true;
    const probeResults: number[] = [];
    let probeFailures = 0;
    const prober = (async () => {
      while (probing) {
        const started = performance.now();
        const ok = await fetch(`${base}/wps?service=WPS&request=GetCapabilities`, { signal: AbortSignal.timeout(5000) }).then(
          async (r) => (await r.arrayBuffer(), r.status === 200),
          () => false,
        );
        if (ok) probeResults.push(performance.now() - started);
        else probeFailures++;
        await wait(250);
      }
    })();
    const answers = await body(`${base}/wps`, origin);
    probing = false;
    await prober;
    probeResults.sort((a, b) => a - b);
    const worst = probeResults.at(-1);
    return {
      attack,
      baseMb,
      peakMb: kb(pid, 'VmHWM') / 1024,
      answers,
      fetched,
      probes: `${probeResults.length} answered (slowest ${worst === undefined ? '-' : worst.toFixed(0)} ms), ${probeFailures} not`,
    };
  } finally {
    await stopNode(child);
  }
}

const DESCRIBE = `<wps:DescribeProcess ${WPS_NS} service="WPS" version="1.0.0">${'<ows:Identifier>hello</ows:Identifier>'.repeat(50_000)}</wps:DescribeProcess>`;

/** wordcounter with XML given inline: elements up to the default limits.maxXmlElements. */
const NEAR_CAP = `<wps:Execute service="WPS" version="1.0.0" ${WPS_NS}><ows:Identifier>wordcounter</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>text</ows:Identifier><wps:Data><wps:ComplexData mimeType="text/plain"><doc>${'<w attribute="value">word and words</w>'.repeat(9_990)}</doc></wps:ComplexData></wps:Data></wps:Input></wps:DataInputs></wps:Execute>`;

const references = (n: number, href: string) =>
  `<wps:Execute service="WPS" version="1.0.0" ${WPS_NS}><ows:Identifier>wordcounter</ows:Identifier><wps:DataInputs>${Array.from(
    { length: n },
    () => `<wps:Input><ows:Identifier>text</ows:Identifier><wps:Reference xlink:href="${href}" mimeType="text/plain"/></wps:Input>`,
  ).join('')}</wps:DataInputs></wps:Execute>`;

/** Sends most of a body at once, then a byte a second for `seconds`; resolves with what the server answered. */
function slowUpload(wps: string, size: number, sent: number, seconds: number): Promise<string> {
  const { hostname, port } = new URL(wps);
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), hostname);
    let answer = '';
    let left = seconds;
    const timer = setInterval(() => {
      if (left-- <= 0 || socket.destroyed) {
        clearInterval(timer);
        socket.destroy();
        return;
      }
      socket.write(' ');
    }, 1000);
    socket.on('data', (d) => {
      if (!answer) answer = /^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1] ?? '?';
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(answer || 'no answer');
    });
    socket.write(`POST /wps HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: text/xml\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(sent, ' '));
  });
}

/** The attacks by finding; `node dist/bench/attacks.js 5 6` runs those of findings 5 and 6 only. */
const ATTACKS: [finding: string, name: string, body: (wps: string, origin: string) => Promise<string>][] = [
  ['1', '1,000 references of 900 KB to wordcounter.text (maxOccurs 1), one 138 KB POST', async (wps, o) => tally([await postBody(wps, references(1000, `${o}/900kb`))])],
  ['1', '300 references of 900 KB in one POST', async (wps, o) => tally([await postBody(wps, references(300, `${o}/900kb`))])],
  [
    '1',
    '64 synchronous Executes at once, each one reference of 20 MB (one word), four rounds',
    async (wps, o) => {
      const answers: string[] = [];
      for (let round = 0; round < 4; round++) {
        answers.push(...(await Promise.all(Array.from({ length: 64 }, () => postBody(wps, references(1, `${o}/20mb`))))));
      }
      return tally(answers);
    },
  ],
  [
    '5',
    '300 uploads of 2.9 MB of a 3 MB body, then a byte a second for 15 s',
    async (wps) => tally(await Promise.all(Array.from({ length: 300 }, () => slowUpload(wps, 3_000_000, 2_900_000, 15)))),
  ],
  ['6', `DescribeProcess naming hello 50,000 times (${(DESCRIBE.length / 1e6).toFixed(1)} MB POST), once`, async (wps) => tally([await postBody(wps, DESCRIBE)])],
  ['6', 'the same POST, one after another for 10 s', (wps) => repeatFor(wps, DESCRIBE, 1, 10_000)],
  ['6', 'the same POST, 8 at once for 10 s', (wps) => repeatFor(wps, DESCRIBE, 8, 10_000)],
  ['6', `an Execute of 9,990 elements just under the cap (${(NEAR_CAP.length / 1e6).toFixed(1)} MB), 8 at once for 10 s`, (wps) => repeatFor(wps, NEAR_CAP, 8, 10_000)],
];

async function repeatFor(wps: string, body: string, parallel: number, ms: number): Promise<string> {
  const answers: string[] = [];
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() < until) answers.push(await postBody(wps, body));
    }),
  );
  return tally(answers);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const { server, origin } = await dataHost();
  const rows: Figures[] = [];
  try {
    for (const [finding, name, body] of ATTACKS) {
      if (only.length === 0 || only.includes(finding)) rows.push(await measure(`${finding}. ${name}`, body, origin));
    }
  } finally {
    server.close();
  }
  console.log(`\nServer: ${SERVER}\n`);
  console.log('| attack | RSS before | peak RSS | answers | references fetched | GetCapabilities during |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.attack} | ${r.baseMb.toFixed(0)} MB | ${r.peakMb.toFixed(0)} MB | ${r.answers} | ${r.fetched} | ${r.probes} |`);
  }
}

await main();
