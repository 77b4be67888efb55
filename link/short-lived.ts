/**
 * The lifetime of a link that carries no data (docs/protocol.md section 4): it closes after
 * `shortLivedIdleMs` without a message from its peer, and in any case `shortLivedMaxMs` after it
 * became short-lived. The node's connection manager and the simulator both keep their links by
 * this one rule.
 */
import type { NodeConfig } from '../config.js';
import { Timer, type Clock } from '../utils/clock.js';

export class ShortLived {
  readonly #timer: Timer;
  /** When the link became short-lived: its absolute lifetime runs from here. */
  #since: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly config: Pick<NodeConfig, 'shortLivedIdleMs' | 'shortLivedMaxMs'>,
    onExpired: () => void,
  ) {
    this.#timer = new Timer(clock, onExpired);
  }

  /** The link carries no data (still, or again), or a message came on it: the idle time restarts. */
  arm(): void {
    const now = this.clock.now();
    this.#since ??= now;
    const lifeLeftMs = this.config.shortLivedMaxMs - (now - this.#since);
    this.#timer.start(Math.max(0, Math.min(this.config.shortLivedIdleMs, lifeLeftMs)));
  }

  /** The link carries data now: no idle close, and a fresh lifetime if it is ever short-lived again. */
  claim(): void {
    this.#timer.stop();
    this.#since = undefined;
  }

  stop(): void {
    this.#timer.stop();
  }
}
