import type { Context } from 'koa';
import type { Caller } from '../auth/caller.js';
import { CONFORMANCE, landingPage } from '../ogcapi/landing.js';
import { processDescription, processSummary, type Link } from '../ogcapi/process-description.js';
import type { ProcessDefinition } from '../process/types.js';
import type { Services } from '../services.js';
import { problem } from './problem.js';

/** `/processes` and `/processes/{id}` (an identifier, percent-encoded). */
export const PROCESSES_PATH = /^\/processes(?:\/([^/]+))?\/?$/;

/**
 * OGC API - Processes - Part 1 over the same processes as WPS: the landing page, the
 * conformance declaration, the process list and each process's description. Callers see
 * the processes they may use, as in GetCapabilities.
 */
export function processesApi(services: Services) {
  const { config, registry } = services;
  const base = config.baseUrl;
  const meta = config.metadata;

  const linksOf = (p: ProcessDefinition, self: boolean): Link[] => {
    const href = `${base}/processes/${encodeURIComponent(p.identifier)}`;
    return [
      { href, rel: self ? 'self' : 'http://www.opengis.net/def/rel/ogc/1.0/processes', type: 'application/json', title: p.title },
      { href: `${href}/execution`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/execute', type: 'application/json', title: 'execute it' },
      { href: `${base}/wps?service=WPS&request=DescribeProcess&version=1.0.0&identifier=${encodeURIComponent(p.identifier)}`, rel: 'alternate', type: 'text/xml', title: 'its WPS 1.0.0 description' },
    ];
  };

  const list = (ctx: Context, caller: Caller) => {
    const limit = Number(ctx.query.limit ?? 10);
    const offset = Number(ctx.query.offset ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return problem(ctx, 400, 'invalid-parameter', 'limit must be a whole number from 1 to 10000');
    if (!Number.isInteger(offset) || offset < 0) return problem(ctx, 400, 'invalid-parameter', 'offset must be a whole number from 0');
    const visible = registry.visibleTo(caller);
    const page = (o: number) => `${base}/processes?limit=${limit}&offset=${o}`;
    const links: Link[] = [{ href: page(offset), rel: 'self', type: 'application/json', title: 'this page' }];
    if (offset + limit < visible.length) links.push({ href: page(offset + limit), rel: 'next', type: 'application/json', title: 'the next page' });
    if (offset > 0) links.push({ href: page(Math.max(0, offset - limit)), rel: 'prev', type: 'application/json', title: 'the previous page' });
    ctx.body = { processes: visible.slice(offset, offset + limit).map((p) => processSummary(p, linksOf(p, false))), links };
  };

  return {
    landing(ctx: Context): void {
      ctx.body = landingPage(meta.title, meta.abstract, base);
    },
    conformance(ctx: Context): void {
      ctx.body = { conformsTo: CONFORMANCE };
    },
    processes(ctx: Context, caller: Caller, id: string | undefined): void {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return problem(ctx, 405, 'method-not-allowed', `${ctx.method} is not allowed here`);
      if (id === undefined) return list(ctx, caller);
      let identifier: string;
      try {
        identifier = decodeURIComponent(id);
      } catch {
        identifier = id;
      }
      const process = registry.getFor(identifier, caller);
      // One the caller may not use is answered as one that does not exist.
      if (!process) return problem(ctx, 404, 'no-such-process', `there is no process ${identifier}`);
      ctx.body = processDescription(process, linksOf(process, true));
    },
  };
}
