/**
 * The repair loop of a membership strategy: one attempt at a time, jittered exponential backoff
 * after failures, reset by a success (PROTOCOL.md section 4, "Retry").
 *
 * Invariants: at most one attempt is in flight, and at most one timer is armed, so a burst of
 * failures (a partition, many closes at once) never turns into a dial storm. The loop goes
 * quiet when `shouldHeal()` is false or when an attempt reports that it had nothing to try
 * (`idle`); the owner re-arms it with `maybeHeal()` when something changes.
 */
import { Timer, type Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';

/** What one attempt achieved: `idle` means there was no candidate to try at all. */
export type AttemptOutcome = 'success' | 'failure' | 'idle';

export interface HealerOptions {
  clock: Clock;
  random: Random;
  /** First backoff after a failure; doubled on each further failure. */
  baseBackoffMs: number;
  /** Cap of the backoff (before jitter, which only shortens it). */
  maxBackoffMs: number;
  /** Whether the view still needs repair; checked before every attempt. */
  shouldHeal: () => boolean;
  /** One repair attempt. Must not reject; a rejection counts as a failure anyway. */
  attempt: () => Promise<AttemptOutcome>;
}

export class Healer {
  readonly #options: HealerOptions;
  readonly #timer: Timer;
  /** The un-jittered delay before the next attempt: 0 until a failure, then base..max. */
  #backoffMs = 0;
  #inFlight = false;
  #stopped = false;

  constructor(options: HealerOptions) {
    this.#options = options;
    this.#timer = new Timer(options.clock, () => void this.#run());
  }

  /** The backoff the next attempt waits (before jitter); exposed for tests and stats. */
  get backoffMs(): number {
    return this.#backoffMs;
  }

  get isBusy(): boolean {
    return this.#inFlight || this.#timer.isActive;
  }

  /**
   * Starts an attempt now when no failure is pending a backoff, else arms the backoff timer;
   * does nothing while an attempt is running or already scheduled.
   */
  maybeHeal(): void {
    if (this.#stopped || this.isBusy || !this.#options.shouldHeal()) return;
    if (this.#backoffMs === 0) void this.#run();
    else this.#timer.start(this.#jittered(this.#backoffMs));
  }

  stop(): void {
    this.#stopped = true;
    this.#timer.stop();
  }

  async #run(): Promise<void> {
    if (this.#stopped || this.#inFlight || !this.#options.shouldHeal()) return;
    this.#inFlight = true;
    let outcome: AttemptOutcome;
    try {
      outcome = await this.#options.attempt();
    } catch {
      outcome = 'failure';
    } finally {
      this.#inFlight = false;
    }
    if (this.#stopped) return;
    if (outcome === 'success') this.#backoffMs = 0;
    if (outcome === 'failure') this.#backoffMs = this.#nextBackoff();
    // With nothing to try, wait for the owner to call maybeHeal again (new entries, a tick).
    if (outcome !== 'idle') this.maybeHeal();
  }

  #nextBackoff(): number {
    const { baseBackoffMs, maxBackoffMs } = this.#options;
    return this.#backoffMs === 0 ? baseBackoffMs : Math.min(this.#backoffMs * 2, maxBackoffMs);
  }

  /** "Equal jitter": uniformly in [delay/2, delay], so peers that failed together spread out. */
  #jittered(delayMs: number): number {
    return delayMs / 2 + (this.#options.random.float() * delayMs) / 2;
  }
}
