import type { Caller } from '../auth/caller.js';
import { mayUse } from '../auth/process-access.js';
import type { ProcessAccess } from '../config.js';
import type { ProcessDefinition } from './types.js';

/**
 * The processes this server offers, by identifier, in the order they were declared, and
 * who may see and execute each (its declaration's `access`, or the config's over it).
 */
export class ProcessRegistry {
  private readonly byId = new Map<string, ProcessDefinition>();
  private readonly access = new Map<ProcessDefinition, ProcessAccess>();
  private readonly everything: readonly ProcessDefinition[];

  constructor(processes: Iterable<ProcessDefinition>, accessByIdentifier: Readonly<Record<string, ProcessAccess>> = {}) {
    for (const p of processes) {
      if (this.byId.has(p.identifier)) throw new Error(`process ${p.identifier} is declared twice`);
      this.byId.set(p.identifier, p);
      const configured = Object.hasOwn(accessByIdentifier, p.identifier) ? accessByIdentifier[p.identifier] : undefined;
      const access = configured ?? (p.access && { users: p.access.users ?? [], groups: p.access.groups ?? [] });
      if (access) this.access.set(p, access);
    }
    this.everything = Object.freeze([...this.byId.values()]);
  }

  /** Every process, whoever may use it (the server's own view: runners, dispatch, digests). */
  get(identifier: string): ProcessDefinition | undefined {
    return this.byId.get(identifier);
  }

  all(): readonly ProcessDefinition[] {
    return this.everything;
  }

  /** The process, if `caller` may see it: to anyone else it does not exist. */
  getFor(identifier: string, caller: Caller): ProcessDefinition | undefined {
    const p = this.byId.get(identifier);
    return p && mayUse(this.access.get(p), caller) ? p : undefined;
  }

  /** What `caller` may see and execute; the same array for everyone who may use all. */
  visibleTo(caller: Caller): readonly ProcessDefinition[] {
    if (this.access.size === 0 || caller.admin) return this.everything;
    const visible = this.everything.filter((p) => mayUse(this.access.get(p), caller));
    return visible.length === this.everything.length ? this.everything : visible;
  }
}
