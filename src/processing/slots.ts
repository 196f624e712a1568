/** A counter of work in progress with a ceiling: take a slot or be told there is none. */
export class Slots {
  private used = 0;

  constructor(readonly size: number) {}

  tryTake(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }

  give(): void {
    this.used = Math.max(0, this.used - 1);
  }

  get inUse(): number {
    return this.used;
  }
}
