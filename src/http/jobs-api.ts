import type { Context } from 'koa';
import { isAnonymous, mayManage, needsIdentity, type Caller } from '../auth/caller.js';
import { JOB_ID_PATTERN } from '../job-id.js';
import { problem } from './problem.js';
import { isTerminal, type JobState } from '../jobs/states.js';
import type { Job } from '../jobs/store.js';
import type { Services } from '../services.js';
import { openRegularFile } from '../storage/open-regular-file.js';
import { resultValue } from '../ogcapi/results.js';

/**
 * Job management over HTTP, shaped like OGC API - Processes Part 1 so that existing
 * tools understand it: GET /jobs, GET /jobs/{id} (statusInfo), GET /jobs/{id}/results,
 * GET /jobs/{id}/logs, DELETE /jobs/{id} (dismiss). Errors are RFC 7807 documents.
 */

export const JOBS_PATH = new RegExp(`^/jobs(?:/(${JOB_ID_PATTERN})(?:/(results|logs))?)?/?$`);

const STATUS: Record<JobState, string> = {
  accepted: 'accepted',
  running: 'running',
  succeeded: 'successful',
  failed: 'failed',
  dismissed: 'dismissed',
};
const STATE_OF = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k as JobState]));
const LOG_TAIL = 256 * 1024;

/** A job as OGC API - Processes' statusInfo (a ready session's has a link with rel `session`: its URL with its secret, for its owner). */
export function statusInfoOf(services: Services): (job: Job) => Promise<Record<string, unknown>> {
  const { publisher, config, sessionLinks } = services;
  const base = config.baseUrl;

  const describe = (job: Job) => {
    const info: Record<string, unknown> = {
      jobID: job.id,
      processID: job.processId,
      type: 'process',
      status: STATUS[job.state],
      message: job.message ?? undefined,
      progress: job.percent,
      created: job.createdAt.toISOString(),
      started: job.startedAt?.toISOString(),
      finished: job.finishedAt?.toISOString(),
      updated: job.updatedAt.toISOString(),
      links: [
        { href: `${base}/jobs/${job.id}`, rel: 'self', type: 'application/json', title: 'this job' },
        { href: publisher.statusLocation(job.id), rel: 'status', type: 'text/xml', title: 'WPS 1.0.0 status document' },
        { href: `${base}/jobs/${job.id}/logs`, rel: 'logs', type: 'application/json', title: "the job's stdout and stderr" },
      ],
    };
    if (job.state === 'succeeded') {
      (info.links as unknown[]).push({
        href: `${base}/jobs/${job.id}/results`,
        rel: 'http://www.opengis.net/def/rel/ogc/1.0/results',
        type: 'application/json',
        title: 'results',
      });
    }
    return info;
  };

  return async (job: Job) => {
    const info = describe(job);
    const link = job.state === 'running' ? await sessionLinks.link(job) : undefined;
    if (link) (info.links as unknown[]).push({ href: link, rel: 'session', type: 'text/html', title: 'the interactive session' });
    return info;
  };
}

export function jobsApi(services: Services) {
  const { store, files, lifecycle } = services;
  const base = services.config.baseUrl;
  const statusInfo = statusInfoOf(services);

  const list = async (ctx: Context, caller: Caller) => {
    const limit = Math.min(1000, Math.max(1, Number(ctx.query.limit ?? 100) || 100));
    const offset = Math.max(0, Number(ctx.query.offset ?? 0) || 0);
    const statuses = ([] as string[]).concat(ctx.query.status ?? []).flatMap((s) => s.split(','));
    const unknown = statuses.filter((s) => !(s in STATE_OF));
    if (unknown.length > 0) {
      return problem(ctx, 400, 'invalid-parameter', `status must be one of ${Object.values(STATUS).join(', ')}, not ${unknown.join(', ')}`);
    }
    const processId = typeof ctx.query.processID === 'string' ? ctx.query.processID : undefined;
    // Each user sees their own jobs; an admin everyone's, or one user's with ?user=.
    const user = typeof ctx.query.user === 'string' ? ctx.query.user : undefined;
    const owner = caller.admin ? user : caller.user;
    const { jobs, total } = await store.list({
      ...(owner !== undefined ? { owner } : {}),
      ...(processId ? { processId } : {}),
      states: statuses.map((s) => STATE_OF[s]!),
      limit,
      offset,
    });
    const page = (o: number) => {
      const q = new URLSearchParams(ctx.querystring);
      q.set('limit', String(limit));
      q.set('offset', String(o));
      return `${base}/jobs?${q}`;
    };
    const links = [{ href: page(offset), rel: 'self', type: 'application/json' }];
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
    ctx.body = Object.fromEntries(result.outputs.map((o) => [o.identifier, resultValue(o)]));
  };

  const logs = async (ctx: Context, job: Job) => {
    ctx.body = {
      jobID: job.id,
      stdout: await tail(files.jobsDir, files.stdoutPath(job.id)),
      stderr: await tail(files.jobsDir, files.stderrPath(job.id)),
    };
  };

  return async (ctx: Context, caller: Caller, id: string | undefined, part: string | undefined): Promise<void> => {
    if (isAnonymous(caller)) throw needsIdentity();
    if (!id) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return problem(ctx, 405, 'method-not-allowed', 'GET /jobs');
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
    if (part === 'results') return results(ctx, job);
    if (part === 'logs') return logs(ctx, job);
    ctx.body = await statusInfo(job);
  };
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
