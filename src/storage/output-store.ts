import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { moveFileInto, writeFileAtomic } from './atomic-write.js';
import { extensionFor } from './media-types.js';
import { storageFailure } from './storage-failure.js';

// One or two path segments of safe characters, none starting with a dot: no traversal,
// no hidden temporary files, nothing a client can steer outside the storage directory.
const SAFE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(\/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

const OWNER_MARK = '.owner';

/** A job's status document: `<job id>.xml` at the top of the storage directory, beside the job's output folder. */
export const statusDocumentName = (jobId: string): string => `${jobId}.xml`;
/** A status document's file name, capturing the job id. */
export const STATUS_DOCUMENT_NAME = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.xml$/;

/** Files on (shared) storage that clients fetch over HTTP: stored outputs and status documents. */
export class OutputStore {
  constructor(
    readonly dir: string,
    /** Public URL under which `dir` is served. */
    readonly baseUrl: string,
  ) {}

  /** Stores one output of a job; returns the URL a client fetches it from. */
  async writeOutput(jobId: string, outputId: string, data: Buffer, mimeType: string): Promise<string> {
    const rel = `${jobId}/${outputId}.${extensionFor(mimeType)}`;
    await writeFileAtomic(this.pathOf(rel)!, data, { createDirectory: true }).catch((err: unknown) => {
      throw storageFailure(err, `output ${outputId}`, outputId);
    });
    return this.urlOf(rel);
  }

  /**
   * Stores a file a run produced: moved (`move`: the run's own file), else copied;
   * returns the URL a client fetches it from.
   */
  async storeFile(jobId: string, outputId: string, file: string, mimeType: string, move: boolean): Promise<string> {
    const rel = `${jobId}/${outputId}.${extensionFor(mimeType)}`;
    await moveFileInto(file, this.pathOf(rel)!, { keepOriginal: !move }).catch((err: unknown) => {
      throw storageFailure(err, `output ${outputId}`, outputId);
    });
    return this.urlOf(rel);
  }

  /**
   * Records who a synchronous run's outputs belong to (a job's owner is its row's), in
   * its folder: a dot file, which is never served. Outputs then follow the owner when
   * auth.protectOutputs is on.
   */
  async markOwner(id: string, owner: string): Promise<void> {
    await writeFileAtomic(join(this.pathOf(id)!, OWNER_MARK), Buffer.from(owner), { createDirectory: true }).catch((err: unknown) => {
      throw storageFailure(err, 'the outputs');
    });
  }

  /** The owner a synchronous run's folder records, if any. */
  async markedOwner(id: string): Promise<string | undefined> {
    const dir = this.pathOf(id);
    return dir ? readFile(join(dir, OWNER_MARK), 'utf8').catch(() => undefined) : undefined;
  }

  /** Removes every output stored for a job (a dismissed one keeps none). */
  async removeOutputs(jobId: string): Promise<void> {
    const dir = this.pathOf(jobId);
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  urlOf(rel: string): string {
    return `${this.baseUrl}/${rel}`;
  }

  /** The file behind a relative URL path, or undefined when the path is not one we hand out. */
  pathOf(rel: string): string | undefined {
    return SAFE_PATH.test(rel) ? join(this.dir, rel) : undefined;
  }
}
