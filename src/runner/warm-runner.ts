import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ProcessRegistry } from '../process/registry.js';
import type { RunnerCommand, RunnerMessage } from '../scheduler/local/local-scheduler.js';
import type { RunnerEvent } from '../processing/runner-events.js';
import { runJobDirectory } from './run-job.js';

/**
 * A warm runner: a process the local scheduler keeps ready, which runs one job at a
 * time when told to over IPC. While a job runs, what the process writes to stdout and
 * stderr goes to the job's own log files. When the server goes away (the IPC channel
 * closes) it finishes the job in hand and exits; the restarted server finds the
 * result on storage.
 */
export function startWarmRunner(registry: ProcessRegistry): void {
  let busy = false;
  // The server's terminal or pipe may be gone while we still write: never die of it.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  // The server may be gone between the check and the write: a failed send is not fatal.
  const send = (msg: RunnerMessage) => {
    if (process.connected) process.send!(msg, undefined, {}, () => undefined);
  };
  process.on('disconnect', () => {
    if (!busy) process.exit(0);
  });
  process.on('message', (cmd: RunnerCommand) => {
    if (cmd.type !== 'run' || busy) return;
    let restore: () => Promise<void>;
    try {
      restore = captureOutput(cmd.stdout, cmd.stderr);
    } catch (err) {
      // The job's directory is gone (the job was removed meanwhile): nothing to run, and
      // nothing to write there. The scheduler hears the runner is done without a result.
      process.stderr.write(`runner: job ${cmd.jobId}: ${(err as Error).message}\n`);
      send({ type: 'done', jobId: cmd.jobId });
      return;
    }
    busy = true;
    // Reports go back over the IPC channel: no HTTP round trip for a runner on this machine.
    const channel = async (event: RunnerEvent) => {
      if (!process.connected) return false;
      send({ type: 'report', jobId: cmd.jobId, event });
      return true;
    };
    runJobDirectory(dirname(cmd.stdout), registry, channel)
      .catch((err: Error) => process.stderr.write(`runner: job ${cmd.jobId}: ${err.stack ?? err.message}\n`))
      .finally(async () => {
        await restore();
        busy = false;
        send({ type: 'done', jobId: cmd.jobId });
        if (!process.connected) process.exit(0);
      });
  });
  send({ type: 'ready' });
}

type Write = typeof process.stdout.write;

/**
 * While a job runs, what the process writes to stdout and stderr goes to the job's files
 * (plain synchronous writes) in its directory, which the dispatcher made.
 */
function captureOutput(stdoutPath: string, stderrPath: string): () => Promise<void> {
  const out = openSync(stdoutPath, 'a');
  const err = openSync(stderrPath, 'a');
  const original = { out: process.stdout.write, err: process.stderr.write };
  const redirect = (fd: number): Write =>
    ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown) => {
      writeSync(fd, typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : chunk);
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') (done as () => void)();
      return true;
    }) as Write;
  process.stdout.write = redirect(out);
  process.stderr.write = redirect(err);
  return async () => {
    process.stdout.write = original.out;
    process.stderr.write = original.err;
    closeSync(out);
    closeSync(err);
  };
}
