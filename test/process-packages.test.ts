import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAllValid, followStatus, statusLocationOf } from './helpers/async.js';
import { spawnServer, type ChildServer } from './helpers/child-server.js';
import { expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { complex, executeXml, literal } from './helpers/requests.js';
import { freePort } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * Process packages, as an operator offers them: the example package (examples/) is
 * installed in a directory outside the repository with npm, named in WPS_PROCESSES,
 * and the built server offers and runs what it exports.
 */
const run = promisify(execFile);
const REPO = resolve('.');

let server: ChildServer;
let base = '';
let packageDir = '';
beforeAll(async () => {
  packageDir = join(tempDir('wps-package-'), 'example');
  cpSync(join(REPO, 'examples/process-package'), packageDir, { recursive: true });
  // What an operator does: install the server's package (here from its directory) beside
  // it. Its prepare script (the build) is skipped: `npm test` has built it, and building
  // again would rewrite dist/ under the other test files' runners.
  await run('npm', ['install', '--no-audit', '--no-fund', '--offline', '--ignore-scripts', REPO], { cwd: packageDir });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await spawnServer({ PORT: String(port), WPS_BASE_URL: base, WPS_DATA_DIR: tempDir('wps-package-data-'), WPS_PROCESSES: packageDir });
});
afterAll(() => server?.stop());

describe('a process package named in WPS_PROCESSES', () => {
  it('is offered: GetCapabilities and DescribeProcess list its processes and no others', async () => {
    const caps = await get(`${base}/wps?service=WPS&request=GetCapabilities`);
    await expectSchemaValid(caps.text);
    const offered = parseXml(caps.text).Capabilities.ProcessOfferings.Process.map((p: { Identifier: string }) => p.Identifier);
    expect(offered).toEqual(['line_stats', 'shout']);
    const described = await get(`${base}/wps?service=WPS&request=DescribeProcess&version=1.0.0&identifier=ALL`);
    await expectSchemaValid(described.text);
    const shout = parseXml(described.text).ProcessDescriptions.ProcessDescription.find((p: { Identifier: string }) => p.Identifier === 'shout');
    expect(shout.DataInputs.Input.map((i: { Identifier: string }) => i.Identifier)).toEqual(['text', 'times']);
  });

  it('runs synchronously, and a ProcessError reaches the client', async () => {
    const r = await post(`${base}/wps`, executeXml('shout', literal('text', 'hi') + literal('times', '2')));
    await expectSchemaValid(r.text);
    expect(parseXml(r.text).ExecuteResponse.ProcessOutputs.Output[0].Data.LiteralData['#text']).toBe('HI HI');
    const failed = await post(`${base}/wps`, executeXml('shout', literal('text', ' ')));
    await expectSchemaValid(failed.text);
    expect(parseXml(failed.text).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText).toBe('There is nothing to shout');
  });

  it('runs asynchronously in a warm runner, which loads the package the job names', async () => {
    const text = Array.from({ length: 2500 }, (_, i) => `line ${i}`).join('\n');
    const form = '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm>';
    const r = await post(`${base}/wps`, executeXml('line_stats', complex('text', text), form));
    expect(r.status, r.text).toBe(200);
    const views = await followStatus(statusLocationOf(r.text));
    await expectAllValid(views);
    const final = parseXml(views.at(-1)!.xml).ExecuteResponse;
    expect(final.Status.ProcessSucceeded).toBeDefined();
    const outputs = Object.fromEntries(final.ProcessOutputs.Output.map((o: { Identifier: string; Data: unknown }) => [o.Identifier, o.Data]));
    expect((outputs.lines as { LiteralData: { '#text': string } }).LiteralData['#text']).toBe('2500');
    expect(JSON.parse((outputs.stats as { ComplexData: { '#text': string } }).ComplexData['#text'])).toEqual({ lines: 2500, longest: 9 });
  });
});

describe('a package that cannot be offered stops the server at start, saying which and why in one line', () => {
  const serveWith = async (processes: string): Promise<{ code: number | null; lines: string[] }> => {
    const port = await freePort();
    return new Promise((resolvePromise) => {
      const child = execFile(process.execPath, ['dist/src/cli/main.js', 'serve'], {
        env: { ...process.env, PORT: String(port), WPS_DATA_DIR: tempDir('wps-bad-package-'), WPS_PROCESSES: processes },
      });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      child.on('exit', (code) => resolvePromise({ code, lines: err.trim().split('\n') }));
    });
  };
  const dir = () => tempDir('wps-bad-modules-');

  it.each([
    ['a module that throws as it loads', { 'broken.mjs': "throw new Error('no licence file found');" }, 'broken.mjs', /broken\.mjs: could not be loaded: no licence file found$/],
    ['a module that exports no process', { 'empty.mjs': 'export const answer = 42;' }, 'empty.mjs', /empty\.mjs: exports no process/],
    ['a default export that is not a process', { 'plain.mjs': "export default { identifier: 'x', handler() {} };" }, 'plain.mjs', /plain\.mjs: the default export is not a process made by defineProcess/],
    ['a directory with neither a package.json nor .cwl files', { 'sub/x.txt': '' }, 'sub', /sub: is a directory with neither a package\.json nor \.cwl files/],
    ['a CWL file that is not valid CWL', { 'bad.cwl': 'cwlVersion: v1.2\nclass: CommandLineTool\ninputs: 3\n' }, 'bad.cwl', /bad\.cwl: not a valid CWL document/],
    ['a CWL workflow, not a command-line tool', { 'flow.cwl': 'cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps: []\n' }, 'flow.cwl', /flow\.cwl: is a Workflow, not a CommandLineTool/],
    ['a path that does not exist', {}, 'missing.mjs', /missing\.mjs: no such file or directory/],
  ])('%s', async (_, files: Record<string, string>, name: string, reason: RegExp) => {
    const where = dir();
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(where, file, '..'), { recursive: true });
      writeFileSync(join(where, file), text);
    }
    const { code, lines } = await serveWith(join(where, name));
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^configuration error: processes: /);
    expect(lines[0]).toMatch(reason);
  });

  it('a package that is not installed', async () => {
    const { code, lines } = await serveWith('no-such-wps-package');
    expect({ code, lines }).toEqual({ code: 1, lines: ['configuration error: processes: no-such-wps-package: no such package installed (npm install it, or give a path)'] });
  });

  it('an identifier another package already offers', async () => {
    const { code, lines } = await serveWith(`${packageDir},${packageDir}/index.js`);
    expect(code).toBe(1);
    expect(lines).toEqual([`configuration error: processes: ${packageDir}/index.js: process line_stats is already offered by ${packageDir}`]);
  });
});
