import { closeSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ProcessFinder } from '../packages/load-processes.js';
import type { RunnerCommand, RunnerEvent, RunnerMessage } from '../runner-contract.js';
import { JobDirectoryGone, openJobLogs } from '../storage/job-files.js';
import { runJobDirectory, stopSignal } from './run-job.js';

/**
 * A warm runner: a process the local scheduler keeps ready, which runs one job at a
 * time when told to over IPC. While a job runs, what the process writes to stdout and
 * stderr goes to the job's own log files. When the server goes away (the IPC channel
 * closes) it finishes the job in hand and exits; the restarted server finds the
 * result on storage.
 */
export function startWarmRunner(findProcess: ProcessFinder): void {
  let busy = false;
  // The server's terminal or pipe may be gone while we still write: never die of it.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  // The server may be gone between the check and the write: a failed send is not fatal.
  const send = (msg: RunnerMessage, then: () => void = () => undefined) => {
    if (process.connected) process.send!(msg, undefined, {}, () => then());
    else then();
  };
  process.on('disconnect', () => {
    if (!busy) process.exit(0);
  });
  // SIGTERM stops the job in hand (its handler's signal aborts); this runner then exits
  // and the scheduler starts another. Idle, it exits at once.
  const stop = stopSignal();
  stop.addEventListener('abort', () => {
    if (!busy) process.exit(0);
  });
  process.on('message', (cmd: RunnerCommand) => {
    if (cmd.type !== 'run' || busy) return;
    let restore: () => Promise<void>;
    try {
      restore = captureOutput(cmd.stdout, cmd.stderr);
    } catch (err) {
      // Nothing to run and nowhere to write: the scheduler hears why. Anything else (no
      // file descriptors left, say) ends this runner, and the scheduler starts another.
      if (!(err instanceof JobDirectoryGone)) throw err;
      send({ type: 'done', jobId: cmd.jobId, reason: err.message });
      return;
    }
    busy = true;
    // Reports go back over the IPC channel: no HTTP round trip for a runner on this machine.
    const channel = async (event: RunnerEvent) => {
      if (!process.connected) return false;
      send({ type: 'report', jobId: cmd.jobId, event });
      return true;
    };
    let reason: string | undefined;
    runJobDirectory(dirname(cmd.stdout), findProcess, channel, stop)
      .catch((err: Error) => {
        if (err instanceof JobDirectoryGone) reason = err.message;
        process.stderr.write(`runner: job ${cmd.jobId}: ${err.stack ?? err.message}\n`);
      })
      .finally(async () => {
        await restore();
        busy = false;
        // Told to stop, or orphaned: gone once the scheduler has heard of the job's end.
        const exit = !process.connected || stop.aborted;
        send({ type: 'done', jobId: cmd.jobId, reason, ...(exit ? { leaving: true as const } : {}) }, exit ? () => process.exit(0) : undefined);
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
  const { out, err } = openJobLogs(stdoutPath, stderrPath);
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
