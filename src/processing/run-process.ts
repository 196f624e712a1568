import { OwsException } from '../exceptions.js';
import type { Log } from '../log.js';
import type { ProducedOutput } from '../ows/execute-response.js';
import type { InputSubmission } from '../ows/request.js';
import { collectResults, type OutputSelection, type OutputValue } from '../process/outputs.js';
import { ProcessError, type Inputs, type ProcessDefinition } from '../process/types.js';
import { validateInputs } from '../process/validate-inputs.js';
import type { OutputStore } from '../storage/output-store.js';
import { resolveInputs, type ResolveOptions } from './resolve-inputs.js';
import { storeOutputs } from './store-outputs.js';
import type { Workdir } from './workdir.js';

/**
 * Running one process, written once: a synchronous Execute (operations/execute.ts) and
 * a job's runner (runner/run-job.ts) both call it. The outputs are selected by the
 * caller (a synchronous Execute refuses a bad selection before it takes a slot).
 */
export interface ProcessRun {
  process: ProcessDefinition;
  inputs: readonly InputSubmission[];
  selections: readonly OutputSelection[];
  resolve: ResolveOptions;
  outputs: OutputStore;
  /** Outputs by reference go under this id (a job's); a synchronous run's get one of their own. */
  jobId: string | undefined;
  /** Whom a synchronous run's outputs by reference belong to (when outputs are kept for their owners). */
  owner: string | undefined;
  /** A synchronous run's time limit, in milliseconds. */
  timeoutMs: number | undefined;
  /** Stops the run from outside (a job dismissed, or past its wall time). */
  signal: AbortSignal | undefined;
  /** Progress as the handler reports it (a synchronous run has nobody to tell). */
  progress: ((percent: number, message?: string) => void) | undefined;
  log: Log;
  /** Fields for the log line of a failure (the job's id, the runner's role). */
  logFields: Record<string, unknown> | undefined;
  /** The run's working directory: the handler's `workdir`, where values become files. */
  workdir: Workdir;
}

export type ProcessRunResult = { ok: true; produced: ProducedOutput[] } | { ok: false; error: OwsException };

/**
 * Inputs resolved (references fetched) and validated, the handler run, its results
 * checked against the selected outputs, those asked by reference stored. A request
 * that cannot run (bad inputs, a reference refused, storage full) throws the
 * exception to answer it with; the process's own failure is a result.
 */
export async function runProcess(run: ProcessRun): Promise<ProcessRunResult> {
  const entries = await resolveInputs(run.process, run.inputs, run.resolve);
  const inputs = validateInputs(run.process, entries, run.workdir.path);
  const called = await callHandler(run, inputs);
  if (!called.ok) return called;
  // Only a workdir that was made can hold the run's own files.
  const workdir = run.workdir.made ? run.workdir.dir : undefined;
  return { ok: true, produced: await storeOutputs(run.outputs, run.selections, called.values, run.jobId, workdir, run.owner) };
}

type Called = { ok: true; values: OutputValue[] } | { ok: false; error: OwsException };

/**
 * Calls the handler, bounded by the time limit and the outside signal. Whatever it
 * throws becomes a failed result (failureOf words it); the caller carries on.
 */
async function callHandler(run: ProcessRun, inputs: Inputs): Promise<Called> {
  const { process, timeoutMs } = run;
  // Made only for a handler that asks for its signal: most never do, and one costs.
  let controller: AbortController | undefined;
  let stopped: unknown;
  let timer: NodeJS.Timeout | undefined;
  const stop = (reason: unknown) => {
    stopped ??= reason;
    controller?.abort(stopped);
  };
  // Stopped from outside, the handler is told (its signal aborts) and given the time
  // to end cleanly: the scheduler's SIGKILL after its grace period is the backstop.
  const outside = run.signal;
  const stopFromOutside = () => stop(outside!.reason);
  if (outside?.aborted) stopFromOutside();
  else outside?.addEventListener('abort', stopFromOutside, { once: true });
  try {
    const running = process.handler({
      inputs,
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (stopped !== undefined) controller.abort(stopped);
        }
        return controller.signal;
      },
      progress: run.progress ?? (() => undefined),
      get workdir() {
        return run.workdir.path();
      },
    });
    // A handler that answered at once is done: no timer could have stopped it anyway.
    if (!isPromiseLike(running)) return { ok: true, values: collectResults(run.selections, running, run.workdir.path) };
    let results: Awaited<typeof running>;
    if (timeoutMs === undefined) {
      results = await running;
    } else {
      // A synchronous client waits for its answer: at the time limit it gets one, whatever the handler does.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new OwsException('NoApplicableCode', `Process ${process.identifier} did not finish within ${timeoutMs / 1000} s and was stopped`);
          stop(err);
          reject(err);
        }, timeoutMs);
      });
      results = await Promise.race([running, timeout]);
    }
    // Stopped from outside, a run that still returned is no success: it was cut short.
    if (stopped !== undefined) throw stopped;
    return { ok: true, values: collectResults(run.selections, results, run.workdir.path) };
  } catch (err) {
    return { ok: false, error: failureOf(stopped ?? err, process.identifier, run.log, run.logFields) };
  } finally {
    clearTimeout(timer);
    outside?.removeEventListener('abort', stopFromOutside);
  }
}

const isPromiseLike = <T>(v: T | PromiseLike<T>): v is PromiseLike<T> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/**
 * The exception a client sees for a failed run. A ProcessError's message is written by
 * the process's author for clients; any other error's message may name paths, hosts or
 * credentials of the server, so the client reads a generic text and the log the detail.
 */
export function failureOf(err: unknown, processId: string, log: Log, fields: Record<string, unknown> = {}): OwsException {
  if (err instanceof OwsException) return err;
  if (err instanceof ProcessError) return new OwsException('NoApplicableCode', err.message || `Process ${processId} failed without a message`);
  const e = err instanceof Error ? err : new Error(String(err));
  log({ level: 'error', msg: 'process failed', processId, ...fields, err: e.message, stack: e.stack });
  return new OwsException('NoApplicableCode', `Process ${processId} failed; the operator can find the cause in the server's log`);
}
