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
import type { View } from './view.js';

/**
 * Prefixes already computed, by the object they belong to (a NodeInfo: its announced host; a
 * link's facts: the host it really comes from) and by `limitLoopback`. Neither kind of object is
 * ever changed, so each prefix is computed once, where the view checks read it at every message.
 */
const PREFIXES = new Map<boolean, WeakMap<object, string>>([
  [false, new WeakMap()],
  [true, new WeakMap()],
]);

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
    return this.#memo(link, link.remoteHost, link.peer.port);
  }

  /** The prefix of the host a gossiped node announces. */
  ofNode(node: NodeInfo): string {
    return this.#memo(node, node.host, node.port);
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
    const prefix = this.ofNode(node);
    let sharing = 0;
    for (const { info } of this.passive.values()) {
      if (this.ofNode(info) === prefix && ++sharing >= MAX_ACTIVE_PER_PREFIX) return true;
    }
    return false;
  }

  #activeCount(prefix: string): number {
    let count = 0;
    for (const { data } of this.active.values()) if (this.ofLink(data) === prefix) count++;
    return count;
  }

  #memo(owner: object, host: string, port: number): string {
    const known = PREFIXES.get(this.config.limitLoopback) as WeakMap<object, string>;
    let prefix = known.get(owner);
    if (prefix === undefined) {
      prefix = this.of(host, port);
      known.set(owner, prefix);
    }
    return prefix;
  }
}
