/**
 * A counting semaphore over units (events): `acquire(n)` waits until `n` units are free. Waiters
 * are served in arrival order so a large batch is not starved by small ones. A request larger
 * than the whole capacity is admitted alone, once nothing else holds units.
 */
export class Semaphore {
  private used = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0)
      throw new RangeError(`capacity must be > 0, got ${capacity}`);
  }

  /** Units currently held. */
  get inUse(): number {
    return this.used;
  }

  acquire(n: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(n)) {
      this.used += n;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  release(n: number): void {
    this.used -= n;
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.n)) {
      const w = this.waiters.shift()!;
      this.used += w.n;
      w.resolve();
    }
  }

  private fits(n: number): boolean {
    return this.used + n <= this.capacity || this.used === 0;
  }
}
