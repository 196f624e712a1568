import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { ProcessRegistry } from '../process/registry.js';
import type { RunnerCommand, RunnerMessage } from '../scheduler/local/local-scheduler.js';
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
    busy = true;
    const restore = captureOutput(cmd.stdout, cmd.stderr);
    runJobDirectory(dirname(cmd.stdout), registry)
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

function captureOutput(stdoutPath: string, stderrPath: string): () => Promise<void> {
  mkdirSync(dirname(stdoutPath), { recursive: true });
  const out = createWriteStream(stdoutPath, { flags: 'a' });
  const err = createWriteStream(stderrPath, { flags: 'a' });
  const original = { out: process.stdout.write, err: process.stderr.write };
  const redirect = (stream: WriteStream): Write =>
    ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown) =>
      stream.write(chunk, encoding as BufferEncoding, cb as () => void)) as Write;
  process.stdout.write = redirect(out);
  process.stderr.write = redirect(err);
  return async () => {
    process.stdout.write = original.out;
    process.stderr.write = original.err;
    await Promise.all([new Promise((r) => out.end(r)), new Promise((r) => err.end(r))]);
  };
}
