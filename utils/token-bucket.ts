/** A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. */
import type { Clock } from './clock.js';

export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst;
    this.#updatedAt = clock.now();
  }

  /** Takes `count` tokens (one by default) if there are that many; otherwise takes none. */
  tryTake(count = 1): boolean {
    const now = this.clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) / 1000) * this.ratePerSecond);
    this.#updatedAt = now;
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /** Gives back `count` tokens taken for something that turned out not to count, up to the burst. */
  refund(count = 1): void {
    this.#tokens = Math.min(this.burst, this.#tokens + count);
  }
}
