/**
 * Time as an injected dependency. Protocol code never calls `Date.now` or `setTimeout` itself,
 * so the lab can run the same code under a simulated clock, as fast as the CPU allows.
 */
export interface Scheduled {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds; wall-clock epoch for the system clock, virtual for a simulated one. */
  now(): number;
  /** Runs `fn` once after `delayMs`. Callbacks must not throw. */
  schedule(delayMs: number, fn: () => void): Scheduled;
}

/**
 * The real clock. Its timers are unref'd: a node's sockets keep the process alive, its
 * housekeeping never does.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** A one-shot timer that can be re-armed; stopping it twice is harmless. */
export class Timer {
  #scheduled: Scheduled | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onFire: () => void,
  ) {}

  get isActive(): boolean {
    return this.#scheduled !== undefined;
  }

  /** (Re)arms the timer for `delayMs` from now. */
  start(delayMs: number): void {
    this.stop();
    this.#scheduled = this.clock.schedule(delayMs, () => {
      this.#scheduled = undefined;
      this.onFire();
    });
  }

  /** Arms the timer only when it is not already running. */
  maybeStart(delayMs: number): void {
    if (!this.isActive) this.start(delayMs);
  }

  stop(): void {
    this.#scheduled?.cancel();
    this.#scheduled = undefined;
  }
}
