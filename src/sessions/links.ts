import type { SessionApp } from './app.js';
import { SECRET_PARAMETER } from './app.js';

/** Where the proxy serves a session, and the URL a person opens (the app's `path` below it). */
export function sessionPaths(sessionsUrl: string, id: string, app: Pick<SessionApp, 'path'>): { basePath: string; url: string } {
  const basePath = `/sessions/${id}/`;
  return { basePath, url: `${sessionsUrl}${basePath}${app.path.replace(/^\//, '')}` };
}

/** The session's URL with its secret: what lets its holder through the proxy the first time. */
export function withSecret(url: string, secret: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${SECRET_PARAMETER}=${encodeURIComponent(secret)}`;
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

  /** The URL without the secret (undefined: not a session). */
  url(job: { id: string; processId: string }): string | undefined {
    const app = this.sources.appOf(job.processId);
    return app ? sessionPaths(this.sessionsUrl, job.id, app).url : undefined;
  }

  /** The URL that lets its holder in, once the session is ready. */
  async link(job: { id: string; processId: string; sessionHost: string | null }): Promise<string | undefined> {
    const url = job.sessionHost !== null ? this.url(job) : undefined;
    const secret = url ? await this.sources.secretOf(job.id) : undefined;
    return url && secret ? withSecret(url, secret) : undefined;
  }
}
