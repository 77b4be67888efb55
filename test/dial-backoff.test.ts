/**
 * The per-address dial backoff (link/dial-backoff.ts) on a simulated clock: the wait after each
 * failure (doubling from `baseMs`, capped at `maxMs`, plus up to 50% jitter never past the cap),
 * success and age forgetting an address, the bound on addresses, and `stop()` waking every dial
 * that waits.
 */
import { describe, expect, it } from 'vitest';
import { DialBackoff } from '../link/dial-backoff.js';
import { seededRandom, type Random } from '../utils/random.js';
import { SimClock } from '../utils/sim-clock.js';

const BASE_MS = 100;
const MAX_MS = 1_700; // not a power of two times BASE_MS, so the cap cuts a doubling short

/** A random source whose float() returns `value` every time. */
function constantRandom(value: number): Random {
  return { float: () => value, int: () => 0, bytes: (n) => new Uint8Array(n) };
}

function backoff(random: Random = seededRandom(7)): { clock: SimClock; backoff: DialBackoff } {
  const clock = new SimClock(1_000);
  return { clock, backoff: new DialBackoff({ clock, random, baseMs: BASE_MS, maxMs: MAX_MS }) };
}

/** Settles the promise callbacks queued so far. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DialBackoff', () => {
  it('an address that never failed may be dialled at once', async () => {
    const { clock, backoff: b } = backoff();
    expect(b.waitMs('10.0.0.1:7000')).toBe(0);
    await expect(b.wait('10.0.0.1:7000')).resolves.toBe(true);
    expect(clock.pendingCount).toBe(0);
  });

  it('without jitter the wait doubles from baseMs per failure, up to maxMs', () => {
    const { backoff: b } = backoff(constantRandom(0));
    const waits: number[] = [];
    for (let failures = 0; failures < 7; failures++) {
      b.failed('a:1');
      waits.push(b.waitMs('a:1'));
    }
    expect(waits).toEqual([100, 200, 400, 800, 1_600, MAX_MS, MAX_MS]);
  });

  it('jitter adds up to half the wait, and never passes maxMs', () => {
    const { backoff: b } = backoff(constantRandom(0.5));
    const waits: number[] = [];
    for (let failures = 0; failures < 6; failures++) {
      b.failed('a:1');
      waits.push(b.waitMs('a:1'));
    }
    // 1.25 x 100, 200, 400, 800; then 1.25 x 1600 = 2000 is cut to the cap.
    expect(waits).toEqual([125, 250, 500, 1_000, MAX_MS, MAX_MS]);
  });

  it('with a seeded random each wait is within [backoff, 1.5 x backoff], capped, and the draws differ', () => {
    const { backoff: b } = backoff(seededRandom(2026));
    const waits: number[] = [];
    for (let failures = 1; failures <= 12; failures++) {
      b.failed(`peer-${failures}:1`); // one failure each: the same backoff, a fresh draw
      const wait = b.waitMs(`peer-${failures}:1`);
      expect(wait).toBeGreaterThanOrEqual(BASE_MS);
      expect(wait).toBeLessThanOrEqual(1.5 * BASE_MS);
      waits.push(wait);
    }
    expect(new Set(waits).size).toBeGreaterThan(6);
    const { backoff: capped } = backoff(seededRandom(2026));
    for (let failures = 0; failures < 40; failures++) {
      capped.failed('far:1');
      expect(capped.waitMs('far:1')).toBeLessThanOrEqual(MAX_MS);
    }
    expect(capped.waitMs('far:1')).toBe(MAX_MS);
  });

  it('the same seed gives the same waits: a run replays', () => {
    const waitsOf = (seed: number): number[] => {
      const { backoff: b } = backoff(seededRandom(seed));
      return [1, 2, 3, 4, 5].map(() => {
        b.failed('a:1');
        return b.waitMs('a:1');
      });
    };
    expect(waitsOf(11)).toEqual(waitsOf(11));
    expect(waitsOf(11)).not.toEqual(waitsOf(12));
  });

  it('wait() resolves true when the wait is over, not a millisecond before', async () => {
    const { clock, backoff: b } = backoff(constantRandom(0));
    b.failed('a:1');
    b.failed('a:1'); // 200 ms
    let woke: boolean | undefined;
    void b.wait('a:1').then((isAwake) => (woke = isAwake));
    clock.advance(199);
    await flush();
    expect(woke).toBeUndefined();
    expect(b.waitMs('a:1')).toBe(1);
    clock.advance(1);
    await flush();
    expect(woke).toBe(true);
    expect(b.waitMs('a:1')).toBe(0);
  });

  it('the wait is per address: a failure at one does not delay another', () => {
    const { backoff: b } = backoff(constantRandom(0));
    b.failed('a:1');
    b.failed('a:1');
    expect(b.waitMs('a:1')).toBe(200);
    expect(b.waitMs('a:2')).toBe(0);
    expect(b.waitMs('b:1')).toBe(0);
  });

  it('a success forgets the address: the next failure starts again from baseMs', () => {
    const { backoff: b } = backoff(constantRandom(0));
    for (let i = 0; i < 4; i++) b.failed('a:1');
    expect(b.waitMs('a:1')).toBe(800);
    b.succeeded('a:1');
    expect(b.waitMs('a:1')).toBe(0);
    b.failed('a:1');
    expect(b.waitMs('a:1')).toBe(BASE_MS);
  });

  it('an address is forgotten 2 x maxMs after its last failure, and remembered until then', () => {
    const { clock, backoff: b } = backoff(constantRandom(0));
    for (let i = 0; i < 3; i++) b.failed('a:1'); // 400 ms
    clock.advance(2 * MAX_MS - 1);
    b.failed('a:1'); // still remembered: the 4th failure in a row
    expect(b.waitMs('a:1')).toBe(800);
    clock.advance(2 * MAX_MS + 1);
    b.failed('a:1'); // forgotten: a first failure again
    expect(b.waitMs('a:1')).toBe(BASE_MS);
  });

  it(`holds at most ${DialBackoff.MAX_ADDRESSES} addresses, forgetting the least recently used`, () => {
    const { backoff: b } = backoff(constantRandom(0));
    for (let i = 0; i <= DialBackoff.MAX_ADDRESSES; i++) b.failed(`10.0.${i >> 8}.${i & 255}:7000`);
    expect(b.waitMs('10.0.0.0:7000')).toBe(0); // the first, pushed out by the last
    expect(b.waitMs('10.0.0.1:7000')).toBe(BASE_MS);
    const last = DialBackoff.MAX_ADDRESSES;
    expect(b.waitMs(`10.0.${last >> 8}.${last & 255}:7000`)).toBe(BASE_MS);
  });

  it('stop() wakes every waiting dial with false and leaves no timer behind', async () => {
    const { clock, backoff: b } = backoff(constantRandom(0));
    b.failed('a:1');
    b.failed('b:1');
    const woken: boolean[] = [];
    const waits = [b.wait('a:1'), b.wait('b:1')].map((p) => p.then((isAwake) => woken.push(isAwake)));
    expect(clock.pendingCount).toBe(2);
    b.stop();
    await Promise.all(waits);
    expect(woken).toEqual([false, false]);
    expect(clock.pendingCount).toBe(0);
    clock.advance(10 * MAX_MS);
    expect(woken).toEqual([false, false]);
  });
});
