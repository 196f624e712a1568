import type { Config } from '../config.js';
import type { Log } from '../log.js';
import type { ProcessRegistry } from '../process/registry.js';
import type { ByteBudget } from '../processing/byte-budget.js';
import type { Slots } from '../processing/slots.js';
import type { JobsContext } from '../processing/submit-job.js';
import type { OutputStore } from '../storage/output-store.js';

/** What every operation handler may use. */
export interface OperationContext {
  config: Config;
  registry: ProcessRegistry;
  outputs: OutputStore;
  /** The WPS endpoint URL as clients reach it. */
  endpoint: string;
  /** GetCapabilities' updateSequence: grows whenever the offered documents change. */
  updateSequence: string;
  /** Synchronous Executes in progress, bounded by limits.maxSyncExecutions. */
  syncSlots: Slots;
  /** Bytes held for requests in progress (bodies, references of synchronous runs), bounded by limits.requestMemory. */
  requestMemory: ByteBudget;
  /** Where asynchronous Executes go. */
  jobs: JobsContext;
  log: Log;
}

export interface WpsResponse {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export const XML_CONTENT_TYPE = 'text/xml; charset=utf-8';

export const xmlResponse = (body: string | Buffer, status = 200): WpsResponse => ({ status, contentType: XML_CONTENT_TYPE, body });

export const languageOf = (ctx: OperationContext, requested: string | undefined): string =>
  requested ?? ctx.config.languages[0]!;
