/**
 * The seen cache's container: bounded in entries and age, oldest out first, and a key that is
 * set again keeps its age.
 */
import { describe, expect, it } from 'vitest';
import { FifoCache } from '../utils/fifo-cache.js';
import { SimClock } from '../utils/sim-clock.js';

function cache(
  entries: number,
  ttlMs = 10_000,
  resolutionMs = 100,
): { clock: SimClock; seen: FifoCache<number> } {
  const clock = new SimClock(0);
  return { clock, seen: new FifoCache<number>({ entries, ttlMs, clock, resolutionMs }) };
}

describe('FifoCache', () => {
  it('holds at most `entries`, evicting the oldest first', () => {
    const { seen } = cache(3);
    for (const key of ['a', 'b', 'c', 'd']) seen.set(key, 1);
    expect(seen.size).toBe(3);
    expect(seen.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((key) => seen.has(key))).toBe(true);
  });

  it('a key set again keeps its place and its age, but takes the new value', () => {
    const { clock, seen } = cache(3, 1000, 10);
    seen.set('a', 1);
    clock.advance(500);
    seen.set('b', 1);
    seen.set('a', 2);
    expect(seen.get('a')).toBe(2);
    seen.set('c', 1);
    seen.set('d', 1);
    expect(seen.has('a')).toBe(false); // still the oldest
    clock.advance(600); // 'b' is 600 ms old, and 'a' would have been 1100
    expect(seen.has('b')).toBe(true);
  });

  it('entries expire after ttlMs, never later, at most resolutionMs early', () => {
    const { clock, seen } = cache(100, 1000, 100);
    seen.set('first', 1);
    clock.advance(50);
    seen.set('same-batch', 1);
    clock.advance(100);
    seen.set('next-batch', 1);
    clock.advance(849); // first is 999 ms old
    expect(seen.has('first')).toBe(true);
    clock.advance(1); // first is 1000 ms old; same-batch 950 ms, expires with its batch
    expect(seen.has('first')).toBe(false);
    expect(seen.has('same-batch')).toBe(false);
    expect(seen.get('next-batch')).toBe(1);
    clock.advance(150);
    expect(seen.size).toBe(0);
  });

  it('stays bounded under a long random run, checked against a plain model', () => {
    const { clock, seen } = cache(50, 2000, 1);
    const model = new Map<string, { at: number; value: number }>();
    let state = 7;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    for (let step = 0; step < 20_000; step++) {
      clock.advance(next() % 5);
      const key = `k${next() % 400}`;
      // The model: ages from first insertion, oldest out first.
      for (const [k, v] of model) if (v.at <= clock.now() - 2000) model.delete(k);
      if (next() % 2 === 0) {
        const known = model.get(key);
        model.set(key, { at: known?.at ?? clock.now(), value: step });
        if (model.size > 50) model.delete(model.keys().next().value as string);
        seen.set(key, step);
      } else {
        expect(seen.get(key)).toBe(model.get(key)?.value);
      }
      expect(seen.size).toBe(model.size);
    }
  });
});

describe('FifoCache.heldSinceMs', () => {
  it('is the time since which every entry set is still held, whether evicted by age or by count', () => {
    const { clock, seen } = cache(3, 1000, 10);
    expect(seen.heldSinceMs()).toBe(-Infinity);
    seen.set('a', 1);
    clock.advance(100);
    seen.set('b', 1);
    seen.set('c', 1);
    seen.set('d', 1); // 'a', set at 0, leaves by count
    expect(seen.heldSinceMs()).toBe(10); // entries of its batch were set before 0 + resolution
    clock.advance(1000); // 'b' to 'd', set at 100, leave by age
    expect(seen.heldSinceMs()).toBe(110);
    expect(seen.size).toBe(0);
  });
});
