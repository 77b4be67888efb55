/**
 * Time in the lab: real (TCP, child processes) or simulated (memory transport under a
 * SimClock). Scenario code only waits through a Driver, so one scenario runs both ways.
 */
import { systemClock, type Clock } from '../utils/clock.js';
import { SimClock } from '../utils/sim-clock.js';

export interface Driver {
  readonly clock: Clock;
  readonly isSimulated: boolean;
  /** Lets `ms` of (real or virtual) time pass. */
  sleep(ms: number): Promise<void>;
  /** Waits until `condition` holds, polling every `pollMs`; resolves to whether it held in time. */
  waitUntil(condition: () => boolean, timeoutMs: number, pollMs?: number): Promise<boolean>;
}

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RealDriver implements Driver {
  readonly clock = systemClock;
  readonly isSimulated = false;

  async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => setTimeout(resolve, ms));
  }

  async waitUntil(condition: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
    const deadline = systemClock.now() + timeoutMs;
    while (!condition()) {
      if (systemClock.now() >= deadline) return false;
      await this.sleep(pollMs);
    }
    return true;
  }
}

/** Steps between two real macrotasks while virtual time runs (see `SimDriver`). */
const STEPS_PER_MACROTASK = 4096;

/**
 * Runs virtual time as fast as the CPU allows. Timers fire one at a time, and every promise
 * continuation a timer starts (a dial resolving, a handshake step) runs before the next timer
 * fires, as on the real event loop: the order of events is a function of the seed alone.
 *
 * The barrier between two timers is a `process.nextTick` queued from a microtask, not a
 * macrotask: Node runs the tick queue only once V8's microtask queue is empty, so that tick runs
 * after every microtask queued before it and every one those queue in turn, however long the
 * chain, while a setImmediate per timer costs a whole event-loop turn. This relies on code under
 * a SimClock scheduling nothing on the real event loop (no nextTick, setImmediate, timers or
 * I/O), the premise the simulation's determinism already rests on.
 */
export class SimDriver implements Driver {
  readonly clock: SimClock;
  readonly isSimulated = true;

  constructor(startMs = 1_000_000) {
    this.clock = new SimClock(startMs);
  }

  async sleep(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    await nextMacrotask();
    await this.#stepUntil(target);
    this.clock.advance(Math.max(0, target - this.clock.now()));
    await nextMacrotask();
  }

  async waitUntil(condition: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    while (!condition()) {
      if (this.clock.now() >= deadline) return false;
      await this.sleep(Math.min(pollMs, deadline - this.clock.now()));
    }
    return true;
  }

  /** Fires the timers due by `target` one by one, letting the microtasks of each run first. */
  #stepUntil(target: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let steps = 0;
      const afterMicrotasks = (): void => process.nextTick(step);
      const step = (): void => {
        try {
          const due = this.clock.nextDue();
          if (due === undefined || due > target) return resolve();
          this.clock.step();
        } catch (err) {
          return reject(err);
        }
        // A real macrotask now and then lets stdout, signals and the profiler through; it is
        // an even stronger barrier than the tick, so where it falls changes no order.
        if (++steps % STEPS_PER_MACROTASK === 0) setImmediate(step);
        else queueMicrotask(afterMicrotasks);
      };
      // Called from a microtask (this method's caller resumed from an await): runs after them all.
      process.nextTick(step);
    });
  }
}
