/**
 * `npm run bench:users`: accepted submissions per second with authentication and quotas
 * on, beside the same server with both off, in one run (alternating, fresh servers on
 * Postgres). On: a static API token, and an OIDC access token verified against a
 * loopback issuer's keys; every submission checked against the user's running, waiting
 * and core-hour quotas in the insert (limits set high enough never to refuse). One user
 * is the worst case (all their submissions and job ends meet on one row); 20 users
 * sending in turn are the other kind.
 * Goal: at least 90 % of off.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closedLoop } from './submitters.js';
import { SLEEP_SUBMISSION } from './async.js';
import { freePort } from './free-port.js';
import { BENCH_DATABASE_URL, benchDirectory, dropBenchSchema, requireWrk, settleDisk, startNode, stopNode } from './harness.js';
import { startTestIssuer } from '../test/helpers/oidc-issuer.js';
import { hashSecret } from '../src/secrets.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TOKEN = 'wps_bench-token-0123456789abcdef';

type Kind = 'off' | 'token without quotas' | 'static token' | 'OIDC token' | '20 users with quotas';

/** Users of the many-users kind, each with a static token: submissions go round them. */
const USERS = Array.from({ length: 20 }, (_, i) => ({ user: `user${i}`, token: `wps_bench-user-${i}-0123456789abcdef` }));

async function measure(kind: Kind, issuer: string, jwt: string): Promise<number> {
  const port = await freePort();
  const data = benchDirectory('wps-bench-users-');
  const schema = `bench_users_${Date.now()}`;
  const config = join(data, 'config.json');
  const many = 1_000_000_000;
  writeFileSync(
    config,
    JSON.stringify(
      kind === 'off'
        ? {}
        : {
            auth: { issuer, audience: 'wps', tokens: [{ user: 'bench', sha256: hashSecret(TOKEN) }, ...USERS.map((u) => ({ user: u.user, sha256: hashSecret(u.token) }))] },
            ...(kind === 'token without quotas' ? {} : { quotas: { default: { running: many, waiting: many, coreHours: many, period: 'month' } } }),
          },
    ),
  );
  const server = await startNode(
    'dist/src/cli/main.js',
    ['serve'],
    {
      PORT: String(port),
      WPS_CONFIG: config,
      WPS_DATA_DIR: data,
      UV_THREADPOOL_SIZE: '16',
      WPS_LOG_LEVEL: 'warn',
      WPS_MAX_WAITING_JOBS: '1000000',
      DATABASE_URL: BENCH_DATABASE_URL,
      WPS_DB_SCHEMA: schema,
    },
    port,
  );
  try {
    await settleDisk();
    const headers = kind === 'off' || kind === '20 users with quotas' ? [] : [`Authorization: Bearer ${kind === 'OIDC token' ? jwt : TOKEN}`];
    let script: string | undefined;
    if (kind === '20 users with quotas') {
      // wrk sends each request with the next user's token.
      script = join(data, 'users.lua');
      writeFileSync(
        script,
        // Requests made once, in init: formatting one per request cost wrk CPU that the
        // kinds without a script did not spend, on the same two cores.
        `local tokens = { ${USERS.map((u) => `"${u.token}"`).join(', ')} }\nlocal requests = {}\nlocal i = 0\ninit = function()\n  for k, t in ipairs(tokens) do requests[k] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. t }) end\nend\nrequest = function()\n  i = i + 1\n  return requests[(i % #requests) + 1]\nend\n`,
      );
    }
    const r = await closedLoop(`http://127.0.0.1:${port}${SLEEP_SUBMISSION}`, CONNECTIONS, SECONDS, headers, script);
    if (r.errors !== 0) throw new Error(`${kind}: ${r.errors} errors`);
    return r.perSecond;
  } finally {
    await stopNode(server);
    await dropBenchSchema(schema);
  }
}

async function main(): Promise<void> {
  await requireWrk();
  const issuer = await startTestIssuer('wps');
  try {
    const jwt = await issuer.token({ user: 'bench-oidc' });
    const kinds: Kind[] = (process.env.BENCH_KINDS?.split(',') as Kind[] | undefined) ?? ['off', 'token without quotas', 'static token', 'OIDC token', '20 users with quotas'];
    const figures = new Map<Kind, number[]>(kinds.map((k) => [k, []]));
    // The disk's state drifts as servers leave their files behind: each round starts with
    // another kind, and each kind is judged against the off measured in the same round.
    const ratios = new Map<Kind, number[]>(kinds.map((k) => [k, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      const order = kinds.map((_, i) => kinds[(i + round - 1) % kinds.length]!);
      const thisRound = new Map<Kind, number>();
      for (const kind of order) {
        const perSecond = await measure(kind, issuer.issuer, jwt);
        figures.get(kind)!.push(perSecond);
        thisRound.set(kind, perSecond);
        console.log(`round ${round}: ${kind.padEnd(21)} ${perSecond.toFixed(0)} accepted submissions/s`);
      }
      for (const kind of kinds) ratios.get(kind)!.push(thisRound.get(kind)! / thisRound.get('off')!);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\n${ROUNDS} rounds, ${CONNECTIONS} connections, closed loop (wrk), Postgres; against the same round's off:`);
    for (const kind of kinds) {
      const r = ratios.get(kind)!;
      console.log(
        `  ${kind.padEnd(21)} median ${(median(r) * 100).toFixed(1)} % (rounds: ${r.map((x) => `${(x * 100).toFixed(0)} %`).join(', ')}), best ${Math.max(...figures.get(kind)!).toFixed(0)}/s  (goal: at least 90 %)`,
      );
    }
  } finally {
    await issuer.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
