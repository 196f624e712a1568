import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';

/**
 * A run's working directory, made when first asked for: most runs never ask, and a
 * synchronous hello should not cost a directory. `parent` says whether its parent may
 * be made too (a synchronous run's `sync/` under the jobs directory; never a job's own
 * directory, which only the dispatcher makes).
 */
export class Workdir {
  #dir: string | undefined;
  #made = false;

  /** `where` names the directory when it is first needed (a synchronous run's name costs a UUID). */
  constructor(
    private readonly where: () => string,
    private readonly makeParent: boolean,
  ) {}

  get dir(): string {
    return (this.#dir ??= this.where());
  }

  path = (): string => {
    if (!this.#made) {
      if (this.makeParent) mkdirSync(dirname(this.dir), { recursive: true });
      try {
        mkdirSync(this.dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      this.#made = true;
    }
    return this.dir;
  };

  get made(): boolean {
    return this.#made;
  }

  /** Removes it, if it was made. */
  async remove(): Promise<void> {
    if (this.#made) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Where synchronous runs' working directories go, under the jobs directory. */
export const syncWorkdirs = (jobsDir: string): string => join(jobsDir, 'sync');

/** A synchronous run's working directory: its own, removed when the run has answered. */
export const syncWorkdir = (jobsDir: string): Workdir => new Workdir(() => join(syncWorkdirs(jobsDir), randomUUID()), true);
