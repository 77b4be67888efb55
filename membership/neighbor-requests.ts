/**
 * Neighbor requests this node sent and that await their NeighborReply, keyed by link object
 * (a link to the same peer opened later is another request).
 *
 * Bounded in time: a request not answered within `timeoutMs` is settled as `timeout` (the
 * owner then closes the link). Bounded in number by the owner, which dials for at most a
 * few requests at once.
 */
import type { Clock, Scheduled } from '../utils/clock.js';
import type { PeerLink } from './legacy-strategy.js';

/** How a request ended: answered, or the link closed, or no answer in time, or the node stopped. */
export type NeighborOutcome = 'accepted' | 'refused' | 'closed' | 'timeout' | 'cancelled';

interface Pending {
  /** The link the request now rides on (changes when a duplicate connection replaces it). */
  link: PeerLink;
  promise: Promise<NeighborOutcome>;
  resolve: (outcome: NeighborOutcome) => void;
  timer: Scheduled;
}

export class NeighborRequests {
  readonly #pending = new Map<PeerLink, Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onTimeout: (link: PeerLink) => void,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  has(link: PeerLink): boolean {
    return this.#pending.has(link);
  }

  /**
   * Registers that `link` awaits a NeighborReply (the caller has sent the Neighbor) and
   * resolves with how it ended. Registering the same link twice returns the same promise.
   */
  wait(link: PeerLink): Promise<NeighborOutcome> {
    const existing = this.#pending.get(link);
    if (existing) return existing.promise;
    let resolve: (outcome: NeighborOutcome) => void = () => undefined;
    const promise = new Promise<NeighborOutcome>((r) => (resolve = r));
    const pending: Pending = { link, promise, resolve, timer: { cancel: () => undefined } };
    pending.timer = this.clock.schedule(this.timeoutMs, () => {
      const current = pending.link;
      if (this.settle(current, 'timeout')) this.onTimeout(current);
    });
    this.#pending.set(link, pending);
    return promise;
  }

  /** Ends the request on `link`; false when there was none. */
  settle(link: PeerLink, outcome: NeighborOutcome): boolean {
    const pending = this.#pending.get(link);
    if (!pending) return false;
    this.#pending.delete(link);
    pending.timer.cancel();
    pending.resolve(outcome);
    return true;
  }

  /** A duplicate-connection winner carries on the request of the loser. */
  move(previous: PeerLink, next: PeerLink): void {
    const pending = this.#pending.get(previous);
    if (!pending || this.#pending.has(next)) return;
    this.#pending.delete(previous);
    pending.link = next;
    this.#pending.set(next, pending);
  }

  cancelAll(): void {
    for (const link of [...this.#pending.keys()]) this.settle(link, 'cancelled');
  }
}
