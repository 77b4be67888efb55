/**
 * A cache bounded in entries and in age whose entries leave oldest first, for the seen cache:
 * a message is remembered from its first copy on, and a later copy must not make it younger.
 *
 * Why not lru-cache here: a seen cache holds up to 100,000 entries per node, and lru-cache keeps
 * seven parallel arrays beside its Map (about 140 bytes an entry on top of key and value, more
 * than the key and value themselves). This is one Map, whose insertion order is the age order,
 * plus one timestamp per batch of entries inserted within `resolutionMs`: an entry may expire up
 * to `resolutionMs` early, never late.
 */
import type { Clock } from './clock.js';

export interface FifoCacheOptions {
  /** Most entries held; the oldest leaves first. */
  entries: number;
  /** Entry lifetime, from its first insertion. */
  ttlMs: number;
  clock: Clock;
  /** Granularity of ages. @default ttlMs / 100 */
  resolutionMs?: number;
}

interface Batch {
  readonly at: number;
  count: number;
}

export class FifoCache<V> {
  readonly #entries = new Map<string, V>();
  /** Oldest first; the entries of a batch are contiguous in the Map's order. */
  readonly #batches: Batch[] = [];
  readonly #options: Required<FifoCacheOptions>;
  /** Every entry set at or after this time is still held; see heldSinceMs. */
  #heldSinceMs = Number.NEGATIVE_INFINITY;

  constructor(options: FifoCacheOptions) {
    this.#options = { resolutionMs: options.ttlMs / 100, ...options };
  }

  /**
   * The time since which every entry set is still held, whether older ones left by age or by
   * count (-Infinity while none has left). An entry left with its batch, whose entries were all
   * set before the batch's time plus `resolutionMs`: that is the bound.
   */
  heldSinceMs(): number {
    this.#expire();
    return this.#heldSinceMs;
  }

  get size(): number {
    this.#expire();
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    this.#expire();
    return this.#entries.get(key);
  }

  has(key: string): boolean {
    this.#expire();
    return this.#entries.has(key);
  }

  /** Sets a value; an existing key keeps its age (and its place in line). */
  set(key: string, value: V): void {
    this.#expire();
    const isNew = !this.#entries.has(key);
    this.#entries.set(key, value);
    if (!isNew) return;
    const now = this.#options.clock.now();
    const newest = this.#batches[this.#batches.length - 1];
    if (newest && now - newest.at < this.#options.resolutionMs) newest.count++;
    else this.#batches.push({ at: now, count: 1 });
    if (this.#entries.size > this.#options.entries)
      this.#evictOldest(this.#entries.size - this.#options.entries);
  }

  #expire(): void {
    const deadline = this.#options.clock.now() - this.#options.ttlMs;
    while (this.#batches.length > 0 && (this.#batches[0] as Batch).at <= deadline) {
      this.#evictOldest((this.#batches[0] as Batch).count);
    }
  }

  #evictOldest(count: number): void {
    let left = count;
    for (const key of this.#entries.keys()) {
      if (left-- <= 0) break;
      this.#entries.delete(key);
      const oldest = this.#batches[0] as Batch;
      this.#heldSinceMs = Math.max(this.#heldSinceMs, oldest.at + this.#options.resolutionMs);
      if (--oldest.count === 0) this.#batches.shift();
    }
  }
}
