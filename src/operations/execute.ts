import { randomUUID } from 'node:crypto';
import { invalidParameter, OwsException } from '../exceptions.js';
import { boundingBoxXml, executeResponseXml, type ProducedOutput } from '../ows/execute-response.js';
import type { ExecuteRequest, OutputRequest } from '../ows/request.js';
import { formatLiteral } from '../process/literal-types.js';
import { selectOutputs, type OutputSelection, type OutputValue } from '../process/outputs.js';
import type { ProcessDefinition } from '../process/types.js';
import { validateInputs } from '../process/validate-inputs.js';
import { resolveInputs } from '../processing/resolve-inputs.js';
import { runInline, type RunResult } from '../processing/run-inline.js';
import { extensionFor } from '../storage/media-types.js';
import { languageOf, xmlResponse, type OperationContext, type WpsResponse } from './context.js';

export function findProcess(ctx: OperationContext, identifier: string): ProcessDefinition {
  const process = ctx.registry.get(identifier);
  if (!process) throw invalidParameter('identifier', `No process with identifier "${identifier}"`);
  return process;
}

export async function execute(req: ExecuteRequest, ctx: OperationContext): Promise<WpsResponse> {
  const process = findProcess(ctx, req.identifier);
  const form = req.responseForm;
  if (form.kind === 'document' && form.storeExecuteResponse) {
    throw new OwsException(
      'StorageNotSupported',
      process.storeSupported
        ? 'Storing execute responses is not available on this server yet'
        : `Process ${process.identifier} runs synchronously only; storeExecuteResponse must be false`,
      'storeExecuteResponse',
    );
  }
  const asks: readonly OutputRequest[] = form.kind === 'raw' ? [form.output] : form.outputs;
  const selections = selectOutputs(process, asks);
  if (!ctx.syncSlots.tryTake()) {
    throw new OwsException(
      'ServerBusy',
      `The server is running ${ctx.syncSlots.size} synchronous processes already; try again shortly`,
    );
  }
  let result: RunResult;
  try {
    const entries = await resolveInputs(process, req.inputs, {
      policy: ctx.config.references,
      timeoutMs: ctx.config.limits.referenceTimeoutMs,
      maxInputSize: ctx.config.limits.maxInputSize,
    });
    const inputs = validateInputs(process, entries);
    result = await runInline(process, inputs, selections, ctx.config.limits.syncTimeoutMs);
  } finally {
    ctx.syncSlots.give();
  }

  if (form.kind === 'raw') {
    // A raw output has no document to carry ProcessFailed: the failure is the answer.
    if (!result.ok) throw result.error;
    return rawOutput(selections[0]!, result.values[0]!);
  }
  const language = languageOf(ctx, req.language);
  const base = {
    process,
    serviceInstance: `${ctx.endpoint}?service=WPS&request=GetCapabilities`,
    language,
    ...(form.lineage ? { lineage: { inputs: req.inputs, outputs: asks.length > 0 ? asks : selections.map(asRequested) } } : {}),
  };
  if (!result.ok) return xmlResponse(executeResponseXml({ ...base, status: { state: 'failed', error: result.error } }));
  const outputs = await storeReferences(ctx, selections, result.values);
  return xmlResponse(
    executeResponseXml({
      ...base,
      status: { state: 'succeeded', message: `Process ${process.identifier} finished` },
      outputs,
    }),
  );
}

/** An output the client left to the defaults, written as if it had asked for it. */
function asRequested(sel: OutputSelection): OutputRequest {
  const req: OutputRequest = { identifier: sel.output.identifier, asReference: sel.asReference };
  if (sel.format) req.mimeType = sel.format.mimeType;
  if (sel.uom) req.uom = sel.uom;
  return req;
}

/** Writes the outputs asked for by reference to storage; the rest stay inline. */
export async function storeReferences(
  ctx: OperationContext,
  selections: readonly OutputSelection[],
  values: readonly OutputValue[],
  jobId?: string,
): Promise<ProducedOutput[]> {
  let id = jobId;
  return Promise.all(
    selections.map(async (selection, i): Promise<ProducedOutput> => {
      const value = values[i]!;
      if (!selection.asReference) return { selection, value };
      id ??= randomUUID();
      const { data, mimeType } = rawBytes(selection, value);
      const href = await ctx.outputs.writeOutput(id, selection.output.identifier, data, mimeType);
      return { selection, value, href };
    }),
  );
}

function rawBytes(selection: OutputSelection, value: OutputValue): { data: Buffer; mimeType: string } {
  switch (value.type) {
    case 'literal': {
      const dataType = selection.output.type === 'literal' ? selection.output.dataType : 'string';
      return { data: Buffer.from(formatLiteral(dataType, value.value), 'utf8'), mimeType: 'text/plain' };
    }
    case 'complex': {
      const base64 = value.encoding?.toLowerCase() === 'base64' && selection.encoding === 'base64';
      return { data: base64 ? Buffer.from(value.data.toString('base64')) : value.data, mimeType: value.mimeType };
    }
    case 'bbox':
      return { data: Buffer.from(boundingBoxXml(value), 'utf8'), mimeType: 'text/xml' };
  }
}

function rawOutput(selection: OutputSelection, value: OutputValue): WpsResponse {
  const { data, mimeType } = rawBytes(selection, value);
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
