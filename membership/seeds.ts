/**
 * The contacts a strategy joins through (docs/protocol.md section 4): tried in order, retried while
 * the view is empty, and extended at runtime by `/connect`.
 */
import { formatAddress, type Address } from '../config.js';
import type { Logger } from '../utils/logger.js';
import type { MembershipContext, PeerLink } from './legacy-strategy.js';

export class Seeds {
  #list: readonly Address[] = [];

  constructor(
    private readonly context: MembershipContext,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.#list.length;
  }

  replace(seeds: readonly Address[]): void {
    this.#list = [...seeds];
  }

  /** Adds a contact at the end, unless it is already one. */
  add(contact: Address): void {
    const key = formatAddress(contact);
    if (!this.#list.some((seed) => formatAddress(seed) === key)) this.#list = [...this.#list, contact];
  }

  /** Dials a seed: its link, or undefined (with a warning) when nobody answers or it is this node. */
  async dial(seed: Address): Promise<PeerLink | undefined> {
    const link = await this.context.connect(seed);
    if (link && link.id !== this.context.self.id) return link;
    this.log.warn({ seed: formatAddress(seed) }, 'seed unreachable, trying the next');
    return undefined;
  }

  /** Seeds in order until `joinVia` succeeds; false when none did or the strategy stopped. */
  async joinFirst(joinVia: (seed: Address) => Promise<boolean>, isStopped: () => boolean): Promise<boolean> {
    for (const seed of this.#list) {
      if (await joinVia(seed)) return true;
      if (isStopped()) return false;
    }
    return false;
  }
}
