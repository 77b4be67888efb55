/**
 * Makes an lru-cache's `ttl` follow the injected Clock. Without it lru-cache ages entries with
 * `performance.now()`, so under a SimClock entries would never expire (or expire in real time).
 */
import type { Clock } from './clock.js';

/**
 * Options to spread into an LRUCache constructor next to `max` and `ttl`.
 * - `perf`: lru-cache's hook for its time source.
 * - `ttlResolution: 0`: lru-cache otherwise memoizes "now" and clears the memo with a real
 *   `setTimeout`, which would freeze virtual time between two real milliseconds.
 * - The +1: lru-cache treats an entry whose start time is 0 as having no TTL, and a SimClock
 *   starts at 0. Only differences of the clock matter, so shifting it changes no age.
 */
export function lruClockOptions(clock: Clock): { perf: { now: () => number }; ttlResolution: number } {
  return { perf: { now: () => clock.now() + 1 }, ttlResolution: 0 };
}
