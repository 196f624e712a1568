import { join } from 'node:path';
import { OwsException, type ExceptionCode } from '../exceptions.js';
import { executeResponseXml, type ExecuteStatus, type ProducedOutput } from '../ows/execute-response.js';
import type { ExecuteRequest, ResponseDocumentForm } from '../ows/request.js';
import { effectiveAsks, selectOutputs } from '../process/outputs.js';
import type { ProcessRegistry } from '../process/registry.js';
import type { ProcessDefinition } from '../process/types.js';
import type { Job, JobStore } from '../jobs/store.js';
import { writeFileAtomic } from '../storage/atomic-write.js';
import { fromStoredOutput, type JobFiles, type JobResult } from '../storage/job-files.js';

export interface PublisherOptions {
  store: JobStore;
  registry: ProcessRegistry;
  files: JobFiles;
  /** Where status documents are written, and their public URL. */
  outputDir: string;
  outputUrl: string;
  /** The WPS endpoint, for serviceInstance. */
  endpoint: string;
  defaultLanguage: string;
}

/**
 * Status documents: the ExecuteResponse at a job's statusLocation, always written
 * whole (temporary file, then rename) from the job row, under a lock on the job, so a
 * poller never reads half a document nor an older state after a newer one.
 */
export class StatusPublisher {
  constructor(private readonly o: PublisherOptions) {}

  statusPath(id: string): string {
    return join(this.o.outputDir, `${id}.xml`);
  }

  statusLocation(id: string): string {
    return `${this.o.outputUrl}/${id}.xml`;
  }

  /** Writes the document for the job's current state and returns it. */
  async publish(id: string): Promise<string | undefined> {
    return this.o.store.withLockedJob(id, async (job) => {
      if (!job) return undefined;
      const result = job.state === 'succeeded' ? await this.o.files.readResult(id) : undefined;
      const xml = this.document(job, result);
      await writeFileAtomic(this.statusPath(id), xml);
      return xml;
    });
  }

  document(job: Job, result: JobResult | undefined): string {
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
          ? { state: 'started', message: job.message ?? 'Process started', percent: job.percent }
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
      serviceInstance: `${this.o.endpoint}?service=WPS&request=GetCapabilities`,
      statusLocation: this.statusLocation(job.id),
      language: req.language ?? this.o.defaultLanguage,
      status,
      creationTime: job.updatedAt,
      ...(form.lineage ? { lineage: { inputs: req.inputs, outputs: effectiveAsks(process, form.outputs) } } : {}),
      ...(outputs ? { outputs } : {}),
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
