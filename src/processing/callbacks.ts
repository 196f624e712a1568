import { setTimeout as wait } from 'node:timers/promises';
import type { AddressPolicy } from '../inout/address-policy.js';
import { fetchReference } from '../inout/fetch-reference.js';
import { isTerminal } from '../jobs/states.js';
import type { Job } from '../jobs/store.js';
import type { Log } from '../log.js';
import type { ExecuteRequest } from '../ows/request.js';
import type { JobResult } from '../runner-contract.js';

/** What each callback carries: the job's statusInfo, its results document, or the failure. */
export interface CallbackDocuments {
  statusInfo(job: Job): Promise<Record<string, unknown>>;
  results(result: JobResult): Record<string, unknown>;
}

/** Pauses between tries of a callback that did not get through. */
const RETRY_MS = [1000, 2000, 4000, 8000];
const TIMEOUT_MS = 10_000;

/**
 * OGC API - Processes' callbacks: a job's subscriber hears of its progress
 * (`inProgressUri`: its statusInfo), its success (`successUri`: its results) and its
 * failure (`failedUri`: the exception). Posted in order, one job's after another's of the
 * same job, with retries and growing pauses; a progress report still waiting is replaced
 * by a newer one. Addresses pass the same policy as references (a name opens public
 * addresses only; metadata addresses never), checked at every connection. Nothing here
 * holds a job up: the lifecycle hands the news over and goes on.
 */
export class Callbacks {
  private readonly chains = new Map<string, Promise<void>>();
  /** A job's progress report waiting for its turn (the newest wins). */
  private readonly waitingProgress = new Map<string, Job>();

  constructor(
    private readonly policy: AddressPolicy,
    private readonly documents: CallbackDocuments,
    private readonly log: Log,
  ) {}

  /** The job changed (started, progressed, ended, with its result when it succeeded). */
  notify(job: Job, result?: JobResult): void {
    const subscriber = (job.request as ExecuteRequest).subscriber;
    if (!subscriber) return;
    if (!isTerminal(job.state)) {
      if (!subscriber.inProgressUri) return;
      const queued = this.waitingProgress.has(job.id);
      this.waitingProgress.set(job.id, job);
      if (queued) return;
      this.enqueue(job.id, async () => {
        const latest = this.waitingProgress.get(job.id);
        this.waitingProgress.delete(job.id);
        if (latest) await this.post(job.id, subscriber.inProgressUri!, await this.documents.statusInfo(latest));
      });
      return;
    }
    this.waitingProgress.delete(job.id);
    const uri = job.state === 'succeeded' ? subscriber.successUri : subscriber.failedUri;
    if (!uri) return;
    this.enqueue(job.id, async () => {
      const body =
        job.state === 'succeeded' && result?.state === 'succeeded'
          ? this.documents.results(result)
          : { type: 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/job-failed', title: 'job failed', status: 500, detail: job.failureReason ?? job.message ?? `the job ${job.state === 'dismissed' ? 'was dismissed' : 'failed'}`, jobID: job.id };
      await this.post(job.id, uri, body);
    });
  }

  private enqueue(id: string, send: () => Promise<void>): void {
    const next = (this.chains.get(id) ?? Promise.resolve()).then(send).catch(() => undefined);
    this.chains.set(id, next);
    void next.then(() => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    });
  }

  private async post(id: string, uri: string, document: unknown): Promise<void> {
    const body = JSON.stringify(document);
    for (let attempt = 0; ; attempt++) {
      try {
        await fetchReference(uri, { method: 'POST', headers: [{ key: 'content-type', value: 'application/json' }], body, policy: this.policy, timeoutMs: TIMEOUT_MS, maxBytes: 64 * 1024, locator: 'subscriber' });
        return;
      } catch (err) {
        if (attempt >= RETRY_MS.length) {
          // Without its query, which may hold the subscriber's token.
          this.log({ level: 'warn', msg: 'callback not delivered', jobId: id, to: uri.replace(/[?#].*$/, ''), error: (err as Error).message });
          return;
        }
        await wait(RETRY_MS[attempt]!);
      }
    }
  }
}
