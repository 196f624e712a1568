import type { Context } from 'koa';
import { isAnonymous, needsIdentity, type Caller } from '../auth/caller.js';
import { isIP } from 'node:net';
import { OwsException } from '../exceptions.js';
import { refusalReason } from '../inout/address-policy.js';
import { parseExecute } from '../ogcapi/execute-request.js';
import { multipartRelated } from '../ogcapi/multipart.js';
import { resultValue } from '../ogcapi/results.js';
import { runSynchronously } from '../operations/execute.js';
import { selectOutputs } from '../process/outputs.js';
import { checkInputsBeforeFetching } from '../processing/resolve-inputs.js';
import { outputBytes } from '../processing/store-outputs.js';
import { submitJob } from '../processing/submit-job.js';
import { toStoredOutput } from '../storage/job-files.js';
import { statusInfoOf } from './jobs-api.js';
import { readBody } from './read-body.js';
import { wantsPage, type pages } from './pages.js';
import { CONFORMANCE, landingPage } from '../ogcapi/landing.js';
import { openApiDocument } from '../ogcapi/openapi.js';
import { escapeAttribute, escapeText } from '../ows/xml-writer.js';
import { jobControlOptions, processDescription, processSummary, type Link } from '../ogcapi/process-description.js';
import type { ProcessDefinition } from '../process/types.js';
import type { Services } from '../services.js';
import { pageOf, problem } from './problem.js';

/** `/processes`, `/processes/{id}` (an identifier, percent-encoded) and `/processes/{id}/execution`. */
export const PROCESSES_PATH = /^\/processes(?:\/([^/]+)(\/execution)?)?\/?$/;

/**
 * OGC API - Processes - Part 1 over the same processes as WPS: the landing page, the
 * conformance declaration, the process list and each process's description. Callers see
 * the processes they may use, as in GetCapabilities.
 */
export function processesApi(services: Services, html: ReturnType<typeof pages>) {
  const { config, registry } = services;
  const statusInfo = statusInfoOf(services);
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
    const paging = pageOf(ctx, 10, 10_000);
    if (!paging) return;
    const { limit, offset } = paging;
    const visible = registry.visibleTo(caller);
    if (wantsPage(ctx)) return html.processes(ctx, visible);
    const page = (o: number) => `${base}/processes?limit=${limit}&offset=${o}`;
    const links: Link[] = [
      { href: page(offset), rel: 'self', type: 'application/json', title: 'this page' },
      { href: `${page(offset)}&f=html`, rel: 'alternate', type: 'text/html', title: 'this page, for a browser' },
    ];
    if (offset + limit < visible.length) links.push({ href: page(offset + limit), rel: 'next', type: 'application/json', title: 'the next page' });
    if (offset > 0) links.push({ href: page(Math.max(0, offset - limit)), rel: 'prev', type: 'application/json', title: 'the previous page' });
    ctx.body = { processes: visible.slice(offset, offset + limit).map((p) => processSummary(p, linksOf(p, false))), links };
  };

  /**
   * `POST /processes/{id}/execution`: asynchronous with `Prefer: respond-async` (or when
   * the process runs only as a job), else synchronous; the same validation, jobs, store
   * and schedulers as WPS Execute.
   */
  const execute = async (ctx: Context, caller: Caller, process: ProcessDefinition): Promise<void> => {
    if (isAnonymous(caller)) throw needsIdentity();
    let body: unknown;
    try {
      body = JSON.parse((await readBody(ctx.req, config.limits.maxRequestSize)).toString('utf8'));
    } catch (err) {
      if (err instanceof OwsException) return problem(ctx, err.httpStatus, 'invalid-request', err.message);
      return problem(ctx, 400, 'invalid-request', 'The body is not a JSON execute request');
    }
    try {
      const { request } = parseExecute(process.identifier, body);
      // A subscriber at an address references may not reach is refused now (a name is checked at each call).
      for (const [key, uri] of Object.entries(request.subscriber ?? {})) {
        const host = new URL(uri).hostname.replace(/^\[|\]$/g, '');
        const refused = isIP(host) ? refusalReason(host, host, config.references) : undefined;
        if (refused) return problem(ctx, 400, 'invalid-parameter', `subscriber.${key}: ${refused}`);
      }
      const options = jobControlOptions(process);
      const prefersAsync = /\brespond-async\b/.test(ctx.get('prefer'));
      if ((prefersAsync && options.includes('async-execute')) || !options.includes('sync-execute')) {
        const form = request.responseForm;
        const asks = form.kind === 'raw' ? [form.output] : form.outputs;
        if (form.kind === 'raw') request.rawResults = true;
        request.responseForm = { kind: 'document', outputs: asks, storeExecuteResponse: true, lineage: false, status: true };
        selectOutputs(process, asks);
        checkInputsBeforeFetching(process, request.inputs, config.limits);
        await services.jobs.queueLimits.check(process);
        const { jobId } = await submitJob(services.jobs, request, process, caller);
        const job = await services.store.get(jobId);
        ctx.status = 201;
        ctx.set('location', `${base}/jobs/${jobId}`);
        if (prefersAsync) ctx.set('preference-applied', 'respond-async');
        ctx.body = await statusInfo(job!);
        return;
      }
      const run = await runSynchronously(services, request, process, caller);
      try {
        if (!run.result.ok) throw run.result.error;
        const form = request.responseForm;
        if (form.kind === 'raw') {
          const { data, mimeType } = outputBytes(run.selections[0]!, run.result.produced[0]!.value);
          ctx.type = mimeType;
          ctx.body = data;
          return;
        }
        if (request.rawResults) {
          const { contentType, body: parts } = multipartRelated(
            run.result.produced.map((p) => {
              const id = p.selection.output.identifier;
              const { data, mimeType } = outputBytes(p.selection, p.value);
              return p.href ? { id, mimeType, href: p.href } : { id, mimeType, data };
            }),
          );
          ctx.type = contentType;
          ctx.body = parts;
          return;
        }
        ctx.body = Object.fromEntries(run.result.produced.map((p) => [p.selection.output.identifier, resultValue(toStoredOutput(p.selection.output.identifier, p.value, p.href))]));
      } finally {
        await run.release?.();
      }
    } catch (err) {
      if (!(err instanceof OwsException)) throw err;
      const type = err.httpStatus >= 500 ? (err.code === 'ServerBusy' ? 'server-busy' : 'execution-failed') : 'invalid-parameter';
      problem(ctx, err.httpStatus, type, err.locator ? `${err.locator}: ${err.message}` : err.message);
    }
  };

  const definition = openApiDocument(meta.title, meta.abstract, base, '1.0.0', config.auth !== undefined);
  const descriptions = new WeakMap<ProcessDefinition, string>();

  return {
    /** The API definition: OpenAPI 3.0 as JSON, or as a page for a browser. */
    api(ctx: Context): void {
      if (!wantsPage(ctx)) {
        ctx.type = 'application/vnd.oai.openapi+json;version=3.0';
        ctx.body = JSON.stringify(definition);
        return;
      }
      const rows: string[] = [];
      for (const [path, ops] of Object.entries(definition.paths as Record<string, Record<string, { summary: string }>>)) {
        for (const [method, op] of Object.entries(ops)) rows.push(`<tr><td>${method.toUpperCase()}</td><td><code>${escapeText(path)}</code></td><td>${escapeText(op.summary)}</td></tr>`);
      }
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeText(meta.title)}: API</title></head><body><main><h1>${escapeText(meta.title)}: API definition</h1><p>OpenAPI 3.0: <a href="${escapeAttribute(base)}/api?f=json">the document</a>.</p><table><caption>Operations</caption><thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">What it does</th></tr></thead><tbody>${rows.join('')}</tbody></table></main></body></html>`;
    },
    landing(ctx: Context): void {
      ctx.body = landingPage(meta.title, meta.abstract, base);
    },
    conformance(ctx: Context): void {
      ctx.body = { conformsTo: CONFORMANCE };
    },
    async processes(ctx: Context, caller: Caller, id: string | undefined, execution: boolean): Promise<void> {
      const allowed = execution ? 'POST' : 'GET';
      if (ctx.method !== allowed && !(allowed === 'GET' && ctx.method === 'HEAD')) {
        ctx.set('allow', allowed);
        return problem(ctx, 405, 'method-not-allowed', `${ctx.method} is not allowed here; ${allowed} is`);
      }
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
      if (execution) return execute(ctx, caller, process);
      if (wantsPage(ctx)) return html.process(ctx, process);
      // The same for every caller who may see it: made once.
      let body = descriptions.get(process);
      if (body === undefined) descriptions.set(process, (body = JSON.stringify(processDescription(process, linksOf(process, true)))));
      ctx.type = 'application/json';
      ctx.body = body;
    },
  };
}
