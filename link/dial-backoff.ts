/**
 * Backoff per dialled address (host and port), whoever asks for the dial: after a dial to an
 * address fails (no connection, or no completed handshake), the next one waits at least
 * `baseMs`, doubled on each further failure up to `maxMs`, plus up to 50% jitter (never past
 * `maxMs`); a success forgets the address. With the healer's own backoff (one attempt at a
 * time), the once-per-period dial limit on Shuffle origins and the per-link exchange budget, this
 * is what keeps peers from turning the node into a dialler of a victim: whatever they gossip,
 * an address that does not answer as a node is dialled at most once per its backoff.
 *
 * Bounded: at most `MAX_ADDRESSES` addresses, the least recently used forgotten first, and each
 * forgotten `2 x maxMs` after its last failure (so a redial at the cap still finds it).
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../utils/clock.js';
import { lruOptions } from '../utils/lru.js';
import type { Random } from '../utils/random.js';

interface Failures {
  /** Failed dials in a row. */
  count: number;
  /** No dial before this time (clock ms). */
  notBeforeMs: number;
}

export interface DialBackoffOptions {
  clock: Clock;
  random: Random;
  baseMs: number;
  maxMs: number;
}

export class DialBackoff {
  static readonly MAX_ADDRESSES = 4096;
  readonly #options: DialBackoffOptions;
  readonly #failures: LRUCache<string, Failures>;
  /** Dials waiting out a backoff; `stop()` wakes each with false. */
  readonly #sleepers = new Set<(isAwake: boolean) => void>();

  constructor(options: DialBackoffOptions) {
    this.#options = options;
    this.#failures = new LRUCache(
      lruOptions({ entries: DialBackoff.MAX_ADDRESSES, ttlMs: 2 * options.maxMs, clock: options.clock }),
    );
  }

  /** How long a dial to `key` must still wait; 0 when it may go now. */
  waitMs(key: string): number {
    const failures = this.#failures.get(key);
    return failures ? Math.max(0, failures.notBeforeMs - this.#options.clock.now()) : 0;
  }

  /** Resolves true once a dial to `key` may go (at once when it may go now), false on `stop()`. */
  wait(key: string): Promise<boolean> {
    const ms = this.waitMs(key);
    if (ms === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (isAwake: boolean): void => {
        this.#sleepers.delete(wake);
        scheduled.cancel();
        resolve(isAwake);
      };
      const scheduled = this.#options.clock.schedule(ms, () => wake(true));
      this.#sleepers.add(wake);
    });
  }

  /** Wakes every waiting dial with false: the node is stopping. */
  stop(): void {
    for (const wake of [...this.#sleepers]) wake(false);
  }

  failed(key: string): void {
    const { clock, random, baseMs, maxMs } = this.#options;
    const count = (this.#failures.get(key)?.count ?? 0) + 1;
    const backoffMs = Math.min(maxMs, baseMs * 2 ** Math.min(count - 1, 30));
    const delayMs = Math.min(maxMs, backoffMs * (1 + random.float() / 2));
    this.#failures.set(key, { count, notBeforeMs: clock.now() + delayMs });
  }

  succeeded(key: string): void {
    this.#failures.delete(key);
  }
}
