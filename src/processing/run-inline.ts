import { OwsException } from '../exceptions.js';
import { collectResults, type OutputSelection, type OutputValue } from '../process/outputs.js';
import { ProcessError, type Inputs, type ProcessDefinition } from '../process/types.js';
import type { Log } from '../log.js';

export type RunResult = { ok: true; values: OutputValue[] } | { ok: false; error: OwsException };

/**
 * Runs a process handler in this process, bounded by a time limit. Whatever the
 * handler throws becomes a failed result (failureOf words it); the server carries on.
 */
export async function runInline(
  process: ProcessDefinition,
  inputs: Inputs,
  selections: readonly OutputSelection[],
  timeoutMs: number,
  log: Log,
): Promise<RunResult> {
  // Made only for a handler that asks for its signal: most never do, and one costs.
  let controller: AbortController | undefined;
  let stopped: OwsException | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const running = process.handler({
      inputs,
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (stopped) controller.abort(stopped);
        }
        return controller.signal;
      },
      progress: () => undefined,
    });
    // A handler that answered at once is done: no timer could have stopped it anyway.
    if (!isPromiseLike(running)) return { ok: true, values: collectResults(selections, running) };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new OwsException(
          'NoApplicableCode',
          `Process ${process.identifier} did not finish within ${timeoutMs / 1000} s and was stopped`,
        );
        stopped = err;
        controller?.abort(err);
        reject(err);
      }, timeoutMs);
    });
    return { ok: true, values: collectResults(selections, await Promise.race([running, timeout])) };
  } catch (err) {
    return { ok: false, error: failureOf(err, process.identifier, log) };
  } finally {
    clearTimeout(timer);
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
