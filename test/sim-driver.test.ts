/**
 * The simulated clock and the lab's SimDriver: timers fire in (due, scheduling) order whatever
 * was cancelled, and every promise continuation a timer starts runs before the next timer, at
 * the virtual time of the timer that started it.
 */
import { describe, expect, it } from 'vitest';
import { SimDriver } from '../lab/driver.js';
import { SimClock } from '../utils/sim-clock.js';

/** Awaits `depth` resolved promises in a row, then logs. */
async function chain(log: string[], name: string, depth: number, now: () => number): Promise<void> {
  for (let i = 0; i < depth; i++) await Promise.resolve();
  log.push(`${name}@${now()}`);
}

describe('SimClock', () => {
  it('fires in order of due time, ties in order of scheduling', () => {
    const clock = new SimClock(0);
    const fired: string[] = [];
    clock.schedule(5, () => fired.push('b'));
    clock.schedule(1, () => fired.push('a'));
    clock.schedule(5, () => fired.push('c'));
    clock.advance(10);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.now()).toBe(10);
  });

  it('keeps the order and the pending count when most timers are cancelled', () => {
    const clock = new SimClock(0);
    const fired: number[] = [];
    const handles = Array.from({ length: 5000 }, (_, i) => clock.schedule(5000 - i, () => fired.push(i)));
    handles.forEach((handle, i) => {
      if (i % 5 !== 0) handle.cancel();
    });
    handles[1]?.cancel();
    expect(clock.pendingCount).toBe(1000);
    clock.advance(5000);
    expect(fired).toEqual(Array.from({ length: 1000 }, (_, k) => 4995 - 5 * k));
    expect(clock.pendingCount).toBe(0);
    // Cancelled timers are no events: the count is of those that ran.
    expect(clock.firedCount).toBe(1000);
  });

  it('orders events without a handle (fire) among timers by due time, then by scheduling order', () => {
    const clock = new SimClock(0);
    const order: string[] = [];
    clock.fire(2, () => order.push('fire@2'));
    const cancelled = clock.schedule(1, () => order.push('cancelled@1'));
    clock.schedule(2, () => order.push('timer@2'));
    clock.fire(1, () => order.push('fire@1'));
    clock.fire(0, () => order.push('fire@0'));
    cancelled.cancel();
    expect(clock.pendingCount).toBe(4);
    clock.advance(2);
    expect(order).toEqual(['fire@0', 'fire@1', 'fire@2', 'timer@2']);
    expect(clock.firedCount).toBe(4);
  });

  it('keeps the order through heap growth and compaction, with thousands of events of random due times', () => {
    const clock = new SimClock(0);
    let state = 7;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % 1000;
    const fired: Array<[number, number]> = [];
    const timers = [];
    for (let i = 0; i < 20_000; i++) {
      const due = next();
      if (i % 3 === 0) clock.fire(due, () => fired.push([due, i]));
      else timers.push({ i, handle: clock.schedule(due, () => fired.push([due, i])) });
    }
    // Cancelling most timers compacts the heap; what is left must still fire in (due, seq) order.
    const kept = new Set<number>();
    for (const { i, handle } of timers) {
      if (i % 5 === 0) kept.add(i);
      else handle.cancel();
    }
    clock.advance(1000);
    const expected = fired.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(fired).toEqual(expected);
    expect(fired.length).toBe(Math.ceil(20_000 / 3) + kept.size);
  });

  it('ignores a cancel after the timer fired', () => {
    const clock = new SimClock(0);
    const handle = clock.schedule(1, () => undefined);
    clock.schedule(2, () => undefined);
    clock.advance(1);
    handle.cancel();
    expect(clock.pendingCount).toBe(1);
  });
});

describe('SimDriver', () => {
  it('runs every continuation a timer starts before the next timer, however deep the chain', async () => {
    const driver = new SimDriver(0);
    const now = (): number => driver.clock.now();
    const log: string[] = [];
    driver.clock.schedule(10, () => void chain(log, 'deep', 2000, now));
    driver.clock.schedule(10, () => log.push(`tie@${now()}`));
    driver.clock.schedule(11, () => {
      // A continuation that schedules a timer due at once: it still comes after this step.
      void Promise.resolve().then(() => driver.clock.schedule(0, () => log.push(`spawned@${now()}`)));
      log.push(`next@${now()}`);
    });
    driver.clock.schedule(12, () => log.push(`last@${now()}`));
    await driver.sleep(20);
    expect(log).toEqual(['deep@10', 'tie@10', 'next@11', 'spawned@11', 'last@12']);
    expect(driver.clock.now()).toBe(20);
  });

  it('fires many timers across its periodic macrotask yields, in order', async () => {
    const driver = new SimDriver(0);
    const fired: number[] = [];
    for (let i = 0; i < 10_000; i++) driver.clock.schedule(i % 100, () => fired.push(i));
    await driver.sleep(100);
    const expected = Array.from({ length: 10_000 }, (_, i) => i).sort(
      (a, b) => (a % 100) - (b % 100) || a - b,
    );
    expect(fired).toEqual(expected);
  });

  it('rejects the sleep when a timer throws', async () => {
    const driver = new SimDriver(0);
    driver.clock.schedule(1, () => {
      throw new Error('boom');
    });
    await expect(driver.sleep(5)).rejects.toThrow('boom');
  });
});
