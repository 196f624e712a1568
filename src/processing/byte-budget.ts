import { OwsException } from '../exceptions.js';

/**
 * Bytes the server holds for requests in progress (bodies being read, references
 * fetched for synchronous runs), with a ceiling for all of them together: however many
 * connections send slowly or ask for large references, memory stays bounded. Each
 * request takes its bytes through a lease and gives them all back when done.
 */
export class ByteBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  lease(): BudgetLease {
    return new BudgetLease(this);
  }

  get inUse(): number {
    return this.used;
  }

  /** @internal for leases */
  tryAdd(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  /** @internal for leases */
  remove(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

export class BudgetLease {
  private held = 0;
  private released = false;

  constructor(private readonly budget: ByteBudget) {}

  /**
   * Takes `n` more bytes, or throws ServerBusy when all requests together would hold
   * more than the budget. (A single request larger than the whole budget is refused by
   * its own size limits first: the configuration keeps the budget above them.)
   */
  take(n: number): void {
    if (this.released || !this.budget.tryAdd(n)) {
      throw new OwsException(
        'ServerBusy',
        `The server is holding as much request data as it may (${Math.round(this.budget.limit / 1048576)} MB); try again shortly`,
      );
    }
    this.held += n;
  }

  get bytes(): number {
    return this.held;
  }

  /** Gives every byte back; later takes are refused. Safe to call more than once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.remove(this.held);
    this.held = 0;
  }
}
