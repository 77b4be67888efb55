/**
 * One token bucket per key (an origin id, an address), the keys bounded by an LRU: a key
 * forgotten after `entries` others starts again with a full bucket, so the bound trades a little
 * leniency towards an attacker with many identities for memory that cannot grow.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import { lruOptions } from './lru.js';
import { TokenBucket } from './token-bucket.js';

export class KeyedRate {
  readonly #buckets: LRUCache<string, TokenBucket>;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst: number,
    entries: number,
  ) {
    this.#buckets = new LRUCache(lruOptions({ entries, clock }));
  }

  /** Takes a token from `key`'s bucket; false when it is empty. */
  tryTake(key: string): boolean {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.clock, this.perSecond, this.burst);
      this.#buckets.set(key, bucket);
    }
    return bucket.tryTake();
  }

  /** Gives a token back to `key`'s bucket, if it is still remembered. */
  refund(key: string): void {
    this.#buckets.get(key)?.refund();
  }
}
