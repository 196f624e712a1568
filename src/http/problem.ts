import type { Context } from 'koa';
import type { Authenticator } from '../auth/authenticate.js';
import { AuthRefusal, type Caller } from '../auth/caller.js';

const EXCEPTIONS = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0';

/** An RFC 7807 problem document, typed in OGC API - Processes' exception namespace. */
export function problem(ctx: Context, status: number, type: string, detail: string): void {
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = { type: `${EXCEPTIONS}/${type}`, title: type.replace(/-/g, ' '), status, detail };
}

/**
 * Koa middleware for the JSON routes: who sent the request goes into `ctx.state.caller`;
 * credentials that do not hold, and refusals further in, are answered as problems with
 * the challenge of a 401.
 */
export function identifyCaller(auth: Authenticator) {
  return async (ctx: Context, next: () => Promise<unknown>): Promise<void> => {
    try {
      (ctx.state as { caller: Caller }).caller = await auth.identify(ctx.req);
      await next();
    } catch (err) {
      if (!(err instanceof AuthRefusal)) throw err;
      problem(ctx, err.status, err.status === 403 ? 'forbidden' : err.status === 503 ? 'identity-provider-unavailable' : 'unauthorized', err.message);
      if (err.challenge) ctx.set('www-authenticate', err.challenge);
    }
  };
}

export const callerOf = (ctx: Context): Caller => (ctx.state as { caller: Caller }).caller;

/**
 * A list's page from `limit` (1 to `max`, `byDefault` when absent) and `offset` (from 0);
 * undefined when either is out of range, after answering the problem.
 */
export function pageOf(ctx: Context, byDefault: number, max: number): { limit: number; offset: number } | undefined {
  const limit = Number(ctx.query.limit ?? byDefault);
  const offset = Number(ctx.query.offset ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) return void problem(ctx, 400, 'invalid-parameter', `limit must be a whole number from 1 to ${max}`);
  if (!Number.isInteger(offset) || offset < 0) return void problem(ctx, 400, 'invalid-parameter', 'offset must be a whole number from 0');
  return { limit, offset };
}
