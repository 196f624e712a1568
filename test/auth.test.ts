import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { hashSecret } from '../src/secrets.js';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { expectException, expectSchemaValid, get, parseXml, post, type Reply } from './helpers/http.js';
import { startTestIssuer, type TestIssuer } from './helpers/oidc-issuer.js';
import { executeXml, literal } from './helpers/requests.js';
import { runPython } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp-dir.js';

/**
 * Who callers are and what that allows: OpenID Connect access tokens of an issuer the
 * test serves on loopback (discovery and key set), static API tokens, a front end's user
 * header from a trusted proxy; jobs owned by their submitters; processes for some only.
 */
const CI_TOKEN = 'wps_ci-bot-token-0123456789abcdef';
const OPERATOR_TOKEN = 'wps_operator-token-0123456789abcdef';

let iss: TestIssuer;
let s: TestServer;
beforeAll(async () => {
  iss = await startTestIssuer('wps');
  s = await startTestServer({
    auth: {
      issuer: iss.issuer,
      audience: 'wps',
      // Every unknown key fetches the key set again (30 s apart by default).
      jwksCooldown: 0,
      tokens: [
        { user: 'ci-bot', token: CI_TOKEN, groups: ['ci'] },
        { user: 'operator', sha256: hashSecret(OPERATOR_TOKEN), admin: true },
      ],
      admins: { groups: ['wps-admins'] },
      processes: { ultimate_question: { users: [], groups: ['deep-thought'] } },
      userHeader: 'X-Forwarded-User',
      groupsHeader: 'X-Forwarded-Groups',
      trustedProxies: ['127.0.0.2'],
    },
  });
});
afterAll(async () => {
  await s?.close();
  await iss?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const caps = () => `${s.wps}?service=WPS&request=GetCapabilities`;
const hello = (name: string) => `${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=${name}`;
const sleeper = (seconds: number) =>
  `${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=sleep&storeExecuteResponse=true&status=true&DataInputs=delay=${seconds}`;
const offered = (r: Reply) => (parseXml(r.text).Capabilities.ProcessOfferings.Process as { Identifier: string }[]).map((p) => p.Identifier);
const idOf = (location: string) => /([0-9a-f-]{36})\.xml$/.exec(location)![1]!;
const json = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
  const res = await fetch(`${s.url}${path}`, { method, headers });
  return { status: res.status, type: res.headers.get('content-type'), challenge: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, any> };
};

async function expectRefused(r: Reply, status: number, error?: string): Promise<void> {
  await expectException(r, 'NoApplicableCode', undefined, status);
  if (status === 401) {
    const challenge = r.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer realm="wps"/);
    if (error) expect(challenge).toContain(`error="${error}"`);
  }
}

describe('identity from OpenID Connect access tokens', () => {
  it('accepts a token the issuer signed (RS256 or ES256) and runs the process for its user', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const r = await get(hello('oidc'), bearer(await iss.token({ user: 'alice' }, { alg })));
      expect(r.status, r.text).toBe(200);
      expect(r.text).toContain('Hello oidc');
    }
  });

  it('refuses forged, expired, not yet valid, wrong-audience, wrong-issuer, alg none, HS256-with-the-public-key and unknown-key tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { iss: iss.issuer, aud: 'wps', sub: 'mallory', preferred_username: 'mallory', exp: now + 3600, iat: now };
    const bad: Record<string, string> = {
      forged: await iss.token({ user: 'mallory' }, { key: iss.foreign.privateKey, kid: 'rsa-1' }),
      expired: await iss.token({ user: 'mallory', exp: now - 600 }),
      'not yet valid': await iss.token({ user: 'mallory', nbf: now + 600 }),
      'wrong audience': await iss.token({ user: 'mallory', aud: 'another-service' }),
      'wrong issuer': await iss.token({ user: 'mallory', iss: 'http://127.0.0.1:1/realms/other' }),
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'HS256 with the public key': await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(iss.publicPem)),
      'unknown key': await iss.token({ user: 'mallory' }, { key: iss.foreign.privateKey, kid: 'not-published' }),
      'not a JWT': 'abc.def.ghi',
    };
    for (const [what, token] of Object.entries(bad)) {
      const r = await get(hello('x'), bearer(token));
      expect(r.status, what).toBe(401);
      await expectRefused(r, 401, 'invalid_token');
      expect(r.text, what).not.toContain(token);
      // Discovery documents are open, but not with a token that does not hold.
      expect((await get(caps(), bearer(token))).status, what).toBe(401);
    }
  });

  it('knows the user by sub, not by the name a user may edit at the provider', async () => {
    // Alice renames herself "bob" where the provider lets her: she is still alice here.
    const renamed = bearer(await iss.token({ user: 'alice', preferred_username: 'bob' }));
    const me = (await (await fetch(`${s.url}/users/me`, { headers: renamed })).json()) as { user: string };
    expect(me.user).toBe('alice');
  });

  it('takes a key the issuer publishes later (a rotation), fetching the key set again', async () => {
    const { kid, privateKey } = await iss.rotate();
    const before = iss.jwksRequests;
    const r = await get(hello('rotated'), bearer(await iss.token({ user: 'alice' }, { key: privateKey, kid })));
    expect(r.status, r.text).toBe(200);
    expect(iss.jwksRequests).toBe(before + 1);
  });
});

describe('static tokens and a front end’s header', () => {
  it('knows a static token by its hash, and refuses unknown tokens and other schemes', async () => {
    expect((await get(hello('ci'), bearer(CI_TOKEN))).status).toBe(200);
    await expectRefused(await get(hello('x'), bearer('wps_not-a-token-anybody-has-0123')), 401, 'invalid_token');
    await expectRefused(await get(hello('x'), { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 401, 'invalid_request');
  });

  it('believes X-Forwarded-User only from a trusted proxy', async () => {
    const fromProxy = await rawGet(hello('proxied'), { 'x-forwarded-user': 'carol', 'x-forwarded-groups': 'deep-thought, other' }, '127.0.0.2');
    expect(fromProxy.status, fromProxy.text).toBe(200);
    // A front end that passes its own Authorization header along (Apache's Basic credentials).
    const withItsOwn = await rawGet(hello('proxied'), { 'x-forwarded-user': 'carol', authorization: `Basic ${Buffer.from('carol:pw').toString('base64')}` }, '127.0.0.2');
    expect(withItsOwn.status, withItsOwn.text).toBe(200);
    const spoofed = await rawGet(hello('spoofed'), { 'x-forwarded-user': 'carol' }, '127.0.0.1');
    expect(spoofed.status).toBe(401);
    await expectSchemaValid(spoofed.text);
    // The groups the proxy names count: carol is in deep-thought.
    const theirs = await rawGet(caps(), { 'x-forwarded-user': 'carol', 'x-forwarded-groups': 'deep-thought, other' }, '127.0.0.2');
    expect(offered(theirs)).toContain('ultimate_question');
  });
});

describe('what anonymous callers may do', () => {
  it('read the capabilities and descriptions of unrestricted processes; Execute, Dismiss and /jobs need credentials', async () => {
    const c = await get(caps());
    expect(c.status).toBe(200);
    await expectSchemaValid(c.text);
    expect(offered(c)).toContain('hello');
    expect(offered(c)).not.toContain('ultimate_question');
    await expectRefused(await get(hello('anon')), 401);
    await expectRefused(await post(s.wps, executeXml('hello', literal('name', 'anon'))), 401);
    await expectRefused(await get(`${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=00000000-0000-0000-0000-000000000000`), 401);
    const jobs = await json('/jobs');
    expect(jobs.status).toBe(401);
    expect(jobs.type).toBe('application/problem+json');
    expect(jobs.challenge).toMatch(/^Bearer realm="wps"/);
  });
});

describe('processes for some users only', () => {
  it('is invisible to others: not offered, not described, not executable; its group sees and runs it', async () => {
    const alice = bearer(await iss.token({ user: 'alice', groups: ['climate'] }));
    const arthur = bearer(await iss.token({ user: 'arthur', groups: ['deep-thought'] }));
    expect(offered(await get(caps(), alice))).not.toContain('ultimate_question');
    expect(offered(await get(caps(), arthur))).toContain('ultimate_question');
    const describe = (all: boolean) => `${s.wps}?service=WPS&request=DescribeProcess&version=1.0.0&identifier=${all ? 'all' : 'ultimate_question'}`;
    await expectException(await get(describe(false), alice), 'InvalidParameterValue', 'identifier', 400);
    const allForAlice = await get(describe(true), alice);
    await expectSchemaValid(allForAlice.text);
    expect(allForAlice.text).not.toContain('ultimate_question');
    expect((await get(describe(false), arthur)).status).toBe(200);
    const run = `${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=ultimate_question`;
    await expectException(await get(run, alice), 'InvalidParameterValue', 'identifier', 400);
    const answer = await get(run, arthur);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.text).toContain('42');
  });
});

describe('jobs belong to their submitters', () => {
  it('user B can neither list, read, fetch the results or logs of, nor dismiss user A’s jobs; an admin can', async () => {
    const alice = bearer(await iss.token({ user: 'alice' }));
    const bob = bearer(await iss.token({ user: 'bob' }));
    const admin = bearer(await iss.token({ user: 'zaphod', groups: ['wps-admins'] }));
    const done = statusLocationOf((await get(`${s.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&storeExecuteResponse=true&status=true&DataInputs=name=mine`, alice)).text);
    await followStatus(done);
    const running = statusLocationOf((await get(sleeper(30), alice)).text);
    const ofBob = statusLocationOf((await get(sleeper(0), bob)).text);

    const aliceList = await json('/jobs', alice);
    expect(aliceList.body.jobs.map((j: { jobID: string }) => j.jobID).sort()).toEqual([idOf(done), idOf(running)].sort());
    const bobList = await json('/jobs', bob);
    expect(bobList.body.jobs.map((j: { jobID: string }) => j.jobID)).toEqual([idOf(ofBob)]);
    // ?user= is for admins; anyone else still sees only their own.
    expect((await json('/jobs?user=alice', bob)).body.jobs.map((j: { jobID: string }) => j.jobID)).toEqual([idOf(ofBob)]);

    for (const path of [`/jobs/${idOf(done)}`, `/jobs/${idOf(done)}/results`, `/jobs/${idOf(done)}/logs`]) {
      const r = await json(path, bob);
      expect(r.status, path).toBe(404);
      expect(r.body.detail).toBe(`there is no job ${idOf(done)}`);
    }
    expect((await json(`/jobs/${idOf(running)}`, bob, 'DELETE')).status).toBe(404);
    const dismiss = (id: string) => `${s.wps}?service=WPS&request=Dismiss&version=1.0.0&jobId=${id}`;
    const refused = await expectException(await get(dismiss(idOf(running)), bob), 'InvalidParameterValue', 'jobId', 400);
    expect(refused.text).toBe(`There is no job ${idOf(running)}`);

    expect((await json(`/jobs/${idOf(done)}/results`, alice)).body).toEqual({ output: 'Hello mine' });
    const everyone = (await json('/jobs', admin)).body.jobs.map((j: { jobID: string }) => j.jobID);
    expect(everyone).toEqual(expect.arrayContaining([idOf(done), idOf(running), idOf(ofBob)]));
    expect((await json('/jobs?user=bob', admin)).body.jobs.map((j: { jobID: string }) => j.jobID)).toEqual([idOf(ofBob)]);
    const byAdmin = await get(dismiss(idOf(running)), admin);
    expect(byAdmin.status, byAdmin.text).toBe(200);
    expect(byAdmin.text).toContain('ProcessFailed');
    // A static token marked admin is one too.
    expect((await json(`/jobs/${idOf(ofBob)}`, bearer(OPERATOR_TOKEN))).status).toBe(200);
  });
});

describe('auth.protectOutputs', () => {
  it('serves status documents and outputs, of jobs and of synchronous runs, to their owner and admins only', async () => {
    const kept = await startTestServer({ auth: { tokens: [
      { user: 'alice', token: 'wps_alice-0123456789abcdef' },
      { user: 'bob', token: 'wps_bob-0123456789abcdef' },
      { user: 'root', token: 'wps_root-0123456789abcdef', admin: true },
    ], protectOutputs: true } });
    try {
      const [alice, bob, root] = ['alice', 'bob', 'root'].map((u) => bearer(`wps_${u}-0123456789abcdef`));
      const asyncRun = await get(`${kept.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&storeExecuteResponse=true&status=true&DataInputs=name=kept&ResponseDocument=output@asReference=true`, alice);
      const location = statusLocationOf(asyncRun.text);
      const views = await followStatus(location, { headers: alice });
      const href = parseXml(views.at(-1)!.xml).ExecuteResponse.ProcessOutputs.Output[0].Reference['@href'] as string;
      const syncRun = await get(`${kept.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=sync&ResponseDocument=output@asReference=true`, alice);
      const syncHref = parseXml(syncRun.text).ExecuteResponse.ProcessOutputs.Output[0].Reference['@href'] as string;
      for (const url of [location, href, syncHref]) {
        const anonymous = await fetch(url);
        expect(anonymous.status, url).toBe(401);
        expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect((await fetch(url, { headers: bob })).status, url).toBe(404);
        for (const owner of [alice, root]) {
          const r = await fetch(url, { headers: owner });
          expect(r.status, url).toBe(200);
          expect(r.headers.get('cache-control')).toMatch(/^(private|no-cache)/);
        }
      }
      expect(await (await fetch(syncHref, { headers: alice })).text()).toBe('Hello sync');
    } finally {
      await kept.close();
    }
    expect(() => loadConfig({ env: {}, overrides: { auth: { protectOutputs: true }, storage: { url: 'https://files.example.org/wps' } } })).toThrow(/protectOutputs needs the outputs served by this server/);
  });
});

describe('real clients with a token', () => {
  it('OWSLib with headers= (what birdy sends for --token) reads, runs hello and follows an async job', async () => {
    const token = await iss.token({ user: 'dana', groups: ['deep-thought'] });
    const out = JSON.parse((await runPython('test/interop/owslib_token.py', [s.wps, token])).trim().split('\n').pop()!);
    expect(out.processes).toContain('ultimate_question');
    expect(out.hello).toEqual({ status: 'ProcessSucceeded', outputs: { output: ['Hello token'] } });
    expect(out.sleep).toMatchObject({ status: 'ProcessSucceeded', outputs: { sleep_output: ['done sleeping'] } });
    // The job is dana's.
    expect((await json(`/jobs/${idOf(out.sleep.statusLocation)}`, bearer(token))).status).toBe(200);
    expect((await json(`/jobs/${idOf(out.sleep.statusLocation)}`, bearer(await iss.token({ user: 'eve' })))).status).toBe(404);
  });

  it('the wps command sends --token or $WPS_TOKEN: whoami, a process, an async job, its own jobs only; without a token the server refuses', async () => {
    const cacheHome = tempDir('wps-auth-cli-');
    const cli = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, ['dist/src/cli/wps.js', ...args], { env: { ...process.env, WPS_SERVICE: s.wps, XDG_CACHE_HOME: cacheHome, ...env } }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    expect(await cli(['--token', CI_TOKEN, 'whoami'])).toMatchObject({ code: 0, stdout: 'ci-bot, groups: ci\n' });
    expect(await cli(['whoami'], { WPS_TOKEN: OPERATOR_TOKEN })).toMatchObject({ code: 0, stdout: 'operator (admin)\n' });
    expect(await cli(['hello', '--name', 'cli'], { WPS_TOKEN: CI_TOKEN })).toMatchObject({ code: 0, stdout: 'output: Hello cli\n' });
    const job = await cli(['--json', '--async', 'sleep', '--delay', '0'], { WPS_TOKEN: CI_TOKEN });
    expect(job.code, job.stderr).toBe(0);
    const jobId = JSON.parse(job.stdout.trim().split('\n').at(-1)!).jobID as string;
    const mine = await cli(['--json', 'jobs'], { WPS_TOKEN: CI_TOKEN });
    expect(JSON.parse(mine.stdout).jobs.map((j: { jobID: string }) => j.jobID)).toEqual([jobId]);
    const eve = { WPS_TOKEN: await iss.token({ user: 'eve' }) };
    for (const command of ['status', 'logs', 'dismiss']) {
      const stranger = await cli([command, jobId], eve);
      expect(stranger.code, command).toBe(3);
      expect(stranger.stderr, command).toMatch(new RegExp(`there is no job ${jobId}`, 'i'));
    }
    expect(JSON.parse((await cli(['--json', 'jobs'], eve)).stdout).jobs).toEqual([]);
    const anonymous = await cli(['hello', '--name', 'x']);
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toBe('wps: the server refused: NoApplicableCode: This needs credentials: send Authorization: Bearer <token>\n');
  });
});

/** A GET from a chosen loopback source address (as a front end on 127.0.0.2 would send it). */
function rawGet(url: string, headers: Record<string, string>, localAddress: string): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers, localAddress }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, contentType: String(res.headers['content-type'] ?? ''), text, headers: new Headers(res.headers as Record<string, string>) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
