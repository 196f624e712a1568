import type { JobStore } from '../jobs/store.js';
import type { Log } from '../log.js';
import { writeFileAtomic } from '../storage/atomic-write.js';

/**
 * The ParaViewWeb launcher's proxy mapping file: a line `id host:port` for every ready
 * session, for a front end (Apache's RewriteMap, nginx with a map) that proxies sessions
 * itself, as in the launcher's own examples. Always written whole from the store (any
 * server may have changed the set) and atomically: the front end never reads half a file.
 * Changes that come while a write is under way make one more write, not one each.
 */
export class ProxyMappingFile {
  private writing: Promise<void> | undefined;
  private again = false;
  /** The sessions the file names now: the end of any other changes nothing in it. */
  private named = new Set<string>();

  constructor(
    private readonly path: string,
    private readonly store: JobStore,
    private readonly log: Log,
  ) {}

  /** Whether the file names this session (its end must rewrite it). */
  names(id: string): boolean {
    return this.named.has(id);
  }

  /** Brings the file up to date with the store; resolves once it is. */
  update(): Promise<void> {
    if (this.writing) {
      this.again = true;
      return this.writing;
    }
    this.writing = (async () => {
      do {
        this.again = false;
        try {
          const sessions = await this.store.readySessions();
          await writeFileAtomic(this.path, sessions.map((s) => `${s.id} ${s.host}:${s.port}\n`).join(''), { createDirectory: true });
          this.named = new Set(sessions.map((s) => s.id));
        } catch (err) {
          this.log({ level: 'error', msg: 'proxy mapping file not written', path: this.path, error: (err as Error).message });
        }
      } while (this.again);
      this.writing = undefined;
    })();
    return this.writing;
  }
}
