import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OwsException, type ExceptionCode } from '../exceptions.js';
import { executeResponseXml, type ExecuteStatus, type ProducedOutput } from '../ows/execute-response.js';
import type { ExecuteRequest, ResponseDocumentForm } from '../ows/request.js';
import { effectiveAsks, selectOutputs } from '../process/outputs.js';
import type { ProcessRegistry } from '../process/registry.js';
import type { ProcessDefinition } from '../process/types.js';
import { isTerminal } from '../jobs/states.js';
import type { Job, JobStore } from '../jobs/store.js';
import type { Log } from '../log.js';
import type { FileWriter } from '../storage/file-writer.js';
import type { JobResult } from '../runner-contract.js';
import { fromStoredOutput, type JobFiles } from '../storage/job-files.js';
import { statusDocumentName } from '../storage/output-store.js';

export interface PublisherOptions {
  store: JobStore;
  registry: ProcessRegistry;
  files: JobFiles;
  writer: FileWriter;
  /** Where status documents are written, and their public URL. */
  outputDir: string;
  outputUrl: string;
  /** The WPS endpoint, for serviceInstance. */
  endpoint: string;
  defaultLanguage: string;
  /**
   * Only this process writes status documents (the in-process queue: one server). Then
   * an in-process lock per job and the rows' versions keep documents in order; with
   * several servers a Postgres advisory lock does.
   */
  singleWriter: boolean;
  log: Log;
  /** A ready session's URL with its secret, which its document's message gives. */
  sessionLink?: (job: Job) => Promise<string | undefined>;
}

/** First and longest pause before documents that could not be written are tried again. */
const RETRY_FIRST_MS = 500;
const RETRY_LONGEST_MS = 8_000;

/**
 * Status documents: the ExecuteResponse at a job's statusLocation, always written
 * whole (temporary file, then rename) from the job row, under a lock on the job, so a
 * poller never reads half a document nor an older state after a newer one.
 *
 * A document that cannot be written (storage read-only, full, unmounted) does not stop
 * the job: its state is in the row, and the document is written again from the row,
 * every few seconds, until storage takes it. A client polling through an outage sees
 * the last document that was written, then the job's current one, never a job that
 * looks stuck for good.
 */
export class StatusPublisher {
  /** Single writer: the version of the row each job's document was last written from. */
  private readonly written = new Map<string, number>();
  /** Single writer: the tail of each job's chain of document writes. */
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Jobs whose newest document storage refused; tried again after `retryMs`. */
  private readonly unwritten = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;
  private closed = false;

  constructor(private readonly o: PublisherOptions) {}

  statusPath(id: string): string {
    return join(this.o.outputDir, statusDocumentName(id));
  }

  statusLocation(id: string): string {
    return `${this.o.outputUrl}/${statusDocumentName(id)}`;
  }

  /** Documents waiting for storage to take them. */
  get unwrittenCount(): number {
    return this.unwritten.size;
  }

  /** Stops trying again (the server is closing; a restart rewrites stale documents). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /**
   * Writes the document for the job's current state and returns it, also when storage
   * refused it (then it is tried again later). `known` is the row as a state change
   * just returned it (saves reading it again), `result` the runner's result when it is
   * at hand.
   */
  async publish(id: string, known?: Job, result?: JobResult): Promise<string | undefined> {
    if (!this.o.singleWriter) {
      return this.o.store.withLockedJob(id, (job) => this.write(job, job?.id === known?.id ? result : undefined));
    }
    const previous = this.chains.get(id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const last = this.written.get(id);
      // A row just returned by a state change is the newest, unless one written since is newer;
      // without a record of what was written (a restart), a terminal row (final) or the stored one.
      const trusted = known && (last === undefined ? isTerminal(known.state) : known.version > last);
      const job = trusted ? known : await this.o.store.get(id);
      if (!job || (last !== undefined && job.version < last)) return undefined;
      const xml = await this.write(job, job === known ? result : undefined);
      if (isTerminal(job.state)) this.written.delete(id);
      else this.written.set(id, job.version);
      return xml;
    });
    const tail = next.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return next;
  }

  /** The first document of a job, written before anyone else knows the job exists. */
  async publishAccepted(job: Job): Promise<string> {
    const xml = this.document(job, undefined);
    await this.o.writer.create(this.statusPath(job.id), xml);
    if (this.o.singleWriter) this.written.set(job.id, job.version);
    return xml;
  }

  /** Takes back the first document of a job whose submission failed (no client knows of it). */
  async withdraw(id: string): Promise<void> {
    this.written.delete(id);
    await rm(this.statusPath(id), { force: true });
  }

  private async write(job: Job | undefined, result: JobResult | undefined): Promise<string | undefined> {
    if (!job) return undefined;
    const r = job.state === 'succeeded' ? (result ?? (await this.o.files.readResult(job.id))) : undefined;
    const link = job.state === 'running' && job.sessionHost !== null ? await this.o.sessionLink?.(job).catch(() => undefined) : undefined;
    const xml = this.document(job, r, link);
    try {
      await this.o.writer.replace(this.statusPath(job.id), xml);
      this.unwritten.delete(job.id);
    } catch (err) {
      this.writeFailed(job.id, err as NodeJS.ErrnoException);
    }
    return xml;
  }

  private writeFailed(id: string, err: NodeJS.ErrnoException): void {
    if (this.closed) return;
    if (this.unwritten.size === 0) {
      this.o.log({ level: 'error', msg: 'status documents cannot be written; trying again until storage takes them', jobId: id, code: err.code, err: err.message });
    }
    this.unwritten.add(id);
    this.retryTimer ??= setTimeout(() => void this.retry(), this.retryMs).unref();
  }

  /**
   * Writes the documents that could not be written again, from their rows, until one
   * fails (storage still refuses: the rest would too). A job whose row is gone
   * (retention removed it) needs no document.
   */
  private async retry(): Promise<void> {
    this.retryTimer = undefined;
    const before = this.unwritten.size;
    for (const id of [...this.unwritten]) {
      if (this.closed) return;
      const xml = await this.publish(id).catch(() => null);
      if (xml === null) break; // the store is away: later
      if (xml === undefined) this.unwritten.delete(id);
      else if (this.unwritten.has(id)) break;
    }
    if (this.unwritten.size === 0) {
      this.retryMs = RETRY_FIRST_MS;
      this.o.log({ level: 'info', msg: 'status documents written again', count: before });
      return;
    }
    this.retryMs = Math.min(RETRY_LONGEST_MS, this.retryMs * 2);
    this.retryTimer ??= setTimeout(() => void this.retry(), this.retryMs).unref();
  }

  document(job: Job, result: JobResult | undefined, sessionLink?: string): string {
    const req = job.request as ExecuteRequest;
    const form = req.responseForm as ResponseDocumentForm;
    const process = this.processOf(job);
    let outputs: ProducedOutput[] | undefined;
    let status: ExecuteStatus;
    switch (job.state) {
      case 'accepted':
        status = { state: 'accepted', message: job.message ?? 'Process accepted' };
        break;
      case 'running':
        // Without status=true the stored document changes only when the job ends.
        status = form.status
          ? { state: 'started', message: sessionLink ? `${job.message ?? 'Session ready'}: ${sessionLink}` : job.message ?? 'Process started', percent: job.percent }
          : { state: 'accepted', message: 'Process accepted' };
        break;
      case 'succeeded':
        status = { state: 'succeeded', message: job.message ?? 'Process finished' };
        outputs = this.outputsOf(process, form, result);
        break;
      case 'failed':
      case 'dismissed':
        status = {
          state: 'failed',
          error: new OwsException(
            (job.failureCode as ExceptionCode | null) ?? 'NoApplicableCode',
            job.failureReason ?? (job.state === 'dismissed' ? 'The job was dismissed' : 'The job failed'),
            job.failureLocator ?? undefined,
          ),
        };
        break;
    }
    return executeResponseXml({
      process,
      endpoint: this.o.endpoint,
      statusLocation: this.statusLocation(job.id),
      language: req.language ?? this.o.defaultLanguage,
      status,
      creationTime: job.updatedAt,
      lineage: form.lineage ? { inputs: req.inputs, outputs: effectiveAsks(process, form.outputs) } : undefined,
      outputs,
    });
  }

  private processOf(job: Job): ProcessDefinition {
    return (
      this.o.registry.get(job.processId) ?? {
        identifier: job.processId,
        title: job.processId,
        version: '1.0.0',
        inputs: [],
        outputs: [],
        storeSupported: true,
        statusSupported: true,
        handler: () => ({}),
      }
    );
  }

  private outputsOf(process: ProcessDefinition, form: ResponseDocumentForm, result: JobResult | undefined): ProducedOutput[] {
    if (!result || result.state !== 'succeeded') return [];
    const stored = new Map(result.outputs.map((o) => [o.identifier, o]));
    return selectOutputs(process, form.outputs).flatMap((selection) => {
      const o = stored.get(selection.output.identifier);
      return o ? [{ selection, ...fromStoredOutput(o) }] : [];
    });
  }
}
