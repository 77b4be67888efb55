/**
 * At most one dial per address per period (docs/protocol.md section 4): a Shuffle names its origin,
 * and the node where the walk ends dials it. Without this limit anyone could make a node dial
 * third parties by sending Shuffles with made-up origins, so the key is the address dialled
 * (host and port), whatever id claims it.
 *
 * Bounded: entries older than a period are swept by `prune`, and at most `maxAddresses` are
 * remembered; past that the limiter refuses (fails closed) until the next sweep.
 */
export class DialLimit {
  readonly #lastDialMs = new Map<string, number>();

  constructor(
    private readonly periodMs: number,
    private readonly maxAddresses: number,
  ) {}

  get size(): number {
    return this.#lastDialMs.size;
  }

  /** True (and remembers the dial) when `key` was not dialled within the last period. */
  tryAcquire(key: string, nowMs: number): boolean {
    const last = this.#lastDialMs.get(key);
    if (last !== undefined && nowMs - last < this.periodMs) return false;
    if (last === undefined && this.#lastDialMs.size >= this.maxAddresses) this.prune(nowMs);
    if (last === undefined && this.#lastDialMs.size >= this.maxAddresses) return false;
    this.#lastDialMs.set(key, nowMs);
    return true;
  }

  /** Forgets addresses whose period has passed. */
  prune(nowMs: number): void {
    for (const [key, last] of this.#lastDialMs) {
      if (nowMs - last >= this.periodMs) this.#lastDialMs.delete(key);
    }
  }

  clear(): void {
    this.#lastDialMs.clear();
  }
}
