import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProcesses } from '../src/packages/load-processes.js';
import { removeStaleDirectories } from '../src/storage/leftovers.js';
import { expectAllValid, followStatus, statusLocationOf } from './helpers/async.js';
import { expectSchemaValid, parseXml, post } from './helpers/http.js';
import { complex, executeXml, literal } from './helpers/requests.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * Files, not buffers: a handler's working directory, complex inputs as files, file
 * outputs moved into storage. The processes live in a package file of the test's own,
 * so warm runners load them.
 */
const api = pathToFileURL(resolve('dist/src/index.js')).href;
const PACKAGE = `
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { complexInput, complexOutput, defineProcess, literalInput, literalOutput } from '${api}';

/** Writes a file of the given size in its working directory and returns it. */
export const fileOut = defineProcess({
  identifier: 'file_out', title: 'File out',
  inputs: [literalInput('size', { title: 'Bytes', dataType: 'integer' })],
  outputs: [complexOutput('grid', { title: 'Grid', formats: [{ mimeType: 'application/x-netcdf' }] }), literalOutput('workdir', { title: 'Workdir', dataType: 'string' })],
  async handler({ inputs, workdir }) {
    const file = join(workdir, 'grid.nc');
    const size = Number(inputs.literal('size').value);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const out = createWriteStream(file);
    for (let left = size; left > 0; left -= chunk.length) {
      if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => out.once('drain', r));
    }
    await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
    return { grid: { file }, workdir };
  },
});

/** Reads its input as a file and as a stream. */
export const fileIn = defineProcess({
  identifier: 'file_in', title: 'File in',
  inputs: [complexInput('data', { title: 'Data', formats: [{ mimeType: 'text/plain' }] })],
  outputs: [literalOutput('digest', { title: 'SHA-256', dataType: 'string' }), literalOutput('where', { title: 'Path', dataType: 'string' })],
  async handler({ inputs, workdir }) {
    const value = inputs.complex('data');
    const hash = createHash('sha256');
    await pipeline(value.stream(), hash);
    const inside = value.path.startsWith(workdir + '/') && existsSync(value.path);
    return { digest: hash.digest('hex') + ' ' + value.size, where: inside ? 'in workdir' : value.path };
  },
});
`;

let s: TestServer;
beforeAll(async () => {
  const file = join(tempDir('wps-files-package-'), 'index.mjs');
  writeFileSync(file, PACKAGE);
  s = await startTestServer({ references: { allow: ['127.0.0.1'] } }, await loadProcesses([file]));
});
afterAll(() => s?.close());

const asyncForm = (output: string, asReference: boolean) =>
  `<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"><wps:Output asReference="${asReference}"><ows:Identifier>${output}</ows:Identifier></wps:Output><wps:Output><ows:Identifier>workdir</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>`;
const outputsOf = (xml: string) =>
  Object.fromEntries(parseXml(xml).ExecuteResponse.ProcessOutputs.Output.map((o: { Identifier: string }) => [o.Identifier, o])) as Record<string, any>;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('files, not buffers', () => {
  it("a job's complex input by reference is fetched straight into a file of its working directory", async () => {
    // The reference: an output this server stored (loopback is allowed for the test).
    const made = outputsOf((await post(s.wps, executeXml('file_out', literal('size', String(5 * 1024 * 1024)), '<wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="true"><ows:Identifier>grid</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>'))).text);
    const href: string = made.grid.Reference['@href'];
    const expected = sha(Buffer.from(await (await fetch(href)).arrayBuffer()));
    const form = '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm>';
    const r = await post(s.wps, executeXml('file_in', `<wps:Input><ows:Identifier>data</ows:Identifier><wps:Reference xlink:href="${href}" mimeType="text/plain"/></wps:Input>`, form));
    const views = await followStatus(statusLocationOf(r.text));
    await expectAllValid(views);
    const out = outputsOf(views.at(-1)!.xml);
    expect(out.digest.Data.LiteralData['#text']).toBe(`${expected} ${5 * 1024 * 1024}`);
    const workdir = join(s.config.jobsDir, /([0-9a-f-]{36})\.xml$/.exec(statusLocationOf(r.text))![1]!, 'work');
    expect(out.where.Data.LiteralData['#text']).toBe('in workdir');
    expect(readdirSync(workdir).filter((f) => f.startsWith('input-data-'))).toHaveLength(1);
  });

  it("a job's file output is moved from its working directory into storage, and the result file keeps no bytes of it", async () => {
    const r = await post(s.wps, executeXml('file_out', literal('size', String(3 * 1024 * 1024 + 5)), asyncForm('grid', true)));
    expect(r.status, r.text).toBe(200);
    const views = await followStatus(statusLocationOf(r.text));
    await expectAllValid(views);
    const out = outputsOf(views.at(-1)!.xml);
    const href: string = out.grid.Reference['@href'];
    expect(href).toMatch(/\/grid\.nc$/);
    expect(out.grid.Reference['@mimeType']).toBe('application/x-netcdf');
    const body = Buffer.from(await (await fetch(href)).arrayBuffer());
    expect(body.length).toBe(3 * 1024 * 1024 + 5);
    expect(body.every((b) => b === 7)).toBe(true);
    const workdir: string = out.workdir.Data.LiteralData['#text'];
    const jobDir = join(s.config.jobsDir, /([0-9a-f-]{36})\.xml$/.exec(statusLocationOf(r.text))![1]!);
    expect(workdir).toBe(join(jobDir, 'work'));
    expect(readdirSync(workdir)).toEqual([]);
    expect(readFileSync(join(jobDir, 'result.json'), 'utf8').length).toBeLessThan(2000);
  });

  it('a file output asked inline but over 16 MB is given by reference', async () => {
    const r = await post(s.wps, executeXml('file_out', literal('size', String(17 * 1024 * 1024)), asyncForm('grid', false)));
    const views = await followStatus(statusLocationOf(r.text));
    await expectAllValid(views);
    const out = outputsOf(views.at(-1)!.xml);
    expect(out.grid.Data).toBeUndefined();
    expect(out.grid.Reference['@href']).toMatch(/\/grid\.nc$/);
  });

  it('a synchronous run has a working directory too, removed when it has answered', async () => {
    const r = await post(s.wps, executeXml('file_out', literal('size', '1000'), '<wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="true"><ows:Identifier>grid</ows:Identifier></wps:Output><wps:Output><ows:Identifier>workdir</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>'));
    await expectSchemaValid(r.text);
    const out = outputsOf(r.text);
    expect((await (await fetch(out.grid.Reference['@href'])).arrayBuffer()).byteLength).toBe(1000);
    expect(existsSync(out.workdir.Data.LiteralData['#text'])).toBe(false);
    expect(readdirSync(join(s.config.jobsDir, 'sync'))).toEqual([]);
  });

  it('a complex input is a file and a stream for the handler, in a synchronous run and in a job', async () => {
    const text = 'words '.repeat(10_000);
    const sync = outputsOf((await post(s.wps, executeXml('file_in', complex('data', text)))).text);
    expect(sync.digest.Data.LiteralData['#text']).toBe(`${sha(Buffer.from(text))} ${text.length}`);
    expect(sync.where.Data.LiteralData['#text']).toBe('in workdir');
    const form = '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm>';
    const r = await post(s.wps, executeXml('file_in', complex('data', text), form));
    const job = outputsOf((await followStatus(statusLocationOf(r.text))).at(-1)!.xml);
    expect(job.digest.Data.LiteralData['#text']).toBe(`${sha(Buffer.from(text))} ${text.length}`);
    expect(job.where.Data.LiteralData['#text']).toBe('in workdir');
  });

  it('working directories a killed server left behind are swept once stale, never one in use', async () => {
    const root = tempDir('wps-sync-dirs-');
    mkdirSync(join(root, 'old'));
    writeFileSync(join(root, 'old', 'value-1'), 'x');
    mkdirSync(join(root, 'current'));
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(root, 'old'), hourAgo, hourAgo);
    expect(await removeStaleDirectories(root, 10 * 60_000)).toBe(1);
    expect(readdirSync(root)).toEqual(['current']);
  });
});
