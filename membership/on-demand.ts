/**
 * Connections opened on demand, for a strategy whose view is a list of addresses rather than
 * of open links (Cyclon): `OnDemandLinks` reaches peers and keeps the set of open links
 * bounded, and an `OnDemandPeer` is what the router sends to for one view entry.
 *
 * - Reaching a peer: its open link, else the dial already in flight to its address, else a new
 *   dial, at most one per address (host and port, whatever id claims it) per round: a view
 *   stuffed with forged entries that all point at one victim dials it at most once per round.
 * - Keeping links: every link is tracked with the time it last carried something. At each round,
 *   a link this node dialled to a peer outside the view is closed once idle for
 *   `shortLivedIdleMs` (the dialler closes: the listener cannot see whether the dialler still
 *   sends data on it), and links outside the view beyond `maxSpareLinks` are closed, the least
 *   recently used first. Links to view members stay open.
 * - Sending: `OnDemandPeer.send` uses the open link, or queues (at most `maxQueued` per peer,
 *   overflow dropped and counted) while one dial is in flight, and flushes in order once the
 *   link is up; the queue is dropped (counted) when no link comes. While a dial is in flight
 *   every send queues, so nothing overtakes what is already queued.
 */
import type { Envelope, ErrorCodeName, NodeInfo } from '../proto/messages.js';
import { DialLimit } from './dial-limit.js';
import { addressKey, addressOf } from './entries.js';
import type { MembershipContext, PeerLink } from './legacy-strategy.js';

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
  /** Whether a peer is in the owner's view: links to it stay open. */
  isInView: (id: string) => boolean;
  /** Links outside the view kept open at most. */
  maxSpareLinks: number;
  /** Envelopes that may wait for one peer's link. */
  maxQueued: number;
  /** Distinct addresses dialled per round; past it the limiter refuses (fails closed). */
  maxDialsPerRound: number;
}

export class OnDemandLinks {
  readonly counters = Object.fromEntries(ON_DEMAND_COUNTERS.map((name) => [name, 0])) as Record<
    OnDemandCounter,
    number
  >;
  readonly #options: OnDemandOptions;
  readonly #ctx: MembershipContext;
  /** Every open link seen, with the time it last carried something. */
  readonly #links = new Map<PeerLink, number>();
  readonly #dials: DialLimit;
  /** Dials in flight by address; bounded by the dial limit of the round. */
  readonly #inFlight = new Map<string, Promise<PeerLink | undefined>>();
  #stopped = false;

  constructor(options: OnDemandOptions) {
    this.#options = options;
    this.#ctx = options.context;
    this.#dials = new DialLimit(this.#ctx.config.shuffleIntervalMs, options.maxDialsPerRound);
  }

  get size(): number {
    return this.#links.size;
  }

  get maxQueued(): number {
    return this.#options.maxQueued;
  }

  get context(): MembershipContext {
    return this.#ctx;
  }

  peer(info: NodeInfo): OnDemandPeer {
    return new OnDemandPeer(info, this);
  }

  count(counter: OnDemandCounter, by = 1): void {
    this.counters[counter] += by;
  }

  /** A link carried something (or just opened): the idle sweep leaves it alone for a while. */
  touch(link: PeerLink): void {
    if (!this.#stopped && link.isOpen) this.#links.set(link, this.#ctx.clock.now());
  }

  forget(link: PeerLink): void {
    this.#links.delete(link);
  }

  replace(previous: PeerLink, next: PeerLink): void {
    this.#links.delete(previous);
    this.touch(next);
  }

  /** The open link to `peer`, else the dial in flight to its address, else a limited new dial. */
  reach(peer: NodeInfo): Promise<PeerLink | undefined> {
    const open = this.#ctx.linkTo(peer.id);
    if (open?.isOpen) return Promise.resolve(open);
    const key = addressKey(peer);
    const inFlight = this.#inFlight.get(key);
    if (inFlight) return inFlight.then((link) => (link?.id === peer.id ? link : undefined));
    if (this.#stopped) return Promise.resolve(undefined);
    if (!this.#dials.tryAcquire(key, this.#ctx.clock.now())) {
      this.counters.dialsLimited++;
      this.#ctx.countDrop('on-demand-dial-rate');
      return Promise.resolve(undefined);
    }
    const dial = this.#dial(peer).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, dial);
    return dial;
  }

  /** Once per round: a new period for the dial limit, and the sweep of spare links. */
  onRound(): void {
    const now = this.#ctx.clock.now();
    this.#dials.prune(now);
    const { isInView, maxSpareLinks } = this.#options;
    const spare: Array<[PeerLink, number]> = [];
    for (const [link, lastMs] of this.#links) {
      if (!link.isOpen) this.#links.delete(link);
      else if (isInView(link.id)) continue;
      else if (link.role === 'dialer' && now - lastMs >= this.#ctx.config.shortLivedIdleMs) this.#close(link);
      else spare.push([link, lastMs]);
    }
    const excess = spare.length - maxSpareLinks;
    if (excess <= 0) return;
    spare.sort((a, b) => a[1] - b[1]);
    for (const [link] of spare.slice(0, excess)) this.#close(link);
  }

  /** Sends `farewell` on every open link and forgets them; later dials fail. */
  stop(farewell: Envelope): void {
    this.#stopped = true;
    for (const link of this.#links.keys()) if (link.isOpen) link.send(farewell);
    this.#links.clear();
    this.#dials.clear();
  }

  async #dial(peer: NodeInfo): Promise<PeerLink | undefined> {
    // A dial that lost a simultaneous-dial contest (docs/protocol.md section 3) leaves the
    // peer's link.
    const link = (await this.#ctx.connect(addressOf(peer))) ?? this.#ctx.linkTo(peer.id);
    if (this.#stopped || !link?.isOpen) return undefined;
    if (link.id !== peer.id) {
      // Another node answers there now: the sweep closes that link once idle.
      this.#ctx.countDrop('on-demand-address-mismatch');
      return undefined;
    }
    return link;
  }

  #close(link: PeerLink): void {
    this.#links.delete(link);
    this.counters.linksClosed++;
    link.close();
  }
}

/**
 * One view entry as a `PeerLink`: `peerUp` reports it, and the router sends to it, without a
 * connection necessarily being open. It accepts sends until `retire`d (the entry left the view).
 */
export class OnDemandPeer implements PeerLink {
  readonly role = 'dialer';
  readonly #links: OnDemandLinks;
  readonly #queue: Envelope[] = [];
  /** The link our own dial returned, used when the node has no other link to the peer. */
  #link: PeerLink | undefined;
  #dialing = false;
  #retired = false;

  constructor(
    readonly peer: NodeInfo,
    links: OnDemandLinks,
  ) {
    this.#links = links;
  }

  get id(): string {
    return this.peer.id;
  }

  get isOpen(): boolean {
    return !this.#retired;
  }

  /** True when sent on an open link or queued for one; false when dropped. */
  send(envelope: Envelope): boolean {
    if (this.#retired) return false;
    const link = this.#dialing ? undefined : this.#openLink();
    if (link) {
      this.#links.touch(link);
      return link.send(envelope);
    }
    if (this.#queue.length >= this.#links.maxQueued) {
      this.#links.count('queuedDrops');
      this.#links.context.countDrop('on-demand-queue-full');
      return false;
    }
    this.#queue.push(envelope);
    if (!this.#dialing) void this.#dial();
    return true;
  }

  /** Closes the connection to the peer, if one is open; the entry itself stays usable. */
  close(code?: ErrorCodeName, reason?: string): void {
    this.#openLink()?.close(code, reason);
  }

  /**
   * The entry left the view (or the node stopped): later sends fail. What was queued while it
   * was a view member still goes out if the dial in flight succeeds (late beats lost), and is
   * dropped (counted) if it fails; every dial fails once the owner stopped.
   */
  retire(): void {
    this.#retired = true;
  }

  #openLink(): PeerLink | undefined {
    const known = this.#links.context.linkTo(this.id);
    if (known?.isOpen) return known;
    return this.#link?.isOpen ? this.#link : undefined;
  }

  async #dial(): Promise<void> {
    this.#dialing = true;
    this.#links.count('onDemandDials');
    let link: PeerLink | undefined;
    try {
      link = await this.#links.reach(this.peer);
    } catch {
      link = undefined;
    } finally {
      this.#dialing = false;
    }
    if (!link?.isOpen || link.id !== this.id) {
      this.#links.count('onDemandDialFailures');
      this.#links.count('queuedDrops', this.#queue.length);
      for (const _ of this.#queue.splice(0)) this.#links.context.countDrop('on-demand-undelivered');
      return;
    }
    if (!this.#retired) this.#link = link;
    this.#links.touch(link);
    for (const envelope of this.#queue.splice(0)) {
      if (!link.send(envelope)) this.#links.count('queuedDrops');
    }
  }
}
