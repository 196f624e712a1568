import { Worker } from 'node:worker_threads';
import { temporaryPathFor } from './atomic-write.js';

/** Writes handed to a thread at once while more are still arriving in the same turn of the loop. */
const BATCH_SLICE = 16;

/**
 * Writes status documents on threads of its own. Under a burst of submissions each
 * document written through libuv's pool costs the event loop four round trips (open,
 * write, close, rename), each waking a pool thread that preempts the loop on a small
 * machine: measured, a third of the server's time at 100 concurrent submitters. Here
 * the writes that arrive during one turn of the loop go to a thread as one message (in
 * slices, so that the threads share a burst) and are done there with plain synchronous
 * calls; one message comes back.
 *
 * Two kinds of write, both leaving no temporary file behind when they fail:
 * - `replace`: readers see the old content or the new one, never a mix (temporary
 *   file beside the target, then rename);
 * - `create`: the first version of a file nobody can know of yet (a new job's status
 *   document, written before its id is answered): written in place, refused if the file
 *   exists, one directory operation instead of two.
 * A missing directory is created (found out by the write, not checked first), as
 * `writeFileAtomic` does it: the file's own directory, never its parents, so that a
 * storage tree removed on purpose is not brought back by a document written late.
 */
export class FileWriter {
  private readonly threads: Thread[];
  private batch: Write[] = [];
  private nextId = 1;
  private closed = false;

  constructor(threads = 2) {
    this.threads = Array.from({ length: Math.max(1, threads) }, () => new Thread());
  }

  replace(path: string, data: string | Buffer): Promise<void> {
    return this.enqueue(path, data, false);
  }

  create(path: string, data: string | Buffer): Promise<void> {
    return this.enqueue(path, data, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    await Promise.all(this.threads.map((t) => t.close()));
  }

  private enqueue(path: string, data: string | Buffer, exclusive: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the file writer is closed'));
    return new Promise<void>((resolve, reject) => {
      if (this.batch.length === 0) setImmediate(() => this.flush());
      this.batch.push({ id: this.nextId++, path, data, exclusive, resolve, reject });
      // A burst handled in one turn of the loop would otherwise become one batch on one
      // thread, started only once the last request was parsed; in slices the threads
      // start on the first while the loop parses the rest, and share the work.
      if (this.batch.length >= BATCH_SLICE) this.flush();
    });
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    // The least busy thread: a slow file system (NFS) stalls one batch, not all of them.
    const thread = this.threads.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
    thread.send(batch);
  }
}

interface Write {
  id: number;
  path: string;
  data: string | Buffer;
  exclusive: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Outcome {
  id: number;
  code?: string;
  message?: string;
}

class Thread {
  private worker!: Worker;
  private readonly waiting = new Map<number, Write>();
  private closing = false;

  constructor() {
    this.start();
  }

  get outstanding(): number {
    return this.waiting.size;
  }

  send(batch: Write[]): void {
    for (const w of batch) this.waiting.set(w.id, w);
    // Waiting writes keep the process alive, as pending fs calls would.
    this.worker.ref();
    this.worker.postMessage(batch.map((w) => ({ id: w.id, path: w.path, data: w.data, tmp: w.exclusive ? undefined : temporaryPathFor(w.path) })));
  }

  async close(): Promise<void> {
    while (this.waiting.size > 0) await new Promise((r) => setTimeout(r, 5));
    this.closing = true;
    await this.worker.terminate();
  }

  private start(): void {
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    worker.on('message', (outcomes: Outcome[]) => {
      for (const o of outcomes) {
        const w = this.waiting.get(o.id);
        if (!w) continue;
        this.waiting.delete(o.id);
        if (o.code === undefined && o.message === undefined) w.resolve();
        else w.reject(Object.assign(new Error(o.message ?? 'write failed'), { code: o.code }));
      }
      if (this.waiting.size === 0) worker.unref();
    });
    worker.on('error', (err) => this.failAll(err));
    // A thread that dies fails the writes it held, and a new one takes the next ones.
    worker.on('exit', () => {
      this.failAll(new Error('the file writer thread ended'));
      if (!this.closing) this.start();
    });
    worker.unref();
    this.worker = worker;
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

// The thread's code, evaluated (CommonJS) so that it runs the same from the compiled
// output and from the TypeScript sources under the test runner.
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');

function writeWhole(file, data, flag) {
  try {
    fs.writeFileSync(file, data, { flag });
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    try {
      fs.mkdirSync(path.dirname(file));
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    fs.writeFileSync(file, data, { flag });
  }
}

function write(w) {
  if (w.tmp === undefined) {
    try {
      writeWhole(w.path, w.data, 'wx');
    } catch (err) {
      if (err.code !== 'EEXIST') fs.rmSync(w.path, { force: true });
      throw err;
    }
    return;
  }
  try {
    writeWhole(w.tmp, w.data, 'w');
    fs.renameSync(w.tmp, w.path);
  } catch (err) {
    fs.rmSync(w.tmp, { force: true });
    throw err;
  }
}

parentPort.on('message', (batch) => {
  parentPort.postMessage(batch.map((w) => {
    try {
      write(w);
      return { id: w.id };
    } catch (err) {
      return { id: w.id, code: err.code, message: err.message };
    }
  }));
});
`;
