/**
 * HyParView's per-prefix rules over its two views (eviction-limit.ts says why): whether a
 * newcomer that asked to be a neighbour may enter, possibly by evicting, and whether a view holds
 * all it may of one address prefix already. A peer's prefix is that of the host its link really
 * comes from; a gossiped node's, that of the host it announces.
 */
import type { NodeConfig } from '../config.js';
import type { NodeInfo } from '../proto/messages.js';
import { addressPrefix, EvictionLimit, MAX_ACTIVE_PER_PREFIX } from './eviction-limit.js';
import type { ActivePeer, Counters, LinkFacts, PassivePeer } from './hyparview-state.js';
import type { View, ViewEntry } from './view.js';

/**
 * How the two views count their entries by prefix (View's `groupOf`), so that a rule reads a
 * count instead of walking a view: an active entry by the host its link really comes from, a
 * passive one by the host it announces.
 */
export function prefixGroups(config: Pick<NodeConfig, 'limitLoopback'>): {
  active: (entry: ViewEntry<ActivePeer>) => string;
  passive: (entry: ViewEntry<PassivePeer>) => string;
} {
  const { limitLoopback } = config;
  return {
    active: ({ data }) => addressPrefix(data.remoteHost, data.peer.port, limitLoopback),
    passive: ({ info }) => addressPrefix(info.host, info.port, limitLoopback),
  };
}

/** A prefix may evict once per this fraction of a shuffle period (eviction-limit.ts). */
const EVICTION_PERIODS_PER_SHUFFLE = 10;

export class PrefixRules {
  readonly #evictions: EvictionLimit;

  constructor(
    private readonly active: View<ActivePeer>,
    private readonly passive: View<PassivePeer>,
    private readonly config: NodeConfig,
    private readonly counters: Counters,
  ) {
    this.#evictions = new EvictionLimit(config.shuffleIntervalMs / EVICTION_PERIODS_PER_SHUFFLE);
  }

  /** The prefix of the host a link really comes from (its announced host only claims it). */
  ofLink(link: LinkFacts): string {
    return this.of(link.remoteHost, link.peer.port);
  }

  /** The prefix of the host a gossiped node announces. */
  ofNode(node: NodeInfo): string {
    return this.of(node.host, node.port);
  }

  of(host: string, port: number): string {
    return addressPrefix(host, port, this.config.limitLoopback);
  }

  /**
   * Whether a newcomer from `prefix` that asked to be a neighbour may enter now
   * (eviction-limit.ts): already active, or its prefix holds fewer than MAX_ACTIVE_PER_PREFIX
   * entries and there is room, or (when `mayEvict`) the prefix may evict. Counts what the
   * prefix rules refused; a plain lack of room is no refusal of theirs.
   */
  mayAdmit(prefix: string, id: string, mayEvict: boolean, nowMs: number): boolean {
    if (this.active.has(id)) return true;
    if (this.#activeCount(prefix) < MAX_ACTIVE_PER_PREFIX) {
      if (!this.active.isFull) return true;
      if (!mayEvict) return false;
      if (this.#evictions.mayEvict(prefix, nowMs)) return true;
    }
    this.counters.admissionsLimited++;
    return false;
  }

  /** A member was evicted to make room for a newcomer of `prefix`. */
  noteEviction(prefix: string, nowMs: number): void {
    this.#evictions.noteEviction(prefix, nowMs);
  }

  /** Whether the active view holds MAX_ACTIVE_PER_PREFIX entries of the node's prefix already. */
  isActiveCrowded(node: NodeInfo): boolean {
    return this.#activeCount(this.ofNode(node)) >= MAX_ACTIVE_PER_PREFIX;
  }

  /** Whether the passive view holds MAX_ACTIVE_PER_PREFIX entries of the node's prefix already. */
  isPassiveCrowded(node: NodeInfo): boolean {
    return this.passive.countIn(this.ofNode(node)) >= MAX_ACTIVE_PER_PREFIX;
  }

  #activeCount(prefix: string): number {
    return this.active.countIn(prefix);
  }
}
