import { isAnonymous, needsIdentity, type Caller } from '../auth/caller.js';
import { invalidParameter, OwsException } from '../exceptions.js';
import { clip } from '../process/formats.js';
import { executeResponseXml, type ExecuteResponseInput } from '../ows/execute-response.js';
import type { ExecuteRequest, OutputRequest } from '../ows/request.js';
import { effectiveAsks, selectOutputs, type OutputSelection, type OutputValue } from '../process/outputs.js';
import { outputBytes } from '../processing/store-outputs.js';
import type { ProcessDefinition } from '../process/types.js';
import { checkInputsBeforeFetching } from '../processing/resolve-inputs.js';
import { submitJob } from '../processing/submit-job.js';
import { runProcess, type ProcessRunResult } from '../processing/run-process.js';
import { syncWorkdir } from '../processing/workdir.js';
import { extensionFor } from '../storage/media-types.js';
import { languageOf, xmlResponse, type OperationContext, type WpsResponse } from './context.js';

export async function execute(req: ExecuteRequest, ctx: OperationContext, caller: Caller): Promise<WpsResponse> {
  if (isAnonymous(caller)) throw needsIdentity();
  // A process the caller may not use is answered like one that does not exist.
  const process = ctx.registry.getFor(req.identifier, caller);
  if (!process) throw invalidParameter('identifier', `No process with identifier "${clip(req.identifier)}"`);
  const form = req.responseForm;
  const asks: readonly OutputRequest[] = form.kind === 'raw' ? [form.output] : form.outputs;
  if (form.kind === 'document' && form.storeExecuteResponse) {
    if (!process.storeSupported) {
      throw new OwsException(
        'StorageNotSupported',
        `Process ${process.identifier} runs synchronously only; storeExecuteResponse must be false`,
        'storeExecuteResponse',
      );
    }
    if (form.status && !process.statusSupported) {
      throw invalidParameter('status', `Process ${process.identifier} does not report its status; status must be false`);
    }
    selectOutputs(process, asks);
    checkInputsBeforeFetching(process, req.inputs, ctx.config.limits);
    await ctx.jobs.queueLimits.check(process);
    return xmlResponse((await submitJob(ctx.jobs, req, process, caller)).document);
  }
  if (process.session) {
    throw invalidParameter('storeExecuteResponse', `Process ${process.identifier} is an interactive session, which runs only as a job: storeExecuteResponse must be true`);
  }
  const run = await runSynchronously(ctx, req, process, caller);
  // Most runs never made a working directory: no promise for them.
  if (!run.release) return answer(ctx, req, process, asks, run.selections, run.result);
  try {
    return answer(ctx, req, process, asks, run.selections, run.result);
  } finally {
    await run.release();
  }
}

/** A synchronous run's outcome, and what to give back once its answer is made. */
export interface SynchronousRun {
  selections: readonly OutputSelection[];
  result: ProcessRunResult;
  /** Removes the run's working directory, once the answer is made (its files may back it); absent when it made none. */
  release?: () => Promise<void>;
}

/**
 * Runs a process inline: a synchronous slot (ServerBusy beyond), a lease on the request
 * memory for fetched references, the time limit. Shared by WPS and OGC API execution.
 */
export async function runSynchronously(ctx: OperationContext, req: ExecuteRequest, process: ProcessDefinition, caller: Caller): Promise<SynchronousRun> {
  const form = req.responseForm;
  const asks: readonly OutputRequest[] = form.kind === 'raw' ? [form.output] : form.outputs;
  const selections = selectOutputs(process, asks);
  if (!ctx.syncSlots.tryTake()) {
    throw new OwsException(
      'ServerBusy',
      `The server is running ${ctx.syncSlots.size} synchronous processes already; try again shortly`,
    );
  }
  let result: ProcessRunResult;
  const limits = ctx.config.limits;
  // Made only if the handler or a value asks for a file; removed once the answer is made.
  const workdir = syncWorkdir(ctx.config.jobsDir);
  // References fetched for this run count against the server's memory for requests until it ends.
  const lease = ctx.requestMemory.lease();
  try {
    result = await runProcess({
      process,
      inputs: req.inputs,
      selections,
      resolve: {
        policy: ctx.config.references,
        timeoutMs: limits.referenceTimeoutMs,
        maxInputSize: limits.maxInputSize,
        maxReferences: limits.maxReferences,
        maxFetchedBytes: limits.maxFetchedBytes,
        lease,
      },
      outputs: ctx.outputs,
      jobId: undefined,
      owner: ctx.config.auth?.protectOutputs ? caller.user : undefined,
      timeoutMs: limits.syncTimeoutMs,
      signal: undefined,
      progress: undefined,
      log: ctx.log,
      logFields: undefined,
      workdir,
    });
  } catch (err) {
    await workdir.remove();
    throw err;
  } finally {
    lease.release();
    ctx.syncSlots.give();
  }
  return workdir.made ? { selections, result, release: () => workdir.remove() } : { selections, result };
}

/** The response to a synchronous run: its raw output, or the ExecuteResponse. */
function answer(
  ctx: OperationContext,
  req: ExecuteRequest,
  process: ProcessDefinition,
  asks: readonly OutputRequest[],
  selections: readonly OutputSelection[],
  result: ProcessRunResult,
): WpsResponse {
  const form = req.responseForm;

  if (form.kind === 'raw') {
    // A raw output has no document to carry ProcessFailed: the failure is the answer.
    if (!result.ok) throw result.error;
    return rawOutput(selections[0]!, result.produced[0]!.value);
  }
  // One object literal of one shape (spreads of optional parts made V8 migrate the
  // object's map on every request).
  const document: ExecuteResponseInput = {
    process,
    endpoint: ctx.endpoint,
    language: languageOf(ctx, req.language),
    lineage: form.lineage ? { inputs: req.inputs, outputs: effectiveAsks(process, asks) } : undefined,
    status: result.ok ? { state: 'succeeded', message: `Process ${process.identifier} finished` } : { state: 'failed', error: result.error },
    outputs: result.ok ? result.produced : undefined,
  };
  return xmlResponse(executeResponseXml(document));
}

function rawOutput(selection: OutputSelection, value: OutputValue): WpsResponse {
  const { data, mimeType } = outputBytes(selection, value);
  const textual = value.type !== 'complex' && !/charset=/i.test(mimeType);
  return {
    status: 200,
    contentType: textual ? `${mimeType}; charset=utf-8` : mimeType,
    body: data,
    headers: {
      'content-disposition': `inline; filename="${selection.output.identifier}.${extensionFor(mimeType)}"`,
    },
  };
}
