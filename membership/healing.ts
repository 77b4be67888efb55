/**
 * The repair loop of a membership strategy: one attempt at a time, jittered exponential backoff
 * after failures, reset by a success (docs/protocol.md section 4, "Retry").
 *
 * A candidate that does not answer at all (`unreachable`) is followed at once by another, up to
 * `quickRetries` in a row, as the HyParView paper does: after a mass failure most passive
 * entries are dead, and waiting a backoff after each would leave survivors cut off for seconds
 * while live candidates sit in their views. The sweep is bounded by the view's size, so the
 * burst of dials is too; a sweep that finds nobody counts as one failure.
 *
 * Invariants: at most one attempt is in flight, and at most one timer is armed, so a burst of
 * failures (a partition, many closes at once) never turns into a dial storm. The loop goes
 * quiet when `shouldHeal()` is false or when an attempt reports that it had nothing to try
 * (`idle`); the owner re-arms it with `maybeHeal()` when something changes.
 */
import { Timer, type Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';

/**
 * What one attempt achieved: `idle` means there was no candidate to try at all; `unreachable`
 * that the candidate did not answer, so another may be tried at once.
 */
export type AttemptOutcome = 'success' | 'failure' | 'unreachable' | 'idle';

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
  /** Unreachable candidates tried in a row before backing off. @default 0 */
  quickRetries?: number;
}

export class Healer {
  readonly #options: HealerOptions;
  readonly #timer: Timer;
  /** The un-jittered delay before the next attempt: 0 until a failure, then base..max. */
  #backoffMs = 0;
  /** Unreachable candidates in a row since the last backoff, success or failure. */
  #unreachableInRow = 0;
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

  /**
   * A neighbour was just lost: repair now, whatever backoff earlier failures built up (filling a
   * last slot against full peers can have pushed it to its cap). The failures that follow back
   * off again from the base.
   */
  restart(): void {
    this.#backoffMs = 0;
    this.#unreachableInRow = 0;
    this.#timer.stop();
    this.maybeHeal();
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
    if (outcome === 'unreachable') {
      if (++this.#unreachableInRow <= (this.#options.quickRetries ?? 0)) return void this.#run();
      outcome = 'failure';
    }
    if (outcome !== 'idle') this.#unreachableInRow = 0;
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
