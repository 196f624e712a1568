import { execFile } from 'node:child_process';
import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProcesses } from '../src/packages/load-processes.js';
import { expectAllValid, followStatus, statusLocationOf } from './helpers/async.js';
import { expectException, expectSchemaValid, get, parseXml, post } from './helpers/http.js';
import { complex, executeXml, literal } from './helpers/requests.js';
import { spawnCli } from './helpers/child-server.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * CWL CommandLineTools offered as processes (the directory test/cwl, as an operator
 * names one in WPS_PROCESSES) and run by cwltool, with real tools from Debian's
 * packages: printf, GDAL's gdalinfo on a GeoTIFF gdal_translate made, CDO's fldmean on a
 * NetCDF file CDO made. Each result is compared with cwltool run directly on the same
 * tool and inputs.
 */
const run = promisify(execFile);
const TOOLS = resolve('test/cwl');
const needs = ['cwltool', 'gdal_translate', 'cdo'];
const missing = needs.filter((c) => !['/usr/bin', '/usr/local/bin'].some((d) => existsSync(join(d, c))));
if (missing.length > 0 && process.env.CI) throw new Error(`missing ${missing.join(', ')} (scripts/test-deps.sh installs cwltool, gdal-bin and cdo)`);
if (missing.length > 0) console.warn(`skipping CWL tests: missing ${missing.join(', ')}`);

let s: TestServer;
let data = '';
beforeAll(async () => {
  if (missing.length > 0) return;
  data = tempDir('wps-cwl-data-');
  writeFileSync(join(data, 'grid.asc'), 'ncols 4\nnrows 3\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2 3 4\n5 6 7 8\n9 10 11 12\n');
  await run('gdal_translate', ['-q', '-of', 'GTiff', '-a_srs', 'EPSG:4326', join(data, 'grid.asc'), join(data, 'grid.tif')]);
  await run('cdo', ['-s', '-f', 'nc', '--no_history', 'const,1.5,r36x18', join(data, 'const.nc')]);
  s = await startTestServer({}, await loadProcesses([TOOLS]));
});
afterAll(() => s?.close());

const asyncForm = (output: string) =>
  `<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"><wps:Output asReference="true"><ows:Identifier>${output}</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>`;
const base64 = (file: string) => complex(file.endsWith('.tif') ? 'raster' : 'data', readFileSync(file).toString('base64'), ` mimeType="${file.endsWith('.tif') ? 'image/tiff' : 'application/x-netcdf'}" encoding="base64"`);

/** Runs a job, returns the bytes of the output it stored. */
async function outputOf(xml: string, output: string): Promise<Buffer> {
  const r = await post(s.wps, xml);
  expect(r.status, r.text).toBe(200);
  const views = await followStatus(statusLocationOf(r.text), { timeoutMs: 60_000 });
  await expectAllValid(views);
  const doc = parseXml(views.at(-1)!.xml).ExecuteResponse;
  expect(doc.Status.ProcessSucceeded, views.at(-1)!.xml).toBeDefined();
  const href = doc.ProcessOutputs.Output.find((o: { Identifier: string }) => o.Identifier === output).Reference['@href'];
  return Buffer.from(await (await fetch(href)).arrayBuffer());
}

/** The same tool and inputs, run by cwltool directly: the named output's bytes. */
async function direct(tool: string, job: Record<string, unknown>, output: string): Promise<Buffer> {
  const dir = tempDir('wps-cwl-direct-');
  writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
  const { stdout } = await run('cwltool', ['--quiet', '--no-container', '--outdir', join(dir, 'out'), join(TOOLS, tool), join(dir, 'job.json')], { cwd: dir });
  return readFileSync((JSON.parse(stdout) as Record<string, { path: string }>)[output]!.path);
}

describe.runIf(missing.length === 0)('CWL command-line tools as processes', () => {
  it('are described from the tool: types, enums, optional and array inputs, defaults, formats', async () => {
    const r = await get(`${s.wps}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=echo_args,gdalinfo,cdo_fldmean`);
    expect((await get(`${s.wps}?service=WPS&request=GetCapabilities`)).text).toMatch(/count_lines[\s\S]*echo_args/);
    await expectSchemaValid(r.text);
    const [echo, gdal, cdo] = parseXml(r.text).ProcessDescriptions.ProcessDescription;
    expect(echo.Title).toBe('Arguments');
    expect(echo.Abstract).toBe('Prints each argument it is given on a line of its own.');
    const inputs = Object.fromEntries(echo.DataInputs.Input.map((i: { Identifier: string }) => [i.Identifier, i]));
    expect(inputs.message).toMatchObject({ '@minOccurs': '1', '@maxOccurs': '1', Title: 'Message' });
    expect(inputs.mode['@minOccurs']).toBe('0');
    expect(inputs.mode.LiteralData.AllowedValues.Value).toEqual(['fast', 'slow']);
    expect(inputs.mode.LiteralData.DefaultValue).toBe('fast');
    expect(inputs.count).toMatchObject({ '@minOccurs': '0' });
    expect(inputs.count.LiteralData.DataType['#text']).toBe('integer');
    expect(inputs.verbose.LiteralData.DataType['#text']).toBe('boolean');
    expect(inputs.extras).toMatchObject({ '@minOccurs': '0', '@maxOccurs': '1000' });
    expect(gdal.DataInputs.Input[0].ComplexData.Default.Format.MimeType).toBe('image/tiff');
    expect(gdal.ProcessOutputs.Output[0].ComplexOutput.Default.Format.MimeType).toBe('application/json');
    expect(cdo.ProcessOutputs.Output[0].ComplexOutput.Default.Format.MimeType).toBe('application/x-netcdf');
  });

  it('crafted values reach the tool as one literal argument each, and match cwltool run directly', async () => {
    const message = `'; rm -rf / $(id) \`id\` ../../etc/passwd`;
    const extras = ['-n', '--help', '../x; ls'];
    const xml = executeXml('echo_args', literal('message', message.replace(/&/g, '&amp;').replace(/</g, '&lt;')) + literal('verbose', 'True') + literal('count', '3') + extras.map((e) => literal('extras', e)).join(''), asyncForm('printed'));
    const printed = await outputOf(xml, 'printed');
    expect(printed.toString()).toBe([message, '--mode', 'fast', '--count', '3', '--verbose', ...extras, ''].join('\n'));
    expect(printed.equals(await direct('echo_args.cwl', { message, verbose: true, count: 3, extras }, 'printed'))).toBe(true);
    // Synchronously too.
    const sync = await post(s.wps, executeXml('echo_args', literal('message', 'now'), '<wps:ResponseForm><wps:RawDataOutput><ows:Identifier>printed</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>'));
    expect(sync.text).toBe('now\n--mode\nfast\n');
  });

  it('gdalinfo -json on a GeoTIFF: the same document as cwltool gives', async () => {
    const info = await outputOf(executeXml('gdalinfo', base64(join(data, 'grid.tif')), asyncForm('info')), 'info');
    const parsed = JSON.parse(info.toString()) as { size: number[]; bands: unknown[]; coordinateSystem: { wkt: string } };
    expect(parsed.size).toEqual([4, 3]);
    expect(parsed.bands).toHaveLength(1);
    expect(parsed.coordinateSystem.wkt).toMatch(/WGS 84/);
    // gdalinfo names the file it read: compare all but the paths.
    const strip = (b: Buffer) => JSON.stringify({ ...(JSON.parse(b.toString()) as object), description: undefined, files: undefined });
    expect(strip(info)).toBe(strip(await direct('gdalinfo.cwl', { raster: { class: 'File', path: join(data, 'grid.tif'), format: 'http://edamontology.org/format_3591' } }, 'info')));
  });

  it('cdo fldmean on a NetCDF file: the same bytes as cwltool gives', async () => {
    const mean = await outputOf(executeXml('cdo_fldmean', base64(join(data, 'const.nc')), asyncForm('mean')), 'mean');
    expect(mean.subarray(0, 3).toString()).toBe('CDF');
    expect(mean.equals(await direct('cdo_fldmean.cwl', { data: { class: 'File', path: join(data, 'const.nc'), format: 'http://edamontology.org/format_3650' } }, 'mean'))).toBe(true);
    const file = join(tempDir('wps-cwl-mean-'), 'mean.nc');
    writeFileSync(file, mean);
    expect((await run('cdo', ['-s', 'outputf,%g', file])).stdout.trim()).toBe('1.5');
  });

  it('a File with secondaryFiles takes them as inputs of their own, staged beside it as the tool expects', async () => {
    const described = parseXml((await get(`${s.wps}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=with_metadata`)).text);
    const ids = described.ProcessDescriptions.ProcessDescription[0].DataInputs.Input.map((i: { Identifier: string; '@minOccurs': string }) => [i.Identifier, i['@minOccurs']]);
    expect(ids).toEqual([['data', '1'], ['data_meta', '1']]);
    const xml = executeXml('with_metadata', complex('data', 'the data\n') + complex('data_meta', 'its metadata\n'), asyncForm('both'));
    const both = await outputOf(xml, 'both');
    expect(both.toString()).toBe('the data\nits metadata\n');
    const dir = tempDir('wps-cwl-secondary-');
    writeFileSync(join(dir, 'd.txt'), 'the data\n');
    writeFileSync(join(dir, 'd.txt.meta'), 'its metadata\n');
    expect(both.equals(await direct('with_metadata.cwl', { data: { class: 'File', path: join(dir, 'd.txt'), format: 'http://edamontology.org/format_2330' } }, 'both'))).toBe(true);
    await expectException(await post(s.wps, executeXml('with_metadata', complex('data', 'alone'), asyncForm('both'))), 'MissingParameterValue', 'data_meta', 400);
  });

  it('a CWL v1.0 tool runs as well (wc -l from stdin)', async () => {
    const lines = await outputOf(executeXml('count_lines', complex('text', 'one\ntwo\nthree\n'), asyncForm('lines')), 'lines');
    expect(lines.toString().trim()).toBe('3');
    const file = join(tempDir('wps-cwl-lines-'), 'text.txt');
    writeFileSync(file, 'one\ntwo\nthree\n');
    expect(lines.equals(await direct('count_lines.cwl', { text: { class: 'File', path: file, format: 'http://edamontology.org/format_2330' } }, 'lines'))).toBe(true);
  });

  it('a value the tool does not take is refused before any job exists', async () => {
    const before = ((await (await fetch(`${s.url}/jobs?limit=1`)).json()) as { numberMatched: number }).numberMatched;
    await expectException(await post(s.wps, executeXml('echo_args', literal('message', 'x') + literal('mode', 'medium'), asyncForm('printed'))), 'InvalidParameterValue', 'mode', 400);
    await expectException(await post(s.wps, executeXml('echo_args', literal('count', '3'), asyncForm('printed'))), 'MissingParameterValue', 'message', 400);
    expect(((await (await fetch(`${s.url}/jobs?limit=1`)).json()) as { numberMatched: number }).numberMatched).toBe(before);
  });

  it('a failing tool ends ProcessFailed with its reason and the last lines of its stderr', async () => {
    const r = await post(s.wps, executeXml('gdalinfo', complex('raster', Buffer.from('not a raster').toString('base64'), ' mimeType="image/tiff" encoding="base64"'), asyncForm('info')));
    const final = (await followStatus(statusLocationOf(r.text), { timeoutMs: 60_000 })).at(-1)!;
    expect(final.name).toBe('ProcessFailed');
    const text = parseXml(final.xml).ExecuteResponse.Status.ProcessFailed.ExceptionReport.Exception[0].ExceptionText as string;
    expect(text).toMatch(/^The tool failed: /);
    expect(text).toMatch(/not recognized as a supported file format|permanentFail/);
  });
});

describe.runIf(missing.length === 0)('a tool with a DockerRequirement', () => {
  const IMAGE = 'localhost/wps-test-busybox:latest';
  const PODMAN_USER = 'wps-podman';

  /** The tool lists its container's /bin and echoes a crafted message. */
  async function expectRunInImage(wps: string): Promise<void> {
    const message = 'inside $(id) ; ../x';
    const r = await post(wps, executeXml('in_container', literal('message', message), asyncForm('listing')));
    const views = await followStatus(statusLocationOf(r.text), { timeoutMs: 60_000 });
    await expectAllValid(views);
    const doc = parseXml(views.at(-1)!.xml).ExecuteResponse;
    expect(doc.Status.ProcessSucceeded, views.at(-1)!.xml).toBeDefined();
    const listing = await (await fetch(doc.ProcessOutputs.Output[0].Reference['@href'])).text();
    // The image's /bin, not the host's: busybox and its links only; the message one argument.
    expect(listing).toBe(['busybox', 'cat', 'echo', 'ls', 'printf', 'sh', 'wc', message, ''].join('\n'));
  }

  it('runs in the image the tool names under Docker (cwl.containers: docker)', async () => {
    const answers = await run('docker', ['image', 'inspect', IMAGE]).then(() => true, () => false);
    if (!answers) throw new Error(`Docker or the image ${IMAGE} is missing (scripts/test-deps.sh starts dockerd and makes it)`);
    const docker = await startTestServer({ cwl: { containers: 'docker' } }, await loadProcesses([resolve('test/cwl-containers')], { containers: 'docker' }));
    try {
      await expectRunInImage(docker.wps);
    } finally {
      await docker.close();
    }
  });

  it('runs in it under rootless Podman, for a server running as a service account (cwl.containers: podman)', async () => {
    const account = await run('getent', ['passwd', PODMAN_USER]).then((r) => r.stdout.split(':'), () => undefined);
    if (!account) throw new Error(`no account ${PODMAN_USER} (scripts/test-deps.sh makes it and its Podman image)`);
    const [uid, gid, home] = [Number(account[2]), Number(account[3]), account[5]!];
    const dataDir = tempDir('wps-cwl-podman-');
    chownSync(dataDir, uid, gid);
    const port = await freePort();
    const server = await spawnCli(
      ['serve'],
      {
        PORT: String(port),
        WPS_BASE_URL: `http://127.0.0.1:${port}`,
        WPS_DATA_DIR: dataDir,
        WPS_PROCESSES: resolve('test/cwl-containers'),
        WPS_CWL_CONTAINERS: 'podman',
        HOME: home,
        USER: PODMAN_USER,
        LOGNAME: PODMAN_USER,
      },
      '"listening"',
      { uid, gid },
    );
    try {
      await expectRunInImage(`http://127.0.0.1:${port}/wps`);
    } finally {
      await server.stop();
    }
  });
});
