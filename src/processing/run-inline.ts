import { OwsException } from '../exceptions.js';
import { collectResults, type OutputSelection, type OutputValue } from '../process/outputs.js';
import type { Inputs, ProcessDefinition } from '../process/types.js';

export type RunResult = { ok: true; values: OutputValue[] } | { ok: false; error: OwsException };

/**
 * Runs a process handler in this process, bounded by a time limit. Whatever the
 * handler throws becomes a failed result carrying its message; the server carries on.
 */
export async function runInline(
  process: ProcessDefinition,
  inputs: Inputs,
  selections: readonly OutputSelection[],
  timeoutMs: number,
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
    return { ok: false, error: failureOf(err) };
  } finally {
    clearTimeout(timer);
  }
}

const isPromiseLike = <T>(v: T | PromiseLike<T>): v is PromiseLike<T> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/** The exception a client sees for a failed run: the process's own message, never a stack. */
export function failureOf(err: unknown): OwsException {
  if (err instanceof OwsException) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OwsException('NoApplicableCode', message || 'The process failed without a message');
}
