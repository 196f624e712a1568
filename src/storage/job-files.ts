import { appendFileSync, closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ComplexData } from '../process/complex-data.js';
import type { OutputValue } from '../process/outputs.js';
import type { JobResult, JobSpec, RunnerInfo, StoredOutput } from '../runner-contract.js';
import { writeFileAtomic } from './atomic-write.js';
import { openRegularFile } from './open-regular-file.js';
import { storageFailure } from './storage-failure.js';

/**
 * The files a job keeps in its directory on shared storage (never served over HTTP):
 * the spec the runner reads, the result it leaves, its logs, and who runs it.
 * The server and the runner on a compute node meet here; what the files hold is the
 * contract of runner-contract.ts.
 */

export class JobFiles {
  constructor(readonly jobsDir: string) {}

  dir(id: string): string {
    return join(this.jobsDir, id);
  }

  specPath = (id: string) => join(this.dir(id), 'job.json');
  resultPath = (id: string) => join(this.dir(id), 'result.json');
  runnerPath = (id: string) => join(this.dir(id), 'runner.json');
  attemptsPath = (id: string) => join(this.dir(id), 'attempts');
  stdoutPath = (id: string) => join(this.dir(id), 'stdout.log');
  stderrPath = (id: string) => join(this.dir(id), 'stderr.log');

  /** Makes the job's directory (its parent, the jobs directory, must exist) and writes the spec. */
  async writeSpec(spec: JobSpec): Promise<void> {
    try {
      // Not recursive: a recursive mkdir on a read-only file system says ENOENT, not EROFS.
      await mkdir(this.dir(spec.jobId), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await writeFileAtomic(this.specPath(spec.jobId), JSON.stringify(spec));
    } catch (err) {
      throw storageFailure(err, "the job's files");
    }
  }

  async readSpec(id: string): Promise<JobSpec> {
    return JSON.parse(await readFile(this.specPath(id), 'utf8')) as JobSpec;
  }

  async writeResult(id: string, result: JobResult): Promise<void> {
    await writeFileAtomic(this.resultPath(id), JSON.stringify(result)).catch(directoryGone);
  }

  /** The result the runner left, or undefined when there is none (yet). */
  /** The runner's result; none while there is no regular file (a link is none: the directory may be its user's). */
  async readResult(id: string): Promise<JobResult | undefined> {
    const handle = await openRegularFile(this.jobsDir, this.resultPath(id));
    if (!handle) return undefined;
    try {
      return JSON.parse(await handle.readFile('utf8')) as JobResult;
    } finally {
      await handle.close();
    }
  }

  async writeRunner(id: string, info: RunnerInfo): Promise<void> {
    await writeFileAtomic(this.runnerPath(id), JSON.stringify(info)).catch(directoryGone);
  }

  async readRunner(id: string): Promise<RunnerInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.runnerPath(id), 'utf8')) as RunnerInfo;
    } catch {
      return undefined;
    }
  }

  /**
   * One line per time a runner started the job: the evidence that none runs twice.
   * Synchronous, so a runner has written it before it does anything else.
   */
  recordAttempt(id: string, line: string): void {
    appendFileSync(this.attemptsPath(id), `${line}\n`);
  }

  async hasAttempts(id: string): Promise<boolean> {
    try {
      return (await readFile(this.attemptsPath(id), 'utf8')).length > 0;
    } catch {
      return false;
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}

/** A complex output stored by reference keeps no bytes here: its file is in storage, and may be gigabytes. */
export function toStoredOutput(identifier: string, value: OutputValue, href?: string): StoredOutput {
  const base = href === undefined ? { identifier } : { identifier, href };
  if (value.type !== 'complex') return { ...base, value };
  const format = { type: 'complex' as const, mimeType: value.mimeType, ...(value.encoding ? { encoding: value.encoding } : {}), ...(value.schema ? { schema: value.schema } : {}) };
  return { ...base, value: href === undefined ? { ...format, data: value.data.toString('base64') } : format };
}

export function fromStoredOutput(stored: StoredOutput): { value: OutputValue; href?: string } {
  const v = stored.value;
  const value: OutputValue = v.type === 'complex' ? new ComplexData({ bytes: Buffer.from(v.data ?? '', 'base64') }, v) : v;
  return stored.href === undefined ? { value } : { value, href: stored.href };
}

/**
 * Opens a job's stdout and stderr files for appending, in the directory the dispatcher
 * made; never makes it. A job removed meanwhile has none: `JobDirectoryGone`.
 */
export function openJobLogs(stdoutPath: string, stderrPath: string): { out: number; err: number } {
  let out: number | undefined;
  try {
    out = openSync(stdoutPath, 'a');
    return { out, err: openSync(stderrPath, 'a') };
  } catch (err) {
    if (out !== undefined) closeSync(out);
    return directoryGone(err as NodeJS.ErrnoException);
  }
}

export class JobDirectoryGone extends Error {
  constructor() {
    super("the job's directory is gone (the job was removed)");
  }
}

const directoryGone = (err: NodeJS.ErrnoException): never => {
  throw err.code === 'ENOENT' ? new JobDirectoryGone() : err;
};
