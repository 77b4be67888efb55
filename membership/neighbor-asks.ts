/**
 * Neighbor requests this node sent and that wait for their NeighborReply, by peer id. Each ends
 * once: answered (`accepted`, `refused`), the link closed (`closed`), no answer within
 * `timeoutMs` (`timeout`), or the strategy stopped (`cancelled`); its `onEnd` then runs.
 * Bounded in number by the owner, which asks only a few peers at once.
 */
import type { Clock, Scheduled } from '../utils/clock.js';

export type NeighborOutcome = 'accepted' | 'refused' | 'closed' | 'timeout' | 'cancelled';

interface Pending {
  timer: Scheduled;
  onEnd: (outcome: NeighborOutcome) => void;
}

export class NeighborAsks {
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  has(peerId: string): boolean {
    return this.#pending.has(peerId);
  }

  /**
   * Notes that a Neighbor went to `peerId` (the caller sent it); `onEnd` runs once it ends.
   * False, and nothing noted, when one is pending already.
   */
  add(peerId: string, onEnd: (outcome: NeighborOutcome) => void): boolean {
    if (this.#pending.has(peerId)) return false;
    const timer = this.clock.schedule(this.timeoutMs, () => this.settle(peerId, 'timeout'));
    this.#pending.set(peerId, { timer, onEnd });
    return true;
  }

  /** Ends the request to `peerId`; false when there was none. */
  settle(peerId: string, outcome: NeighborOutcome): boolean {
    const pending = this.#pending.get(peerId);
    if (!pending) return false;
    this.#pending.delete(peerId);
    pending.timer.cancel();
    pending.onEnd(outcome);
    return true;
  }

  cancelAll(): void {
    for (const peerId of [...this.#pending.keys()]) this.settle(peerId, 'cancelled');
  }
}
