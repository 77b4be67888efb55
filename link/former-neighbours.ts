/**
 * Peers that left the data set within the last `windowMs`: a Routed they sent before they
 * learned of it may still arrive after the close, and is kept (link/inbound.ts; the simulator
 * keeps the same rule). Bounded by the peers that can go down within the window: older entries
 * are swept at each insertion.
 */
import type { Clock } from '../utils/clock.js';

export class FormerNeighbours {
  /** Peer id -> when it left; insertion order is time order. */
  readonly #leftAt = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  /** The peer left the data set now. */
  note(peerId: string): void {
    const now = this.clock.now();
    for (const [id, at] of this.#leftAt) {
      if (now - at < this.windowMs) break;
      this.#leftAt.delete(id);
    }
    this.#leftAt.delete(peerId);
    this.#leftAt.set(peerId, now);
  }

  /** Whether the peer left the data set within the window. */
  has(peerId: string): boolean {
    const at = this.#leftAt.get(peerId);
    return at !== undefined && this.clock.now() - at <= this.windowMs;
  }
}
