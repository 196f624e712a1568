import type { JobState } from '../jobs/states.js';
import type { Job } from '../jobs/store.js';

/** OGC API - Processes' name of each job state. */
export const STATUS: Record<JobState, string> = {
  accepted: 'accepted',
  running: 'running',
  succeeded: 'successful',
  failed: 'failed',
  dismissed: 'dismissed',
};

/** The job state of each of OGC API - Processes' status names. */
export const STATE_OF: Readonly<Record<string, JobState>> = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k as JobState]));

export interface StatusInfoSources {
  baseUrl: string;
  /** The job's WPS status document. */
  statusLocation(id: string): string;
  /** A ready session's link with its secret (for its owner's eyes only). */
  sessionLink?(job: Job): Promise<string | undefined>;
}

/** A job as statusInfo: its state, progress, times and links (its WPS status document, results, logs, session). */
export function statusInfoWriter(o: StatusInfoSources): (job: Job) => Promise<Record<string, unknown>> {
  const base = o.baseUrl;
  return async (job) => {
    const links: Record<string, unknown>[] = [
      { href: `${base}/jobs/${job.id}`, rel: 'self', type: 'application/json', title: 'this job' },
      { href: o.statusLocation(job.id), rel: 'status', type: 'text/xml', title: 'WPS 1.0.0 status document' },
      { href: `${base}/jobs/${job.id}/logs`, rel: 'logs', type: 'application/json', title: "the job's stdout and stderr" },
    ];
    if (job.state === 'succeeded') links.push({ href: `${base}/jobs/${job.id}/results`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/results', type: 'application/json', title: 'results' });
    const session = job.state === 'running' && o.sessionLink ? await o.sessionLink(job) : undefined;
    if (session) links.push({ href: session, rel: 'session', type: 'text/html', title: 'the interactive session' });
    return {
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
      links,
    };
  };
}
