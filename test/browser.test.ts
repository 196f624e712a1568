import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followStatus, statusLocationOf } from './helpers/async.js';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { expectSchemaValid, post } from './helpers/http.js';
import { complex, executeXml } from './helpers/requests.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * What a person's browser does with what the server serves: markup a client put into
 * a request must never run in a browser that opens the server's documents.
 */
const run = chromiumAvailable();

let s: TestServer;
let browser: Browser;
/** Another site: serves the attacker's page, and hears from any script that ran. */
let site: Server;
let siteUrl = '';
const beacons: string[] = [];
beforeAll(async () => {
  if (!run) return;
  site = createServer((req, res) => {
    if (req.url!.startsWith('/ran')) beacons.push(req.url!);
    res.writeHead(200, { 'content-type': 'text/html' }).end(attackPage);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
  s = await startTestServer();
  browser = await launchChromium();
});
afterAll(async () => {
  if (!run) return;
  await browser.close();
  await s.close();
  await new Promise((r) => site.close(r));
});

let attackPage = '';
const script = (tag: string) =>
  `<h:script xmlns:h="http://www.w3.org/1999/xhtml">document.title='${tag}';new Image().src='${siteUrl}/ran-${tag}'</h:script>`;
const lineage = (store: boolean) =>
  `<wps:ResponseForm><wps:ResponseDocument lineage="true" storeExecuteResponse="${store}" status="${store}"/></wps:ResponseForm>`;

describe.runIf(run)('documents opened in a browser', () => {
  it('a status document carrying a script from its request runs nothing', async () => {
    const r = await post(s.wps, executeXml('wordcounter', complex('text', script('status')), lineage(true)));
    expect(r.status, r.text).toBe(200);
    const location = statusLocationOf(r.text);
    const final = (await followStatus(location)).at(-1)!;
    expect(final.name).toBe('ProcessSucceeded');
    await expectSchemaValid(final.xml);
    const page = await browser.newPage();
    try {
      const answer = await page.goto(location);
      expect(answer!.headers()['content-security-policy']).toBe("default-src 'none'; sandbox");
      // The script's text is there for the reader; as markup it is not.
      expect(await page.content()).toContain('document.title');
      expect(await page.title()).not.toBe('status');
      expect(await page.evaluate("document.getElementsByTagNameNS('http://www.w3.org/1999/xhtml', 'script').length")).toBe(0);
    } finally {
      await page.close();
    }
    expect(beacons).toEqual([]);
  });

  it("another site's form posting an Execute with lineage gets nothing run", async () => {
    // text/plain form encoding sends `name=value`: the request is split around the '='.
    const body = executeXml('wordcounter', complex('text', script('form')), lineage(false));
    const cut = body.indexOf('mimeType=') + 'mimeType'.length;
    const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    attackPage = `<form id="f" method="POST" action="${s.wps}" enctype="text/plain"><input name="${esc(body.slice(0, cut))}" value="${esc(body.slice(cut + 1))}"></form><script>document.getElementById('f').submit()</script>`;
    const page = await browser.newPage();
    try {
      const answered = page.waitForResponse((res) => res.url().startsWith(s.wps));
      await page.goto(`${siteUrl}/attack`);
      const answer = await answered;
      await page.waitForLoadState();
      expect(answer.status()).toBe(403);
      expect(await page.title()).not.toBe('form');
    } finally {
      await page.close();
    }
    expect(beacons).toEqual([]);
  });
});
