/**
 * The repair loop of a membership strategy: one attempt at a time, jittered exponential backoff
 * after failures, reset by a success (docs/protocol.md section 4, "Retry"). Synchronous: an
 * attempt either ends at once (returns its outcome) or returns `pending`, and its owner reports
 * the outcome later with `finish`, when the dial or the reply it waits for has come.
 *
 * A candidate that does not answer at all (`unreachable`) is followed at once by another, up to
 * `quickRetries` in a row, as the HyParView paper does: after a mass failure most passive
 * entries are dead, and waiting a backoff after each would leave survivors cut off for seconds
 * while live candidates sit in their views. The sweep is bounded by the view's size, so the
 * burst of dials is too; a sweep that finds nobody counts as one failure.
 *
 * Invariants: at most one attempt is pending, and at most one timer is armed, so a burst of
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

export interface RepairLoopOptions {
  clock: Clock;
  random: Random;
  /** First backoff after a failure; doubled on each further failure. */
  baseBackoffMs: number;
  /** Cap of the backoff (before jitter, which only shortens it). */
  maxBackoffMs: number;
  /** Whether the view still needs repair; checked before every attempt. */
  shouldHeal: () => boolean;
  /** One repair attempt: its outcome, or `pending` until the owner calls `finish`. */
  attempt: () => AttemptOutcome | 'pending';
  /** Unreachable candidates tried in a row before backing off. @default 0 */
  quickRetries?: number;
}

export class RepairLoop {
  readonly #options: RepairLoopOptions;
  readonly #timer: Timer;
  /** The un-jittered delay before the next attempt: 0 until a failure, then base..max. */
  #backoffMs = 0;
  /** Unreachable candidates in a row since the last backoff, success or failure. */
  #unreachableInRow = 0;
  #isPending = false;
  #stopped = false;

  constructor(options: RepairLoopOptions) {
    this.#options = options;
    this.#timer = new Timer(options.clock, () => this.#run());
  }

  /** The backoff the next attempt waits (before jitter); exposed for tests and stats. */
  get backoffMs(): number {
    return this.#backoffMs;
  }

  get isBusy(): boolean {
    return this.#isPending || this.#timer.isActive;
  }

  /** Whether an attempt waits for its outcome. */
  get isPending(): boolean {
    return this.#isPending;
  }

  /**
   * Starts an attempt now when no failure is pending a backoff, else arms the backoff timer;
   * does nothing while an attempt is pending or already scheduled.
   */
  maybeHeal(): void {
    if (this.#stopped || this.isBusy || !this.#options.shouldHeal()) return;
    if (this.#backoffMs === 0) this.#run();
    else this.#timer.start(this.#jittered(this.#backoffMs));
  }

  /**
   * A neighbour was just lost: repair now, whatever backoff earlier failures built up (filling a
   * last slot against full peers can have pushed it to its cap). The failures that follow back
   * off again from the base. An attempt still pending carries on; the loop resumes after it.
   */
  restart(): void {
    this.#backoffMs = 0;
    this.#unreachableInRow = 0;
    this.#timer.stop();
    this.maybeHeal();
  }

  /** The pending attempt ended with `outcome`; ignored when none is pending. */
  finish(outcome: AttemptOutcome): void {
    if (!this.#isPending) return;
    this.#isPending = false;
    if (!this.#stopped) this.#after(outcome);
  }

  stop(): void {
    this.#stopped = true;
    this.#isPending = false;
    this.#timer.stop();
  }

  #run(): void {
    if (this.#stopped || this.#isPending || !this.#options.shouldHeal()) return;
    const outcome = this.#options.attempt();
    if (outcome === 'pending') this.#isPending = true;
    else this.#after(outcome);
  }

  #after(outcome: AttemptOutcome): void {
    if (outcome === 'unreachable') {
      if (++this.#unreachableInRow <= (this.#options.quickRetries ?? 0)) return this.#run();
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
