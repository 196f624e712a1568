import type { Context } from 'koa';
import { isAnonymous, mayManage, needsIdentity, type Caller } from '../auth/caller.js';
import { JOB_ID_PATTERN } from '../job-id.js';
import { pageOf, problem } from './problem.js';
import { isTerminal } from '../jobs/states.js';
import type { Job } from '../jobs/store.js';
import type { Services } from '../services.js';
import { openRegularFile } from '../storage/open-regular-file.js';
import { resultValue } from '../ogcapi/results.js';
import { multipartRelated } from '../ogcapi/multipart.js';
import type { ExecuteRequest } from '../ows/request.js';
import { outputBytes } from '../processing/store-outputs.js';
import { fromStoredOutput } from '../storage/job-files.js';
import { STATE_OF, STATUS, statusInfoWriter } from '../ogcapi/status-info.js';
import type { JobStreams } from './job-stream.js';
import { wantsPage, type pages } from './pages.js';

/**
 * Job management over HTTP, shaped like OGC API - Processes Part 1 so that existing
 * tools understand it: GET /jobs, GET /jobs/{id} (statusInfo), GET /jobs/{id}/results,
 * GET /jobs/{id}/logs, DELETE /jobs/{id} (dismiss). Errors are RFC 7807 documents.
 */

export const JOBS_PATH = new RegExp(`^/jobs(?:/(${JOB_ID_PATTERN})(?:/(results|logs))?)?/?$`);

const LOG_TAIL = 256 * 1024;

/** A job as OGC API - Processes' statusInfo, with the session link its owner may see. */
export function statusInfoOf(services: Services): (job: Job) => Promise<Record<string, unknown>> {
  const { publisher, config, sessionLinks } = services;
  return statusInfoWriter({ baseUrl: config.baseUrl, statusLocation: (id) => publisher.statusLocation(id), sessionLink: (job) => sessionLinks.link(job) });
}

export function jobsApi(services: Services, streams: JobStreams, html: ReturnType<typeof pages>) {
  const { store, files, lifecycle } = services;
  const base = services.config.baseUrl;
  const statusInfo = statusInfoOf(services);

  const list = async (ctx: Context, caller: Caller) => {
    const paging = pageOf(ctx, 100, 1000);
    if (!paging) return;
    const { limit, offset } = paging;
    const listed = (name: string) => ([] as string[]).concat(ctx.query[name] ?? []).flatMap((v) => v.split(',')).filter((v) => v !== '');
    const statuses = listed('status');
    const unknown = statuses.filter((s) => !Object.hasOwn(STATE_OF, s));
    if (unknown.length > 0) {
      return problem(ctx, 400, 'invalid-parameter', `status must be one of ${Object.values(STATUS).join(', ')}, not ${unknown.join(', ')}`);
    }
    const created = typeof ctx.query.datetime === 'string' ? interval(ctx.query.datetime) : {};
    if (created === undefined) return problem(ctx, 400, 'invalid-parameter', 'datetime is an RFC 3339 instant or interval (start/end, either end .. for open)');
    const durations: Record<string, number> = {};
    for (const name of ['minDuration', 'maxDuration']) {
      const given = listed(name)[0];
      if (given === undefined) continue;
      if (!/^\d+$/.test(given)) return problem(ctx, 400, 'invalid-parameter', `${name} is a whole number of seconds`);
      durations[name] = Number(given);
    }
    const types = listed('type');
    // Each user sees their own jobs; an admin everyone's, or one user's with ?user=.
    const user = typeof ctx.query.user === 'string' ? ctx.query.user : undefined;
    const owner = caller.admin ? user : caller.user;
    const processIds = listed('processID');
    // Every job here is a process's: asking only for other types finds none.
    const { jobs, total } = types.length > 0 && !types.includes('process')
      ? { jobs: [], total: 0 }
      : await store.list({
          ...(owner !== undefined ? { owner } : {}),
          ...(processIds.length > 0 ? { processIds } : {}),
          states: statuses.map((s) => STATE_OF[s]!),
          ...created,
          ...durations,
          limit,
          offset,
        });
    const page = (o: number) => {
      const q = new URLSearchParams(ctx.querystring);
      q.set('limit', String(limit));
      q.set('offset', String(o));
      return `${base}/jobs?${q}`;
    };
    const links = [
      { href: page(offset), rel: 'self', type: 'application/json' },
      { href: `${page(offset)}&f=html`, rel: 'alternate', type: 'text/html' },
    ];
    if (offset + jobs.length < total) links.push({ href: page(offset + limit), rel: 'next', type: 'application/json' });
    if (offset > 0) links.push({ href: page(Math.max(0, offset - limit)), rel: 'prev', type: 'application/json' });
    ctx.body = { jobs: await Promise.all(jobs.map(statusInfo)), numberMatched: total, links };
  };

  const results = async (ctx: Context, job: Job) => {
    if (job.state === 'failed' || job.state === 'dismissed') {
      return problem(ctx, 500, 'job-failed', job.failureReason ?? `the job ${job.state === 'dismissed' ? 'was dismissed' : 'failed'}`);
    }
    const result = job.state === 'succeeded' ? await files.readResult(job.id) : undefined;
    if (!result || result.state !== 'succeeded') return problem(ctx, 404, 'result-not-ready', `job ${job.id} is ${STATUS[job.state]}`);
    const only = result.outputs[0];
    const process = services.registry.get(job.processId);
    if ((job.request as ExecuteRequest).rawResults && result.outputs.length > 1 && process) {
      const { contentType, body } = multipartRelated(
        result.outputs.map((o) => {
          const output = process.outputs.find((d) => d.identifier === o.identifier)!;
          const { data, mimeType } = outputBytes({ output, asReference: false }, fromStoredOutput(o).value);
          return o.href ? { id: o.identifier, mimeType, href: o.href } : { id: o.identifier, mimeType, data };
        }),
      );
      ctx.type = contentType;
      ctx.body = body;
      return;
    }
    if ((job.request as ExecuteRequest).rawResults && result.outputs.length === 1 && only) {
      // Asked for as it is: the output itself, or where it is stored.
      if (only.href) return ctx.redirect(only.href);
      const { value } = fromStoredOutput(only);
      const output = process?.outputs.find((o) => o.identifier === only.identifier);
      if (output) {
        const { data, mimeType } = outputBytes({ output, asReference: false }, value);
        ctx.type = mimeType;
        ctx.body = data;
        return;
      }
    }
    ctx.body = Object.fromEntries(result.outputs.map((o) => [o.identifier, resultValue(o)]));
  };

  const logs = async (ctx: Context, job: Job) => {
    ctx.body = {
      jobID: job.id,
      stdout: await tail(files.jobsDir, files.stdoutPath(job.id)),
      stderr: await tail(files.jobsDir, files.stderrPath(job.id)),
    };
  };

  /**
   * A job's statusInfo as sent, kept a moment: pollers ask again and again. Dropped when
   * the job changes (the job events, across servers with Redis); kept a second while it
   * runs (a lost event costs no more), a minute once it has ended (retention may remove it).
   */
  const answered = new Map<string, { owner: string | null; body: string; until: number }>();
  services.events.onChanged((changed) => answered.delete(changed));
  const plainGet = (ctx: Context, part: string | undefined) =>
    part === undefined && ctx.method === 'GET' && !wantsPage(ctx) && ctx.accepts('application/json', 'text/event-stream') !== 'text/event-stream';

  return async (ctx: Context, caller: Caller, id: string | undefined, part: string | undefined): Promise<void> => {
    if (isAnonymous(caller)) throw needsIdentity();
    const kept = id !== undefined && plainGet(ctx, part) ? answered.get(id) : undefined;
    if (kept && kept.until > Date.now() && mayManage(kept.owner, caller)) {
      ctx.type = 'application/json';
      ctx.body = kept.body;
      return;
    }
    if (!id) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return problem(ctx, 405, 'method-not-allowed', 'GET /jobs');
      if (wantsPage(ctx)) return html.jobs(ctx, caller, services.registry.visibleTo(caller));
      return list(ctx, caller);
    }
    const job = await store.get(id);
    // Another user's job is answered like one that does not exist: ids do not leak.
    if (!job || !mayManage(job.owner, caller)) return problem(ctx, 404, 'no-such-job', `there is no job ${id}`);
    if (ctx.method === 'DELETE' && !part) {
      if (isTerminal(job.state)) return problem(ctx, 409, 'job-finished', `job ${id} is ${STATUS[job.state]}; only accepted or running jobs can be dismissed`);
      const dismissed = await lifecycle.dismiss(id);
      if (!dismissed) return problem(ctx, 409, 'job-finished', `job ${id} ended meanwhile`);
      ctx.body = await statusInfo(dismissed);
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return problem(ctx, 405, 'method-not-allowed', `${ctx.method} is not allowed here`);
    // A browser reads results on the job's page.
    if (part === 'results') return wantsPage(ctx) ? html.job(ctx, job) : results(ctx, job);
    if (part === 'logs') return logs(ctx, job);
    if (ctx.accepts('application/json', 'text/event-stream') === 'text/event-stream' && ctx.method === 'GET') return streams.follow(ctx, job);
    if (wantsPage(ctx)) return html.job(ctx, job);
    const body = JSON.stringify(await statusInfo(job));
    if (answered.size >= 10_000) answered.delete(answered.keys().next().value!);
    // A running session's carries the owner's link: not kept.
    if (job.sessionHost === null) answered.set(job.id, { owner: job.owner, body, until: Date.now() + (isTerminal(job.state) ? 60_000 : 1000) });
    ctx.type = 'application/json';
    ctx.body = body;
  };
}

/** An RFC 3339 instant, or an interval `start/end` with `..` (or nothing) for an open end; undefined when it is neither. */
function interval(text: string): { createdFrom?: Date; createdTo?: Date } | undefined {
  const parse = (t: string) => {
    if (t === '..' || t === '') return null;
    const d = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/i.test(t) ? new Date(t) : undefined;
    return d && !Number.isNaN(d.getTime()) ? d : undefined;
  };
  const parts = text.split('/');
  if (parts.length === 1) {
    const at = parse(parts[0]!);
    return at ? { createdFrom: at, createdTo: at } : undefined;
  }
  if (parts.length !== 2) return undefined;
  const [from, to] = parts.map(parse);
  if (from === undefined || to === undefined || (from === null && to === null)) return undefined;
  return { ...(from ? { createdFrom: from } : {}), ...(to ? { createdTo: to } : {}) };
}

/** The last part of a log file; a missing file (or anything but a regular file) is an empty log. */
async function tail(root: string, path: string): Promise<string> {
  const handle = await openRegularFile(root, path);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, LOG_TAIL);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    return (size > length ? '…\n' : '') + buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
