import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { republishStaleDocuments } from '../src/processing/stale-documents.js';
import type { JobSpec } from '../src/runner-contract.js';
import { expectAllValid, followStatus, statusLocationOf, statusOf } from './helpers/async.js';
import { exceptionOf, expectSchemaValid, get } from './helpers/http.js';
import { privatePostgres, privateRedis } from './helpers/private-services.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { smallDisk } from './helpers/temp-dir.js';

/**
 * Faults: each case ends with every job in a terminal state, the right status
 * document, no job run twice and nothing half-made.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const submit = (s: TestServer, q: string) => get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&storeExecuteResponse=true&status=true&${q}`);
const idOf = (location: string) => /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
const attempts = (s: TestServer, location: string) => readFileSync(join(s.config.jobsDir, idOf(location), 'attempts'), 'utf8').trim().split('\n').length;

async function waitFor(location: string, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (statusOf(await (await fetch(location)).text()).name === name) return;
    await wait(25);
  }
  throw new Error(`${location} never ${name}`);
}

describe('faults', () => {
  it('Redis stopped and restarted empty while jobs wait: no submission half-made, every job runs once', async () => {
    const redis = await privateRedis();
    cleanups.push(() => redis.dispose());
    const s = await startTestServer({ queue: { redisUrl: redis.url, lock: 2 }, jobs: { parallel: 1, requeueInterval: 1 } }, undefined, { store: 'postgres' });
    cleanups.push(() => s.close());
    const running = statusLocationOf((await submit(s, 'identifier=sleep&DataInputs=delay=1.5')).text);
    await waitFor(running, 'ProcessStarted');
    const waiting = [statusLocationOf((await submit(s, 'identifier=hello&DataInputs=name=a')).text), statusLocationOf((await submit(s, 'identifier=hello&DataInputs=name=b')).text)];
    await redis.stop();
    const busy = await submit(s, 'identifier=hello&DataInputs=name=lost');
    expect(exceptionOf(busy.text).code).toBe('ServerBusy');
    expect(busy.status).toBe(503);
    expect((await s.services.store.unfinished()).length).toBe(3);
    await redis.start();
    for (const l of [running, ...waiting]) {
      const views = await followStatus(l, { timeoutMs: 30_000 });
      expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
      expect(attempts(s, l)).toBe(1);
    }
  }, 60_000);

  it('Postgres away at submit time: a clean ExceptionReport, no job, no document; away during a job: the state catches up', async () => {
    const pg = await privatePostgres();
    cleanups.push(() => pg.dispose());
    const s = await startTestServer({ database: { url: pg.url }, jobs: { requeueInterval: 1 } }, undefined, { store: 'postgres' });
    cleanups.push(() => s.close());
    const location = statusLocationOf((await submit(s, 'identifier=sleep&DataInputs=delay=2')).text);
    await waitFor(location, 'ProcessStarted');
    await pg.stop();
    const documentsBefore = readdirSync(s.config.storageDir).length;
    const r = await submit(s, 'identifier=hello&DataInputs=name=x');
    expect(r.status).toBe(500);
    expect(exceptionOf(r.text)).toMatchObject({ code: 'NoApplicableCode', text: 'The job store is not available; try again later' });
    await expectSchemaValid(r.text);
    expect(readdirSync(s.config.storageDir).length).toBe(documentsBefore);
    // The job finishes while the database is away; its result waits on storage.
    await wait(3000);
    await pg.start();
    const views = await followStatus(location, { timeoutMs: 30_000 });
    await expectAllValid(views);
    expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
    expect(attempts(s, location)).toBe(1);
    expect((await s.services.store.get(idOf(location)))!.state).toBe('succeeded');
  }, 60_000);

  it('read-only storage: submissions refused cleanly; full storage: the job fails with a reason; the server stays up', async () => {
    const disk = smallDisk('wps-small-', '512k');
    cleanups.push(() => disk.unmount());
    const dir = disk.dir;
    const s = await startTestServer({ storage: { dir } }, undefined, { store: 'postgres' });
    cleanups.push(() => s.close());
    // Full: an output larger than the disk; the status documents still fit.
    const words = Array.from({ length: 60_000 }, (_, i) => `w${i}`).join(' ');
    const body = `<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Identifier>wordcounter</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>text</ows:Identifier><wps:Data><wps:ComplexData mimeType="text/plain">${words}</wps:ComplexData></wps:Data></wps:Input></wps:DataInputs><wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"><wps:Output asReference="true"><ows:Identifier>output</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm></wps:Execute>`;
    const full = await fetch(s.wps, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
    const views = await followStatus(statusLocationOf(await full.text()), { timeoutMs: 30_000 });
    const final = views[views.length - 1]!;
    expect(final.name).toBe('ProcessFailed');
    expect(final.xml).toMatch(/exceptionCode="NotEnoughStorage"[^>]*locator="output"/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Read-only: nothing can be accepted, and nothing is left half-made.
    disk.readOnly(true);
    const before = (await s.services.store.list({ limit: 1, offset: 0 })).total;
    const ro = await submit(s, 'identifier=hello&DataInputs=name=x');
    expect(exceptionOf(ro.text)).toMatchObject({ code: 'NoApplicableCode', text: 'The status document could not be stored (EROFS)' });
    expect((await s.services.store.list({ limit: 1, offset: 0 })).total).toBe(before);
    expect((await get(`${s.wps}?service=WPS&request=GetCapabilities`)).status).toBe(200);
    disk.readOnly(false);
  }, 60_000);

  it('storage read-only while jobs run: they end with a reason, and their documents catch up once storage is back', async () => {
    const disk = smallDisk('wps-readonly-', '4m');
    cleanups.push(() => disk.unmount());
    const dir = disk.dir;
    const s = await startTestServer({ storage: { dir } });
    cleanups.push(() => s.close());
    const sleeping = statusLocationOf((await submit(s, 'identifier=sleep&DataInputs=delay=1')).text);
    // An output by reference has to be stored on the storage that is about to refuse it.
    const counting = statusLocationOf(
      (await submit(s, 'identifier=wordcounter&DataInputs=text=one%20two%20two@mimeType=text/plain&ResponseDocument=output@asReference=true')).text,
    );
    disk.readOnly(true);
    const ids = [idOf(sleeping), idOf(counting)];
    for (let i = 0; i < 200 && (await Promise.all(ids.map((id) => s.services.store.get(id)))).some((j) => j!.finishedAt === null); i++) await wait(50);
    // The rows have ended; what pollers see is the last document storage took, whole.
    expect((await s.services.store.get(idOf(sleeping)))!.state).toBe('succeeded');
    const refused = (await s.services.store.get(idOf(counting)))!;
    expect(refused.state).toBe('failed');
    expect(refused.failureReason).toMatch(/EROFS/);
    for (const location of [sleeping, counting]) {
      const doc = await (await fetch(location)).text();
      expect(statusOf(doc).name).toBe('ProcessAccepted');
      await expectSchemaValid(doc);
    }
    expect((await get(`${s.url}/ready`)).status).toBe(503);
    expect((await get(`${s.url}/metrics`)).text).toMatch(/^wps_status_documents_unwritten 2$/m);
    expect((await get(`${s.wps}?service=WPS&request=GetCapabilities`)).status).toBe(200);
    disk.readOnly(false);
    const [succeeded, failed] = await Promise.all([followStatus(sleeping, { timeoutMs: 15_000 }), followStatus(counting, { timeoutMs: 15_000 })]);
    expect(succeeded[succeeded.length - 1]!.name).toBe('ProcessSucceeded');
    expect(succeeded[succeeded.length - 1]!.xml).toContain('done sleeping');
    const final = failed[failed.length - 1]!;
    expect(final.name).toBe('ProcessFailed');
    expect(final.xml).toMatch(/exceptionCode="NoApplicableCode"[^>]*locator="output"[^>]*>\s*<ows:ExceptionText>Output output could not be stored \(EROFS\)/);
    await expectAllValid([...succeeded, ...failed]);
    expect((await get(`${s.url}/metrics`)).text).toMatch(/^wps_status_documents_unwritten 0$/m);
    expect((await get(`${s.url}/ready`)).status).toBe(200);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it('jobs directory full, then read-only: jobs fail with the reason in their documents, never the server\'s paths', async () => {
    const disk = smallDisk('wps-jobs-small-', '256k');
    cleanups.push(() => disk.unmount());
    const dir = disk.dir;
    const s = await startTestServer({ jobs: { dir } });
    cleanups.push(() => s.close());
    try {
      writeFileSync(join(dir, 'filler'), Buffer.alloc(512 * 1024));
    } catch {
      // full now
    }
    const full = await followStatus(statusLocationOf((await submit(s, 'identifier=hello&DataInputs=name=x')).text));
    expect(full[full.length - 1]!.xml).toMatch(/exceptionCode="NotEnoughStorage"[^>]*>\s*<ows:ExceptionText>Not enough storage to keep the job's files</);
    disk.readOnly(true);
    const readOnly = await followStatus(statusLocationOf((await submit(s, 'identifier=hello&DataInputs=name=y')).text));
    expect(readOnly[readOnly.length - 1]!.xml).toMatch(/exceptionCode="NoApplicableCode"[^>]*>\s*<ows:ExceptionText>The job's files could not be stored \(EROFS\)</);
    await expectAllValid([...full, ...readOnly]);
    for (const v of [...full, ...readOnly]) expect(v.xml).not.toContain(dir);
    expect((await get(`${s.wps}?service=WPS&request=GetCapabilities`)).status).toBe(200);
    disk.readOnly(false);
  }, 30_000);

  it("temporary files and documents without a job, left by a kill, are swept, and a job's document kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wps-leftovers-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const leftover = join(dir, '.5f0c3d2e-aaaa-bbbb-cccc-000000000000.xml.0123456789ab.tmp');
    const orphan = join(dir, '5f0c3d2e-aaaa-bbbb-cccc-000000000000.xml');
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const f of [leftover, orphan]) {
      writeFileSync(f, '<partial');
      utimesSync(f, hourAgo, hourAgo);
    }
    const s = await startTestServer({ storage: { dir } });
    cleanups.push(() => s.close());
    const location = statusLocationOf((await submit(s, 'identifier=sleep&DataInputs=delay=0')).text);
    for (let i = 0; i < 100 && (existsSync(leftover) || existsSync(orphan)); i++) await wait(50);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    await waitFor(location, 'ProcessSucceeded');
    expect(existsSync(join(dir, `${idOf(location)}.xml`))).toBe(true);
  });

  it('a finished job whose document a kill left behind its row gets its final document back', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.close());
    const accepted = (await submit(s, 'identifier=sleep&DataInputs=delay=0')).text;
    const location = statusLocationOf(accepted);
    await waitFor(location, 'ProcessSucceeded');
    // As if the server died after committing the end and before writing the document.
    const path = join(s.config.storageDir, `${idOf(location)}.xml`);
    writeFileSync(path, accepted);
    const since = new Date(Date.now() - 60_000);
    expect(await republishStaleDocuments(s.services.store, s.services.publisher, since, 10)).toBe(1);
    const doc = readFileSync(path, 'utf8');
    expect(statusOf(doc).name).toBe('ProcessSucceeded');
    await expectSchemaValid(doc);
    expect(await republishStaleDocuments(s.services.store, s.services.publisher, since, 10)).toBe(0);
  });

  it('garbage from a runner is refused or bounded; the job ends as it should', async () => {
    const s = await startTestServer({}, undefined, { store: 'postgres' });
    cleanups.push(() => s.close());
    const location = statusLocationOf((await submit(s, 'identifier=sleep&DataInputs=delay=2')).text);
    await waitFor(location, 'ProcessStarted');
    const id = idOf(location);
    const spec = JSON.parse(readFileSync(join(s.config.jobsDir, id, 'job.json'), 'utf8')) as JobSpec;
    const report = (body: string) =>
      fetch(spec.reportUrl.replace(/^http:\/\/[^/]+/, s.url), { method: 'POST', headers: { authorization: `Bearer ${spec.secret}` }, body });
    expect((await report('{not json')).status).toBe(400);
    expect((await report(JSON.stringify({ event: 'progress', percent: 'lots' }))).status).toBe(400);
    expect((await report(JSON.stringify({ event: 'explode' }))).status).toBe(400);
    expect((await report(JSON.stringify({ event: 'progress', percent: 1e12, message: 'x'.repeat(5000) }))).status).toBe(200);
    const doc = statusOf(await (await fetch(location)).text());
    expect(doc.percent).toBe(99);
    expect(doc.message.length).toBe(1000);
    await expectSchemaValid(doc.xml);
    expect((await report(JSON.stringify({ event: 'progress', percent: -50 }))).status).toBe(200);
    expect(statusOf(await (await fetch(location)).text()).percent).toBe(99);
    expect((await report(JSON.stringify({ event: 'progress', percent: 1, message: 'x'.repeat(70 * 1024) }))).status).toBe(400);
    const views = await followStatus(location);
    expect(views[views.length - 1]!.name).toBe('ProcessSucceeded');
  }, 30_000);
});

