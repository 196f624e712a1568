import type { SessionApp } from './app.js';
import { expandCommand, SECRET_PARAMETER } from './app.js';

/** Where the proxy serves a session: its path, and its public URL (without the secret). */
export function sessionPaths(sessionsUrl: string, id: string): { basePath: string; url: string } {
  const basePath = `/sessions/${id}/`;
  return { basePath, url: `${sessionsUrl}${basePath}` };
}

/**
 * The URL that lets its holder in: the app's `path` below the session's URL (its own
 * login, such as Jupyter's `?token=${secret}`, filled in) and the secret for the proxy.
 */
export function sessionLink(url: string, app: Pick<SessionApp, 'path'>, secret: string): string {
  const [path] = expandCommand([app.path], { secret: encodeURIComponent(secret) });
  const full = `${url}${path!.replace(/^\//, '')}`;
  return `${full}${full.includes('?') ? '&' : '?'}${SECRET_PARAMETER}=${encodeURIComponent(secret)}`;
}

/** What a session's links are made of: its app (from the registry) and its secret (from its spec). */
export interface SessionLinkSources {
  appOf(processId: string): SessionApp | undefined;
  secretOf(jobId: string): Promise<string | undefined>;
}

/**
 * A ready session's URL with its secret, for its owner (the status document, the jobs
 * API, the launcher's answer). The secret is in the job's spec, beside the runner's; the
 * store holds only its hash.
 */
export class SessionLinks {
  constructor(
    private readonly sessionsUrl: string,
    private readonly sources: SessionLinkSources,
  ) {}

  /** The session's URL without its secret (undefined: not a session, or not ready). */
  url(job: { id: string; processId: string; sessionHost: string | null }): string | undefined {
    return job.sessionHost !== null && this.sources.appOf(job.processId) ? sessionPaths(this.sessionsUrl, job.id).url : undefined;
  }

  /** The URL that lets its holder in, once the session is ready (undefined: not a session, or not ready). */
  async link(job: { id: string; processId: string; sessionHost: string | null }): Promise<string | undefined> {
    const app = job.sessionHost !== null ? this.sources.appOf(job.processId) : undefined;
    const secret = app ? await this.sources.secretOf(job.id) : undefined;
    return app && secret ? sessionLink(sessionPaths(this.sessionsUrl, job.id).url, app, secret) : undefined;
  }
}
