import { setTimeout as wait } from 'node:timers/promises';
import type { Context } from 'koa';
import { AuthRefusal, isAnonymous, mayManage, type Caller } from '../auth/caller.js';
import { OwsException } from '../exceptions.js';
import { isJobId } from '../job-id.js';
import { isTerminal } from '../jobs/states.js';
import type { Job } from '../jobs/store.js';
import type { ExecuteRequest, InputSubmission } from '../ows/request.js';
import type { LiteralInput, ProcessDefinition } from '../process/types.js';
import { checkInputsBeforeFetching } from '../processing/resolve-inputs.js';
import { submitJob } from '../processing/submit-job.js';
import type { Services } from '../services.js';
import { SECRET_PARAMETER, substitute, variablesOf } from '../sessions/app.js';
import { NO_PORT, NOT_READY } from '../sessions/run-session.js';
import { readBody } from './read-body.js';

/** How often a launch request looks whether its session is ready. */
const POLL_MS = 100;

/**
 * The ParaViewWeb launcher's REST API (wslink's launcher), at `sessions.endpoint`: POST
 * `{"application": …}` starts the app's session as a job through the configured
 * scheduler and answers once it is ready, with the launcher's fields; GET and DELETE
 * `{endpoint}/{id}` read and end it. Errors are the launcher's: `{"error": …}` with its
 * status codes and words, which its clients show (and on 503 retry).
 */
export function launcherApi(services: Services) {
  const { config, registry, store, lifecycle, sessionLinks } = services;
  const s = config.sessions;
  const reply = (ctx: Context, status: number, body: Record<string, unknown>) => {
    ctx.status = status;
    ctx.set('cache-control', 'no-store');
    ctx.body = body;
  };
  const sessionProcesses = () => registry.all().filter((p) => p.session).map((p) => p.identifier);
  const poolSize = s.resources.reduce((n, p) => n + p.portRange[1] - p.portRange[0] + 1, 0);

  /** What the launcher tells of a session: the fields asked for, and always id, sessionURL and sessionManagerURL. */
  const describe = async (job: Job, process: ProcessDefinition, withSecret: boolean): Promise<Record<string, unknown>> => {
    const link = await sessionLinks.link(job);
    const secret = link ? new URL(link).searchParams.get(SECRET_PARAMETER) ?? undefined : undefined;
    const session: Record<string, unknown> = {
      id: job.id,
      application: process.identifier,
      host: job.sessionHost,
      port: job.sessionPort,
      sessionURL: link?.replace(/^http/, 'ws'),
      sessionManagerURL: `${config.baseUrl}${s.endpoint}/${job.id}`,
    };
    for (const i of (job.request as ExecuteRequest).inputs) if (i.data.kind === 'literal') session[i.identifier] ??= i.data.value;
    const fields = Object.fromEntries(Object.entries(session).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]));
    // In order, each seeing those before it, as the launcher's.
    for (const [key, template] of Object.entries(s.sessionData)) session[key] = fields[key] = substitute(template, fields, 'keep');
    if (secret !== undefined) session.secret = secret;
    const keep = new Set([...s.fields, 'id', 'sessionURL', 'sessionManagerURL', ...(withSecret ? ['secret'] : [])]);
    return Object.fromEntries(Object.entries(session).filter(([k, v]) => keep.has(k) && v !== undefined && v !== null));
  };

  const launch = async (ctx: Context, caller: Caller) => {
    let payload: unknown;
    try {
      // wslink's client sends its JSON as text/plain (XHR's default): the type is not looked at.
      payload = JSON.parse((await readBody(ctx.req, 64 * 1024)).toString('utf8'));
    } catch {
      return reply(ctx, 400, { error: 'The request is not complete' });
    }
    const p = payload as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || Array.isArray(p) || typeof p.application !== 'string') {
      return reply(ctx, 400, { error: 'The request is not complete' });
    }
    const process = registry.getFor(p.application, caller);
    if (!process?.session) return reply(ctx, 404, { error: `No application ${p.application}` });
    if ((await store.countUnfinishedOf(sessionProcesses())) >= poolSize) {
      return reply(ctx, 503, { error: NO_PORT });
    }
    const req: ExecuteRequest = {
      operation: 'Execute',
      language: undefined,
      identifier: process.identifier,
      inputs: launchInputs(process, p),
      responseForm: { kind: 'document', outputs: [], storeExecuteResponse: true, lineage: false, status: true },
    };
    let jobId: string;
    try {
      checkInputsBeforeFetching(process, req.inputs, config.limits);
      jobId = (await submitJob(services.jobs, req, process, caller)).jobId;
    } catch (err) {
      if (!(err instanceof OwsException)) throw err;
      return reply(ctx, err.code === 'ServerBusy' ? 503 : err.httpStatus >= 500 ? 503 : 400, { error: err.message });
    }
    const deadline = Date.now() + s.timeoutSeconds * 1000;
    // A client that gives up does not leave its session behind.
    const gone = () => !ctx.res.writableEnded && ctx.req.socket.destroyed;
    for (;;) {
      const job = await store.get(jobId);
      if (!job) return reply(ctx, 503, { error: NOT_READY });
      if (job.sessionHost !== null && job.state === 'running') {
        const usesSecret = variablesOf(process.session.cmd).has('secret');
        return reply(ctx, 200, await describe(job, process, usesSecret));
      }
      if (isTerminal(job.state)) {
        const reason = job.failureReason ?? '';
        return reply(ctx, 503, { error: reason.startsWith(NO_PORT) ? NO_PORT : reason.startsWith(NOT_READY) || reason === '' ? NOT_READY : `The process did not properly start. ${reason}` });
      }
      if (Date.now() >= deadline || gone()) {
        await lifecycle.dismiss(jobId);
        return reply(ctx, 503, { error: NOT_READY });
      }
      await wait(POLL_MS);
    }
  };

  return async (ctx: Context, id: string | undefined): Promise<void> => {
    // A page of another site must not start or end sessions in its visitor's name (Fetch Metadata, as for /wps).
    const site = ctx.get('sec-fetch-site');
    if ((site === 'cross-site' || site === 'same-site') && ctx.method !== 'GET') {
      return reply(ctx, 403, { error: `${ctx.method} ${s.endpoint} is not accepted from a page on another site` });
    }
    let caller: Caller;
    try {
      caller = await services.auth.identify(ctx.req);
    } catch (err) {
      if (!(err instanceof AuthRefusal)) throw err;
      if (err.challenge) ctx.set('www-authenticate', err.challenge);
      return reply(ctx, err.status, { error: err.message });
    }
    if (isAnonymous(caller)) return reply(ctx, 401, { error: 'This needs credentials: send Authorization: Bearer <token>' });
    if (id === undefined) {
      if (ctx.method !== 'POST') return reply(ctx, 405, { error: `POST ${s.endpoint} starts a session` });
      return launch(ctx, caller);
    }
    const job = isJobId(id) ? await store.get(id) : undefined;
    const process = job ? registry.get(job.processId) : undefined;
    const found = job && process?.session && mayManage(job.owner, caller) && !isTerminal(job.state) ? job : undefined;
    if (ctx.method === 'GET') {
      if (!found) return reply(ctx, 400, { error: `No session with id: ${id}` });
      return reply(ctx, 200, await describe(found, process!, false));
    }
    if (ctx.method === 'DELETE') {
      if (!found) return reply(ctx, 404, { error: `No session with id: ${id}` });
      const described = await describe(found, process!, false);
      await lifecycle.dismiss(found.id);
      return reply(ctx, 200, described);
    }
    return reply(ctx, 405, { error: `GET or DELETE ${s.endpoint}/{id}` });
  };
}

/**
 * The launch request's values for the app's inputs, by the launcher's rule: a value that
 * is not allowed becomes the input's default (one without a default is refused later).
 */
function launchInputs(process: ProcessDefinition, payload: Record<string, unknown>): InputSubmission[] {
  const inputs: InputSubmission[] = [];
  for (const input of process.inputs) {
    const given = payload[input.identifier];
    if (given === undefined || given === null || typeof given === 'object') continue;
    let value = String(given);
    if (input.type === 'literal' && !passes(input, value) && input.default !== undefined) value = String(input.default);
    inputs.push({ identifier: input.identifier, data: { kind: 'literal', value } });
  }
  return inputs;
}

function passes(input: LiteralInput, value: string): boolean {
  if (input.allowedValues && !input.allowedValues.some((a) => typeof a === 'string' && a === value)) return false;
  return input.pattern === undefined || new RegExp(input.pattern).test(value);
}
