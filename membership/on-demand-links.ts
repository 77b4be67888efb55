/**
 * Connections opened on demand, for a strategy whose view is a list of addresses rather than of
 * open links (Cyclon). Synchronous: peers are ids, a dial is an output whose outcome the owner
 * hands back (`onDialOutcome`), and a send either goes on the open link or waits in a queue.
 *
 * - Reaching a peer: its open link, else the dial already in flight to its address, else a new
 *   dial, at most one per address (host and port, whatever id claims it) per round: a view
 *   stuffed with forged entries that all point at one victim dials it at most once per round.
 * - Keeping links: every link is tracked with the time it last carried something (a send through
 *   `send`, a message in through `touch`). At each round, a link this node dialled to a peer
 *   outside the view is closed once idle for `shortLivedIdleMs` (the dialler closes: the listener
 *   cannot see whether the dialler still sends data on it), and links outside the view beyond
 *   `maxSpareLinks` are closed, the least recently used first. Links to view members stay open.
 * - Sending: `send` uses the open link, or queues (at most `maxQueued` per peer, overflow dropped
 *   and counted) while one dial to the peer's address is in flight, and flushes in order once a
 *   link to the peer is up (`onLinkUp`, or the dial's outcome); the queue is dropped (counted)
 *   when the dial brings no link to the peer. While a peer has a queue every send joins it, so
 *   nothing overtakes what is already queued.
 *
 * Invariants: at most one dial in flight per address; a queue exists only for a peer with no
 * open link and a dial in flight to its address, and never holds more than `maxQueued`.
 */
import { formatAddress, type Address } from '../config.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import { DialLimit } from './dial-limit.js';
import { addressKey, addressOf } from './entries.js';
import type { LinkUp, MembershipContext } from './strategy.js';

export const ON_DEMAND_COUNTERS = [
  'onDemandDials',
  'onDemandDialFailures',
  'queuedDrops',
  'dialsLimited',
  'linksClosed',
] as const;
export type OnDemandCounter = (typeof ON_DEMAND_COUNTERS)[number];

export interface OnDemandOptions {
  context: MembershipContext;
  /** Dials an address for this module; the owner hands the outcome to `onDialOutcome`. */
  dial: (address: Address) => void;
  /** Whether a peer is in the owner's view: links to it stay open. */
  isInView: (id: string) => boolean;
  /** Links outside the view kept open at most. */
  maxSpareLinks: number;
  /** Envelopes that may wait for one peer's link. */
  maxQueued: number;
  /** Distinct addresses dialled per round; past it the limiter refuses (fails closed). */
  maxDialsPerRound: number;
}

/** What `reach` did: the peer is linked, a dial to its address is in flight, or none may start. */
export type Reach = 'linked' | 'dialing' | 'refused';

/** An open link as tracked here. */
interface TrackedLink {
  /** The peer's NodeInfo as it authenticated on the link. */
  peer: NodeInfo;
  role: 'dialer' | 'listener';
  /** When the link last carried something (or opened). */
  lastMs: number;
}

/** Envelopes waiting for a link to one peer. */
interface Queue {
  peer: NodeInfo;
  envelopes: Envelope[];
}

export class OnDemandLinks {
  readonly counters = Object.fromEntries(ON_DEMAND_COUNTERS.map((name) => [name, 0])) as Record<
    OnDemandCounter,
    number
  >;
  readonly #options: OnDemandOptions;
  readonly #ctx: MembershipContext;
  /** Every open link seen, by peer id. */
  readonly #links = new Map<string, TrackedLink>();
  readonly #dials: DialLimit;
  /** Dials in flight by address key, each with the ids of the peers whose queues wait on it. */
  readonly #inFlight = new Map<string, Set<string>>();
  readonly #queues = new Map<string, Queue>();
  #stopped = false;

  constructor(options: OnDemandOptions) {
    this.#options = options;
    this.#ctx = options.context;
    this.#dials = new DialLimit(this.#ctx.config.shuffleIntervalMs, options.maxDialsPerRound);
  }

  /** Open links tracked. */
  get size(): number {
    return this.#links.size;
  }

  /** The NodeInfo a linked peer authenticated with. */
  peerOf(id: string): NodeInfo | undefined {
    return this.#links.get(id)?.peer;
  }

  /** The length of every queue, for the invariant checks of tests. */
  queueLengths(): number[] {
    return [...this.#queues.values()].map((queue) => queue.envelopes.length);
  }

  onLinkUp({ peer, role }: LinkUp): void {
    if (this.#stopped) return;
    this.#links.set(peer.id, { peer, role, lastMs: this.#ctx.clock.now() });
    const queue = this.#queues.get(peer.id);
    if (queue) this.#settleQueue(queue);
  }

  onLinkDown(peerId: string): void {
    this.#links.delete(peerId);
  }

  /** The link to a peer carried something: the idle sweep leaves it alone for a while. */
  touch(peerId: string): void {
    const link = this.#links.get(peerId);
    if (link) link.lastMs = this.#ctx.clock.now();
  }

  /** Stops tracking a link the owner closes itself. */
  forget(peerId: string): void {
    this.#links.delete(peerId);
  }

  /** True when sent on the open link or queued for one; false when dropped. */
  send(peer: NodeInfo, envelope: Envelope): boolean {
    if (this.#stopped) return false;
    const queue = this.#queues.get(peer.id);
    if (queue) return this.#enqueue(queue, envelope);
    if (this.#ctx.isLinked(peer.id)) {
      this.touch(peer.id);
      return this.#ctx.send(peer.id, envelope);
    }
    this.counters.onDemandDials++;
    if (this.reach(peer) !== 'dialing') {
      this.counters.onDemandDialFailures++;
      this.#dropUndelivered(1);
      return false;
    }
    const fresh: Queue = { peer, envelopes: [] };
    this.#queues.set(peer.id, fresh);
    this.#inFlight.get(addressKey(peer))?.add(peer.id);
    return this.#enqueue(fresh, envelope);
  }

  /** The open link to `peer`, else the dial in flight to its address, else a limited new dial. */
  reach(peer: NodeInfo): Reach {
    if (this.#ctx.isLinked(peer.id)) return 'linked';
    if (this.#stopped) return 'refused';
    const key = addressKey(peer);
    if (this.#inFlight.has(key)) return 'dialing';
    if (!this.#dials.tryAcquire(key, this.#ctx.clock.now())) {
      this.counters.dialsLimited++;
      this.#ctx.countDrop('on-demand-dial-rate');
      return 'refused';
    }
    this.#inFlight.set(key, new Set());
    this.#options.dial(addressOf(peer));
    return 'dialing';
  }

  /**
   * The outcome of a dial made by `reach`: `peerId` is who answered there, undefined when nobody
   * did. Each queue waiting on it is flushed on the peer's link, if one is open now (a dial that
   * lost a simultaneous-dial contest leaves the peer's own link), else dropped and counted.
   */
  onDialOutcome(address: Address, peerId: string | undefined): void {
    const key = addressKey(address);
    const waiting = this.#inFlight.get(key);
    this.#inFlight.delete(key);
    for (const id of waiting ?? []) {
      const queue = this.#queues.get(id);
      if (!queue) continue;
      // Another node answers there now: the sweep closes that link once idle.
      if (peerId !== undefined && peerId !== id) this.#ctx.countDrop('on-demand-address-mismatch');
      this.#settleQueue(queue);
    }
  }

  /** Once per round: a new period for the dial limit, and the sweep of spare links. */
  onRound(): void {
    const now = this.#ctx.clock.now();
    this.#dials.prune(now);
    const { isInView, maxSpareLinks } = this.#options;
    const spare: Array<[string, number]> = [];
    for (const [id, link] of this.#links) {
      if (!this.#ctx.isLinked(id)) this.#links.delete(id);
      else if (isInView(id)) continue;
      else if (link.role === 'dialer' && now - link.lastMs >= this.#ctx.config.shortLivedIdleMs)
        this.#close(id);
      else spare.push([id, link.lastMs]);
    }
    const excess = spare.length - maxSpareLinks;
    if (excess <= 0) return;
    spare.sort((a, b) => a[1] - b[1]);
    for (const [id] of spare.slice(0, excess)) this.#close(id);
  }

  /** Sends `farewell` on every open link and forgets them; queues are dropped, later dials refused. */
  stop(farewell: Envelope): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const id of this.#links.keys()) if (this.#ctx.isLinked(id)) this.#ctx.send(id, farewell);
    this.#links.clear();
    for (const queue of this.#queues.values()) this.#dropUndelivered(queue.envelopes.length);
    this.#queues.clear();
    this.#inFlight.clear();
    this.#dials.clear();
  }

  #enqueue(queue: Queue, envelope: Envelope): boolean {
    if (queue.envelopes.length >= this.#options.maxQueued) {
      this.counters.queuedDrops++;
      this.#ctx.countDrop('on-demand-queue-full');
      return false;
    }
    queue.envelopes.push(envelope);
    return true;
  }

  /** The queue's wait is over: flushed in order on the peer's link, or dropped when there is none. */
  #settleQueue(queue: Queue): void {
    const { peer, envelopes } = queue;
    this.#queues.delete(peer.id);
    this.#inFlight.get(addressKey(peer))?.delete(peer.id);
    if (!this.#ctx.isLinked(peer.id)) {
      this.counters.onDemandDialFailures++;
      this.#dropUndelivered(envelopes.length);
      this.#ctx.log.debug(
        { peer: peer.id, address: formatAddress(addressOf(peer)) },
        'on-demand dial failed',
      );
      return;
    }
    this.touch(peer.id);
    for (const envelope of envelopes) {
      if (!this.#ctx.send(peer.id, envelope)) this.counters.queuedDrops++;
    }
  }

  #dropUndelivered(count: number): void {
    this.counters.queuedDrops += count;
    for (let i = 0; i < count; i++) this.#ctx.countDrop('on-demand-undelivered');
  }

  #close(id: string): void {
    this.#links.delete(id);
    this.counters.linksClosed++;
    this.#ctx.disconnect(id);
  }
}
