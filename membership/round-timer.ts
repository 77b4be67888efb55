/**
 * The periodic round of a membership strategy (a shuffle, a gossip round), jittered by +-25%
 * around its period so that nodes started together do not keep acting in lockstep.
 */
import { Timer, type Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';

export class RoundTimer {
  readonly #timer: Timer;
  #running = false;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly periodMs: number,
    onRound: () => void,
  ) {
    this.#timer = new Timer(clock, () => {
      if (!this.#running) return;
      this.#arm();
      onRound();
    });
  }

  /** Arms the first round, one jittered period from now. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    this.#timer.stop();
  }

  #arm(): void {
    this.#timer.start(this.periodMs * (0.75 + 0.5 * this.random.float()));
  }
}
