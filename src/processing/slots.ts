/**
 * A counter of work in progress with a ceiling: take a slot or be told there is none
 * (`tryTake`), or wait for one (`take`).
 */
export class Slots {
  private used = 0;
  private readonly waiting: ((taken: boolean) => void)[] = [];

  constructor(readonly size: number) {}

  tryTake(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }

  /** Resolves true once a slot is taken, or false if `drain` gives up on waiting first. */
  take(): Promise<boolean> {
    if (this.tryTake()) return Promise.resolve(true);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    const next = this.waiting.shift();
    // Handed straight to the next in line: the count stays as it is.
    if (next) next(true);
    else this.used = Math.max(0, this.used - 1);
  }

  /** Everyone still waiting is told no. */
  drain(): void {
    for (const w of this.waiting.splice(0)) w(false);
  }

  get inUse(): number {
    return this.used;
  }
}
