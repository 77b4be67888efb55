/**
 * Routes to origins for direct messages (docs/protocol.md section 5): every accepted message teaches
 * "its origin is reachable via the neighbour it came from, in `hops` hops". But `hops` is not
 * signed, so a claim is only a claim: a neighbour that replays seen bytes with `hops = 1` would
 * become the route to their origin and could swallow every direct message to it. Hence:
 *
 * - A route is *confirmed* once a Receipt proves that a Text sent along it arrived (at the
 *   sender, or at a relay the Receipt passes back through). A claim through another neighbour
 *   never displaces a confirmed route, however short; only the loss of its link or its age does.
 * - An unconfirmed route is the shortest fresh claim: a shorter one replaces it, news through the
 *   same neighbour refreshes it, and one not refreshed within `staleMs` yields to any newer one.
 * - A route that fails (a Text sent along it got no Receipt in time) is forgotten, and its
 *   neighbour's claims for that destination are ignored for `ttlMs`; the sender floods instead.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from './utils/clock.js';
import { lruOptions } from './utils/lru.js';

export interface Route {
  readonly via: string;
  readonly hops: number;
  readonly learnedAtMs: number;
  readonly isConfirmed: boolean;
}

export interface RouteTableOptions {
  readonly selfId: string;
  /** Routes kept, one per origin; also the bound of the neighbours distrusted. */
  readonly entries: number;
  /** A route, and a distrust, is forgotten after this long. */
  readonly ttlMs: number;
  /** An unconfirmed route not refreshed for this long yields to any newer claim. */
  readonly staleMs: number;
  readonly clock: Clock;
}

export class RouteTable {
  readonly #options: RouteTableOptions;
  readonly #routes: LRUCache<string, Route>;
  /**
   * `origin id \n neighbour id` of routes that failed: that neighbour's claims are ignored. Made
   * at the first failure: most nodes never see one, and an empty cache costs 2 KB a node.
   */
  #distrusted: LRUCache<string, true> | undefined;

  constructor(options: RouteTableOptions) {
    this.#options = options;
    const bounds = { entries: options.entries, ttlMs: options.ttlMs, clock: options.clock };
    this.#routes = new LRUCache(lruOptions(bounds));
  }

  get(originId: string): Route | undefined {
    return this.#routes.get(originId);
  }

  /** A copy of a message of `originId` came from `via`, having crossed `hops` links. */
  learn(originId: string, via: string, hops: number): void {
    if (originId === this.#options.selfId) return;
    const now = this.#options.clock.now();
    const known = this.#routes.get(originId);
    if (known?.via === via) {
      this.#routes.set(originId, { via, hops, learnedAtMs: now, isConfirmed: known.isConfirmed });
      return;
    }
    if (known?.isConfirmed) return;
    const isStale = known !== undefined && now - known.learnedAtMs > this.#options.staleMs;
    if (known && hops >= known.hops && !isStale) return;
    // Looked up last: most copies refresh a route or lose to it, and nobody is distrusted.
    if (this.#distrusted?.has(pairKey(originId, via))) return;
    this.#routes.set(originId, { via, hops, learnedAtMs: now, isConfirmed: false });
  }

  /** A Receipt proved that a Text to `originId` sent through `via` arrived. */
  confirm(originId: string, via: string): void {
    const known = this.#routes.get(originId);
    if (known?.via === via && !known.isConfirmed) this.#routes.set(originId, { ...known, isConfirmed: true });
  }

  /** A Text to `originId` sent through `via` got no Receipt in time. */
  fail(originId: string, via: string): void {
    const { entries, ttlMs, clock } = this.#options;
    this.#distrusted ??= new LRUCache(lruOptions({ entries, ttlMs, clock }));
    this.#distrusted.set(pairKey(originId, via), true);
    if (this.#routes.get(originId)?.via === via) this.#routes.delete(originId);
  }

  /** The link to `peerId` is gone: so are the routes through it. */
  forgetVia(peerId: string): void {
    // Collected first: deleting from an lru-cache while iterating it is not safe.
    const dead = [...this.#routes.entries()].filter(([, route]) => route.via === peerId);
    for (const [originId] of dead) this.#routes.delete(originId);
  }

  entries(): Array<[string, Route]> {
    return [...this.#routes.entries()];
  }
}

function pairKey(originId: string, via: string): string {
  return `${originId}\n${via}`;
}
