import type { Context } from 'koa';
import type { Caller } from '../auth/caller.js';
import { isTerminal } from '../jobs/states.js';
import type { Job } from '../jobs/store.js';
import { resultValue } from '../ogcapi/results.js';
import { STATE_OF, STATUS } from '../ogcapi/status-info.js';
import { SCRIPT, STYLE } from '../pages/assets.js';
import { conformancePage, jobPage, jobsPage, landingPage, processesPage, processPage, type JobRow } from '../pages/render.js';
import { CONFORMANCE } from '../ogcapi/landing.js';
import type { ProcessDefinition } from '../process/types.js';
import type { Services } from '../services.js';

/** Pages may run their own script and style sheet, and talk to this server only. */
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A person's browser asks for a page (Accept: text/html), or anyone with ?f=html; ?f=json wins. */
export const wantsPage = (ctx: Context): boolean => ctx.query.f === 'html' || (ctx.query.f !== 'json' && /text\/html/.test(ctx.get('accept')));

export const ASSETS_PATH = /^\/assets\/(app\.js|style\.css)$/;

const PAGE_SIZE = 20;

/** The HTML face of the landing page, processes and jobs (OGC API's html class). */
export function pages(services: Services) {
  const { config, store, files, sessionLinks } = services;
  const site = { title: config.metadata.title, base: config.baseUrl };
  const send = (ctx: Context, html: string) => {
    ctx.set('content-security-policy', PAGE_POLICY);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = html;
  };
  const row = (j: Job): JobRow => ({ id: j.id, processId: j.processId, status: STATUS[j.state], progress: j.percent, message: j.message ?? undefined, created: j.createdAt.toISOString() });

  return {
    assets(ctx: Context, name: string): void {
      ctx.type = name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8';
      ctx.set('cache-control', 'public, max-age=300');
      ctx.body = name.endsWith('.js') ? SCRIPT : STYLE;
    },
    landing(ctx: Context): void {
      send(ctx, landingPage(site, config.metadata.abstract));
    },
    conformance(ctx: Context): void {
      send(ctx, conformancePage(site, CONFORMANCE));
    },
    processes(ctx: Context, visible: readonly ProcessDefinition[]): void {
      send(ctx, processesPage(site, visible));
    },
    process(ctx: Context, p: ProcessDefinition): void {
      send(ctx, processPage(site, p));
    },
    async jobs(ctx: Context, caller: Caller, visible: readonly ProcessDefinition[]): Promise<void> {
      const status = typeof ctx.query.status === 'string' ? ctx.query.status : '';
      const process = typeof ctx.query.processID === 'string' ? ctx.query.processID : '';
      const offset = Math.max(0, Number(ctx.query.offset ?? 0) || 0);
      const state = Object.hasOwn(STATE_OF, status) ? STATE_OF[status] : undefined;
      const { jobs, total } = await store.list({
        ...(caller.admin ? {} : { owner: caller.user! }),
        ...(process ? { processIds: [process] } : {}),
        states: state ? [state] : [],
        limit: PAGE_SIZE,
        offset,
      });
      const at = (o: number) => `${site.base}/jobs?f=html&status=${encodeURIComponent(status)}&processID=${encodeURIComponent(process)}&offset=${o}`;
      send(
        ctx,
        jobsPage(site, jobs.map(row), { status, process, processes: visible.map((p) => p.identifier) }, {
          ...(offset > 0 ? { prev: at(Math.max(0, offset - PAGE_SIZE)) } : {}),
          ...(offset + jobs.length < total ? { next: at(offset + PAGE_SIZE) } : {}),
        }),
      );
    },
    async job(ctx: Context, job: Job): Promise<void> {
      const result = job.state === 'succeeded' ? await files.readResult(job.id) : undefined;
      send(
        ctx,
        jobPage(site, {
          ...row(job),
          final: isTerminal(job.state),
          results: result?.state === 'succeeded' ? Object.fromEntries(result.outputs.map((o) => [o.identifier, resultValue(o)])) : undefined,
          session: job.state === 'running' ? await sessionLinks.link(job) : undefined,
          failure: job.state === 'failed' ? (job.failureReason ?? undefined) : undefined,
        }),
      );
    },
  };
}
