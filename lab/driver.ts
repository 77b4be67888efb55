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

/**
 * Runs virtual time as fast as the CPU allows. After every timer it yields one macrotask, so
 * the promise continuations that timer started (a dial resolving, a handshake step) run before
 * the next timer: the order of events is a function of the seed alone.
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
    for (let due = this.clock.nextDue(); due !== undefined && due <= target; due = this.clock.nextDue()) {
      this.clock.step();
      await nextMacrotask();
    }
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
}
