import type { ProcessDefinition } from './types.js';

/** The processes this server offers, by identifier, in the order they were declared. */
export class ProcessRegistry {
  private readonly byId = new Map<string, ProcessDefinition>();

  constructor(processes: Iterable<ProcessDefinition>) {
    for (const p of processes) {
      if (this.byId.has(p.identifier)) throw new Error(`process ${p.identifier} is declared twice`);
      this.byId.set(p.identifier, p);
    }
  }

  get(identifier: string): ProcessDefinition | undefined {
    return this.byId.get(identifier);
  }

  all(): ProcessDefinition[] {
    return [...this.byId.values()];
  }
}
