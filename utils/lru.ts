/**
 * Options for every lru-cache in the project: bounded in entries and age, aged by the injected
 * Clock, and growing with use instead of allocating its bound up front.
 */
import type { Clock } from './clock.js';

export interface LruBounds {
  /** Most entries held. */
  entries: number;
  /** Entry lifetime; omit for no age limit. */
  ttlMs?: number;
  clock: Clock;
}

export interface LruOptions {
  maxSize: number;
  sizeCalculation: () => number;
  ttl?: number;
  perf: { now: () => number };
  ttlResolution: number;
}

/**
 * - `maxSize` with a size of 1 per entry, not `max`: with `max` lru-cache allocates arrays of
 *   that length at construction (a 100,000-entry seen cache is megabytes per node before the
 *   first message), while `maxSize` bounds the count just the same and grows on demand.
 * - `perf`: lru-cache's hook for its time source; without it, ages follow `performance.now()`
 *   and entries under a SimClock would never expire, or expire in real time.
 * - `ttlResolution: 0`: lru-cache otherwise memoizes "now" and clears the memo with a real
 *   `setTimeout`, which would freeze virtual time between two real milliseconds.
 * - The +1: lru-cache treats an entry whose start time is 0 as having no TTL, and a SimClock
 *   starts at 0. Only differences of the clock matter, so shifting it changes no age.
 */
export function lruOptions({ entries, ttlMs, clock }: LruBounds): LruOptions {
  return {
    maxSize: entries,
    sizeCalculation: () => 1,
    ...(ttlMs === undefined ? {} : { ttl: ttlMs }),
    perf: { now: () => clock.now() + 1 },
    ttlResolution: 0,
  };
}
