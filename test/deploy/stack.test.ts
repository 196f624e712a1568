// The deployment as docker-compose.yml describes it: images built, the stack up, jobs
// through GridEngine and Slurm on their nodes, the server killed mid-job and started
// again, everything torn down. Run by `npm run test:deploy` (scripts/deploy-deps.sh
// first), not by `npm test`.
import { spawn } from 'node:child_process';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAllValid, followStatus, statusLocationOf, statusOf, type StatusView } from '../helpers/async.js';
import { expectSchemaValid, get } from '../helpers/http.js';
import { freePort } from '../helpers/server.js';

const PROJECT = 'wps-deploy-test';
const LABEL = `com.docker.compose.project=${PROJECT}`;
const IMAGE_LABEL = 'org.opencontainers.image.title=wps-scheduler';

let port = 0;
let base = '';
let scheduler = 'gridengine';

/**
 * A command's stdout. Its stdin is closed, and it is judged by its exit: a process it
 * leaves behind holding the output pipes does not keep the test waiting. Past
 * `timeoutMs` it is killed and the test fails, naming it.
 */
function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 5 * 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // The last output arrives with the pipes' end, a moment after the exit at most.
      const settle = () => {
        if (code === 0) resolve(out);
        else reject(new Error(`${cmd} ${args.join(' ')}: ${signal ? `killed after ${timeoutMs} ms` : `exit ${code}`}\n${out.slice(-4000)}\n${err.slice(-4000)}`));
      };
      if (child.stdout.readableEnded && child.stderr.readableEnded) settle();
      else {
        const fallback = setTimeout(settle, 1000);
        child.on('close', () => {
          clearTimeout(fallback);
          settle();
        });
      }
    });
  });
}

const stackEnv = () => ({ WPS_STACK: PROJECT, WPS_PORT: String(port), WPS_BASE_URL: base, WPS_SCHEDULER: scheduler });

/** docker compose on the test's own project, port and scheduler. */
const compose = (...args: string[]): Promise<string> => run('docker', ['compose', ...args], stackEnv());

/** A command in one of the stack's containers. */
const inContainer = (service: string, ...cmd: string[]): Promise<string> => compose('exec', '-T', service, ...cmd);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await wait(250);
  }
}

async function submitSleep(delay: number): Promise<{ id: string; location: string }> {
  const r = await get(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=sleep&DataInputs=delay=${delay}&storeExecuteResponse=true&status=true`);
  expect(r.status).toBe(200);
  await expectSchemaValid(r.text);
  expect(statusOf(r.text).name).toBe('ProcessAccepted');
  const location = statusLocationOf(r.text);
  const id = /([0-9a-f-]{36})\.xml$/.exec(location)?.[1];
  expect(id, location).toBeDefined();
  return { id: id as string, location };
}

/** The job's documents until it ends: valid, in order, succeeded with its output. */
async function expectSucceeded(location: string): Promise<StatusView[]> {
  const views = await followStatus(location, { intervalMs: 200, timeoutMs: 120_000 });
  await expectAllValid(views);
  const last = views[views.length - 1] as StatusView;
  expect(last.name, last.message).toBe('ProcessSucceeded');
  expect(last.xml).toContain('done sleeping');
  return views;
}

/** The document on the shared volume, as a compute node sees it, is the one served. */
async function expectOnSharedVolume(node: string, id: string, served: string): Promise<void> {
  expect(await inContainer(node, 'cat', `/data/outputs/${id}.xml`)).toBe(served);
  // The job's directory belongs to the user jobs run as, not root.
  expect((await inContainer(node, 'stat', '-c', '%U', `/data/jobs/${id}`)).trim()).toBe('wps');
}

describe('docker compose deployment', () => {
  beforeAll(async () => {
    port = await freePort();
    base = `http://localhost:${port}`;
    await compose('down', '--volumes', '--remove-orphans', '--timeout', '5');
    const built = Date.now();
    // The first build makes every layer (apt, npm): it gets longer than other commands.
    await run('docker', ['compose', 'build'], stackEnv(), 30 * 60_000);
    // A rebuild leaves the images it replaced without a name: none stays behind.
    await run('docker', ['image', 'prune', '--force', '--filter', `label=${IMAGE_LABEL}`]);
    console.log(`[deploy] images built in ${((Date.now() - built) / 1000).toFixed(1)} s`);
    const up = Date.now();
    await compose('up', '--detach');
    await until('GetCapabilities', async () => {
      const r = await fetch(`${base}/wps?service=WPS&request=GetCapabilities`, { signal: AbortSignal.timeout(5000) });
      return r.status === 200 ? true : undefined;
    });
    console.log(`[deploy] docker compose up to the first GetCapabilities answer: ${((Date.now() - up) / 1000).toFixed(1)} s`);
    await compose('up', '--detach', '--wait');
  }, 30 * 60_000);

  afterAll(async () => {
    await compose('down', '--volumes', '--remove-orphans', '--timeout', '5');
    await run('docker', ['image', 'prune', '--force', '--filter', `label=${IMAGE_LABEL}`]);
  }, 120_000);

  it('answers GetCapabilities and a synchronous hello, schema-valid', async () => {
    const caps = await get(`${base}/wps?service=WPS&request=GetCapabilities`);
    expect(caps.status).toBe(200);
    await expectSchemaValid(caps.text);
    expect(caps.text).toContain('<ows:Identifier>sleep</ows:Identifier>');
    const hello = await get(`${base}/wps?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=Compose&RawDataOutput=output`);
    expect(hello.status).toBe(200);
    expect(hello.text).toBe('Hello Compose');
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
  });

  it('runs an asynchronous job on the GridEngine node, as wps, and GridEngine accounts for it', async () => {
    const { id, location } = await submitSleep(2);
    const views = await expectSucceeded(location);
    expect(views.some((v) => v.name === 'ProcessStarted')).toBe(true);
    await expectOnSharedVolume('sge-exec', id, (views[views.length - 1] as StatusView).xml);
    const acct = await until('qacct record', async () => {
      const out = await inContainer('wps', 'qacct', '-j', `wps-sleep-${id}`);
      return out.includes('exit_status') ? out : undefined;
    }, 30_000);
    expect(acct).toMatch(/^hostname\s+sge-exec\s*$/m);
    expect(acct).toMatch(/^owner\s+wps\s*$/m);
    expect(acct).toMatch(/^exit_status\s+0\s*$/m);
  });

  it('the wps command in the server container runs a process', async () => {
    const out = await inContainer('wps', 'node', 'dist/src/cli/wps.js', '--url', 'http://localhost:5000/wps', 'hello', '--name', 'CLI');
    expect(out.trim()).toBe('output: Hello CLI');
  });

  it('a job outlives a killed server: started again, the job ends once, succeeded', async () => {
    const { id, location } = await submitSleep(10);
    await until('the job running on the node', async () => {
      const r = await get(location);
      return statusOf(r.text).name === 'ProcessStarted' ? true : undefined;
    }, 60_000);
    await compose('kill', 'wps');
    await expect(fetch(`${base}/wps?service=WPS&request=GetCapabilities`)).rejects.toThrow();
    await compose('start', 'wps');
    await until('the server ready again', async () => ((await fetch(`${base}/ready`, { signal: AbortSignal.timeout(5000) })).status === 200 ? true : undefined));
    const views = await expectSucceeded(location);
    await expectOnSharedVolume('sge-exec', id, (views[views.length - 1] as StatusView).xml);
    // Started once: one line in the job's attempts, one job in GridEngine's accounting.
    const attempts = await inContainer('wps', 'cat', `/data/jobs/${id}/attempts`);
    expect(attempts.trim().split('\n')).toHaveLength(1);
    const acct = await until('qacct record', async () => {
      const out = await inContainer('wps', 'qacct', '-j', `wps-sleep-${id}`);
      return out.includes('exit_status') ? out : undefined;
    }, 30_000);
    expect(acct.match(/^jobnumber\s/gm)).toHaveLength(1);
    expect(acct).toMatch(/^exit_status\s+0\s*$/m);
  });

  it('with WPS_SCHEDULER=slurm, runs the job on the Slurm node, and Slurm accounts for it', async () => {
    scheduler = 'slurm';
    await compose('up', '--detach', '--wait', 'wps');
    const { id, location } = await submitSleep(2);
    const views = await expectSucceeded(location);
    await expectOnSharedVolume('slurm-node', id, (views[views.length - 1] as StatusView).xml);
    const record = await until('job completion record', async () => {
      const log = await inContainer('slurmctld', 'cat', '/var/lib/slurm/slurmctld/jobcomp.log');
      return log.split('\n').find((line) => line.includes(`Name=wps-sleep-${id} `));
    }, 30_000);
    expect(record).toContain('UserId=wps(1000)');
    expect(record).toContain('JobState=COMPLETED');
    expect(record).toContain('NodeList=slurm-node');
    expect(record).toContain('ExitCode=0:0');
  });

  it('down --volumes leaves no container, volume, network or unnamed image of the stack', async () => {
    await compose('down', '--volumes', '--remove-orphans', '--timeout', '5');
    await run('docker', ['image', 'prune', '--force', '--filter', `label=${IMAGE_LABEL}`]);
    expect(await run('docker', ['ps', '--all', '--quiet', '--filter', `label=${LABEL}`])).toBe('');
    expect(await run('docker', ['volume', 'ls', '--quiet', '--filter', `label=${LABEL}`])).toBe('');
    expect(await run('docker', ['network', 'ls', '--quiet', '--filter', `label=${LABEL}`])).toBe('');
    expect(await run('docker', ['images', '--quiet', '--filter', 'dangling=true', '--filter', `label=${IMAGE_LABEL}`])).toBe('');
  });
});
