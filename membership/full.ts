/**
 * `full` membership: the naive design written first, kept as the lab's baseline. Every node
 * remembers every address it hears of, gossips all of them to its neighbours every round, and
 * keeps connections to a few random known nodes. Messages are those of docs/protocol.md section 4.
 *
 * - Known addresses and gossip (full-gossip.ts): at most `fullMaxKnown`, the first learned
 *   forgotten first; every round (`shuffleIntervalMs`, +-25%) each neighbour gets the node
 *   itself and all it knows, in ShuffleReply messages of at most `maxEntriesPerMessage`
 *   entries, a bounded number per round. Gossip is accepted from neighbours only.
 * - Neighbours: `fullDegree` outbound links (a Join to a seed, or Neighbor{high_priority:false}
 *   accepted by the peer), and inbound ones accepted from anyone up to 4 * fullDegree, so the
 *   degree stays bounded. Both sides list the link: the active view is symmetric.
 * - Failures: a closed link drops the neighbour and keeps its address. The naive design never
 *   forgets a dead address except by the bound (or a graceful Leave, docs/protocol.md section 6),
 *   so after a mass failure it keeps dialling the dead: the lab measures that. The Healer dials
 *   random known addresses, one attempt at a time, with jittered backoff after failures.
 * - Join: dial the seed and send Join. The seed gossips what it knows at once, and keeps the
 *   joiner as an inbound neighbour while it has room, else closes the link after the gossip.
 * - Dials to known addresses go through a DialLimit: one per address (host and port, whatever id
 *   claims it) per round, so a forged list naming one victim many times dials it once a round.
 *
 * `views().passive` lists the known addresses that are not neighbours, truncated to the first
 * 100 for display; `stats().known` gives the full count.
 */
import { type Address, type NodeConfig } from '../config.js';
import { nodeInfoProblem } from '../crypto/identity.js';
import type { Envelope, NodeInfo, PeerEntry } from '../proto/messages.js';
import { Timer } from '../utils/clock.js';
import type { Logger } from '../utils/logger.js';
import { DialLimit } from './dial-limit.js';
import { addressKey, addressOf, isOverEntryLimit, peerFields } from './entries.js';
import { KnownAddresses } from './full-gossip.js';
import { Seeds } from './seeds.js';
import { Healer, type AttemptOutcome } from './healing.js';
import { NeighborRequests, type NeighborOutcome } from './neighbor-requests.js';
import {
  DOWN_REASONS,
  type DataPeer,
  type LinkCloseReason,
  type MembershipContext,
  type MembershipFactory,
  type MembershipMessage,
  type MembershipStrategy,
  type PeerDownReason,
  type PeerLink,
  type Views,
} from './legacy-strategy.js';
import { View } from './view.js';

/** Inbound neighbours accepted, as a multiple of fullDegree. */
const INBOUND_FACTOR = 4;
/** Random known addresses looked at per repair attempt for one not dialled this round. */
const DIAL_CANDIDATES = 8;
/** Distinct addresses the dial limit remembers per round; past it, dials wait (fail closed). */
const MAX_DIALS_PER_ROUND = 256;

const COUNTERS = [
  'joins',
  'joinsSent',
  'joinsRefused',
  'neighborRequests',
  'neighborAccepted',
  'neighborRefused',
  'neighborRequestsSent',
  'neighborAcceptedByPeer',
  'neighborRefusedByPeer',
  'failuresDetected',
  'healingAttempts',
  'dialsLimited',
  'leavesReceived',
  'disconnectsReceived',
] as const;
type Counter = (typeof COUNTERS)[number];

interface Neighbour {
  /** The one link the peer is reached by; `isDataLink` compares link objects with it. */
  link: PeerLink;
  /** Dialled by this node: counts against fullDegree, else against the inbound cap. */
  outbound: boolean;
}

export class FullMembership implements MembershipStrategy {
  readonly name = 'full';
  readonly #ctx: MembershipContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #known: KnownAddresses;
  readonly #neighbours: View<Neighbour>;
  readonly #requests: NeighborRequests;
  readonly #healer: Healer;
  readonly #roundTimer: Timer;
  readonly #dials: DialLimit;
  readonly #counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>;
  readonly #joinedLinks = new WeakSet<PeerLink>();
  #state: 'new' | 'running' | 'stopped' = 'new';
  readonly #seeds: Seeds;
  #seedTurn = 0;

  constructor(context: MembershipContext) {
    const { config, clock, random, self } = context;
    this.#ctx = context;
    this.#config = config;
    this.#log = context.log.child({ component: 'full' });
    this.#seeds = new Seeds(context, this.#log);
    this.#known = new KnownAddresses(context);
    this.#neighbours = new View(config.fullDegree * (1 + INBOUND_FACTOR), self.id);
    this.#requests = new NeighborRequests(clock, config.shortLivedIdleMs, (link) =>
      this.#maybeCloseShortLived(link),
    );
    this.#healer = new Healer({
      clock,
      random,
      baseBackoffMs: config.retryBaseBackoffMs,
      maxBackoffMs: config.retryMaxBackoffMs,
      shouldHeal: () => this.#state === 'running' && this.#outbound() < config.fullDegree,
      attempt: () => this.#healOnce(),
    });
    this.#roundTimer = new Timer(clock, () => this.#onRound());
    this.#dials = new DialLimit(config.shuffleIntervalMs, MAX_DIALS_PER_ROUND);
  }

  // --- lifecycle ------------------------------------------------------------------------

  start(seeds: readonly Address[]): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#seeds.replace(seeds);
    this.#armRound();
    this.#healer.maybeHeal();
  }

  join(contact: Address): void {
    if (this.#state !== 'running') return;
    this.#seeds.add(contact);
    void this.#background(this.#joinVia(contact), 'join');
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#roundTimer.stop();
    this.#healer.stop();
    this.#requests.cancelAll();
    this.#dials.clear();
    for (const { data } of this.#neighbours.entries()) data.link.send({ leave: {} });
    this.#neighbours.clear();
    this.#known.clear();
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  // --- node callbacks -------------------------------------------------------------------

  onLinkReady(): void {}

  onMessage(link: PeerLink, message: MembershipMessage): void {
    if (this.#stopped) return;
    switch (message.kind) {
      case 'join':
        return this.#onJoin(link);
      case 'neighbor':
        return this.#onNeighbor(link);
      case 'neighborReply':
        return this.#onNeighborReply(link, message.body.accepted);
      case 'shuffleReply':
        return this.#onGossip(link, message.body.entries);
      case 'disconnect':
        return this.#onDisconnect(link);
      case 'leave':
        return this.#onLeave(link);
      default:
        // No random walks here: ForwardJoin and Shuffle are HyParView's.
        this.#ctx.countDrop(`full-ignored-${message.kind}`);
    }
  }

  /** The neighbour goes, its address stays: the naive design does not learn from failures. */
  onLinkClosed(link: PeerLink, reason: LinkCloseReason): void {
    if (this.#stopped) return;
    this.#requests.settle(link, 'closed');
    this.#known.onLinkClosed(link);
    if (!this.isDataLink(link)) return;
    this.#removeNeighbour(link.id, DOWN_REASONS[reason]);
    this.#counters.failuresDetected++;
    this.#healer.maybeHeal();
  }

  onLinkReplaced(previous: PeerLink, next: PeerLink): void {
    if (this.#stopped) return;
    const entry = this.#neighbours.get(previous.id);
    if (entry && entry.data.link === previous) {
      this.#neighbours.update(previous.id, { ...entry.data, link: next }, next.peer);
    }
    this.#requests.move(previous, next);
  }

  // --- queries --------------------------------------------------------------------------

  isDataLink(link: PeerLink): boolean {
    return this.#neighbours.get(link.id)?.data.link === link;
  }

  dataPeers(): DataPeer[] {
    return this.#neighbours.entries().map((entry) => entry.data.link);
  }

  views(): Views {
    const passive = this.#known.forDisplay((id) => this.#neighbours.has(id));
    return { active: this.#neighbours.infos(), passive };
  }

  stats(): Record<string, number> {
    const outbound = this.#outbound();
    return {
      ...this.#counters,
      ...this.#known.counters,
      neighbours: this.#neighbours.size,
      outbound,
      inbound: this.#neighbours.size - outbound,
      known: this.#known.size,
      healingBackoffMs: this.#healer.backoffMs,
    };
  }

  // --- gossip -------------------------------------------------------------------------

  #armRound(): void {
    const jitter = 0.75 + 0.5 * this.#ctx.random.float();
    this.#roundTimer.start(this.#config.shuffleIntervalMs * jitter);
  }

  #onRound(): void {
    if (this.#state !== 'running') return;
    this.#dials.prune(this.#ctx.clock.now());
    const gossip = this.#known.nextRound();
    for (const { data } of this.#neighbours.entries()) this.#known.sendTo(data.link, gossip);
    this.#healer.maybeHeal();
    this.#armRound();
  }

  #onGossip(link: PeerLink, entries: readonly PeerEntry[]): void {
    if (isOverEntryLimit(this.#ctx, link, entries, 'shuffleReply')) return;
    if (!this.isDataLink(link)) return this.#ctx.countDrop('gossip-not-neighbor');
    if (this.#known.receive(link, entries) > 0) this.#healer.maybeHeal();
  }

  // --- neighbours -----------------------------------------------------------------------

  /** The seed's side of a join: it learns the joiner, keeps it if there is room, and gossips. */
  #onJoin(link: PeerLink): void {
    if (this.#joinedLinks.has(link)) return this.#ctx.countDrop('join-duplicate');
    this.#joinedLinks.add(link);
    this.#counters.joins++;
    if (link.peer.port !== 0) this.#known.learn(link.peer);
    const admitted = this.#addNeighbour(link, false);
    this.#known.sendTo(link, this.#known.window().infos);
    if (admitted) return;
    // Full: the gossip is flushed before the close, and the joiner dials others it learned.
    this.#counters.joinsRefused++;
    this.#ctx.countDrop('join-refused');
    link.close();
  }

  #onNeighbor(link: PeerLink): void {
    this.#counters.neighborRequests++;
    if (link.peer.port !== 0) this.#known.learn(link.peer);
    const accepted: Envelope = { neighborReply: { accepted: true } };
    if (this.isDataLink(link)) {
      link.send(accepted);
      return;
    }
    // The reply goes out before peerUp, so that no routed data overtakes it on the link.
    if (this.#addNeighbour(link, false, accepted)) {
      this.#counters.neighborAccepted++;
      return;
    }
    // Refused: the requester closes (or the node's idle close does).
    this.#counters.neighborRefused++;
    link.send({ neighborReply: { accepted: false } });
  }

  #onNeighborReply(link: PeerLink, accepted: boolean): void {
    if (!this.#requests.has(link)) return this.#ctx.countDrop('neighborReply-unsolicited');
    if (accepted) this.#counters.neighborAcceptedByPeer++;
    else this.#counters.neighborRefusedByPeer++;
    // An acceptance we cannot honour any more (outbound filled meanwhile) ends in a close,
    // which takes us out of the peer's view too: the views stay symmetric.
    const added = accepted && this.#addNeighbour(link, true);
    this.#requests.settle(link, added ? 'accepted' : 'refused');
    if (!added) this.#maybeCloseShortLived(link);
  }

  #onDisconnect(link: PeerLink): void {
    this.#counters.disconnectsReceived++;
    if (this.isDataLink(link)) {
      this.#removeNeighbour(link.id, 'disconnect');
      this.#healer.maybeHeal();
    }
    link.close();
  }

  /** A graceful exit: the peer is forgotten (until someone gossips it again). */
  #onLeave(link: PeerLink): void {
    this.#counters.leavesReceived++;
    this.#removeNeighbour(link.id, 'leave');
    this.#known.forget(link.id);
    link.close();
    this.#healer.maybeHeal();
  }

  /**
   * Makes `link` a neighbour within the cap of its direction, sends `greeting` (before peer-up)
   * and reports peer-up. Already a neighbour: true, the link object refreshed, no event.
   */
  #addNeighbour(link: PeerLink, outbound: boolean, greeting?: Envelope): boolean {
    if (link.id === this.#ctx.self.id || nodeInfoProblem(link.peer) !== undefined) return false;
    const existing = this.#neighbours.get(link.id);
    if (existing) {
      if (existing.data.link !== link)
        this.#neighbours.update(link.id, { ...existing.data, link }, link.peer);
      if (greeting) link.send(greeting);
      return true;
    }
    const { fullDegree } = this.#config;
    const outboundNow = this.#outbound();
    const isRoom = outbound
      ? outboundNow < fullDegree
      : this.#neighbours.size - outboundNow < fullDegree * INBOUND_FACTOR;
    if (!isRoom || this.#neighbours.add(link.peer, { link, outbound }) !== 'added') return false;
    if (greeting) link.send(greeting);
    this.#log.debug({ ...peerFields(link.peer), outbound }, 'neighbour added');
    this.#ctx.peerUp(link);
    return true;
  }

  #removeNeighbour(id: string, reason: PeerDownReason): void {
    const entry = this.#neighbours.remove(id);
    if (!entry) return;
    this.#log.debug({ ...peerFields(entry.info), reason }, 'neighbour removed');
    this.#ctx.peerDown(entry.info, reason);
  }

  #outbound(): number {
    return this.#neighbours.entries().filter((entry) => entry.data.outbound).length;
  }

  // --- repair ---------------------------------------------------------------------------

  /**
   * One repair attempt: a random known address not dialled this round, or, while there is no
   * neighbour at all, the seeds (every other attempt when addresses are known, else always).
   */
  async #healOnce(): Promise<AttemptOutcome> {
    const useSeeds =
      this.#neighbours.size === 0 &&
      this.#seeds.size > 0 &&
      (this.#known.size === 0 || this.#seedTurn++ % 2 === 1);
    if (useSeeds) {
      this.#counters.healingAttempts++;
      return (await this.#joinThroughSeeds()) ? 'success' : 'failure';
    }
    const candidate = this.#pickCandidate();
    if (!candidate) return 'idle';
    this.#counters.healingAttempts++;
    return this.#tryKnown(candidate);
  }

  #pickCandidate(): NodeInfo | undefined {
    const now = this.#ctx.clock.now();
    for (const info of this.#known.sample(DIAL_CANDIDATES)) {
      if (this.#neighbours.has(info.id)) continue;
      if (this.#dials.tryAcquire(addressKey(info), now)) return info;
      this.#counters.dialsLimited++;
    }
    return undefined;
  }

  async #tryKnown(info: NodeInfo): Promise<AttemptOutcome> {
    const link = await this.#ctx.connect(addressOf(info));
    if (this.#stopped) return 'idle';
    if (!link) return 'failure';
    if (link.id !== info.id) {
      // Someone else answers there now; the naive design keeps the stale address anyway.
      this.#ctx.countDrop('full-address-mismatch');
      this.#maybeCloseShortLived(link);
      return 'failure';
    }
    if (this.#neighbours.has(link.id)) return 'success';
    if (this.#outbound() >= this.#config.fullDegree) {
      this.#maybeCloseShortLived(link);
      return 'success';
    }
    const outcome = await this.#requestNeighbor(link);
    if (outcome === 'cancelled') return 'idle';
    return outcome === 'accepted' ? 'success' : 'failure';
  }

  #requestNeighbor(link: PeerLink): Promise<NeighborOutcome> {
    if (this.#requests.has(link)) return this.#requests.wait(link);
    if (!link.send({ neighbor: { highPriority: false } })) return Promise.resolve('closed');
    this.#counters.neighborRequestsSent++;
    return this.#requests.wait(link);
  }

  #joinThroughSeeds(): Promise<boolean> {
    return this.#seeds.joinFirst(
      (seed) => this.#joinVia(seed),
      () => this.#stopped,
    );
  }

  /** Dials a contact and sends Join; the contact is an outbound neighbour until it says otherwise. */
  async #joinVia(seed: Address): Promise<boolean> {
    const link = await this.#seeds.dial(seed);
    if (this.#stopped || !link) return false;
    if (this.isDataLink(link)) return true;
    if (link.peer.port !== 0) this.#known.learn(link.peer);
    if (!link.send({ join: {} })) return false;
    this.#counters.joinsSent++;
    if (this.#addNeighbour(link, true)) return true;
    // No outbound room (a /connect on a full node): the link is not kept.
    this.#maybeCloseShortLived(link);
    return false;
  }

  /** Closes a link that is neither a neighbour nor awaiting a NeighborReply. */
  #maybeCloseShortLived(link: PeerLink): void {
    if (link.isOpen && !this.isDataLink(link) && !this.#requests.has(link)) link.close();
  }

  /** Callbacks must not throw nor leave rejections behind (strategy.ts): log, never rethrow. */
  #background(work: Promise<unknown>, what: string): Promise<void> {
    return work.then(
      () => undefined,
      (err: unknown) => this.#log.warn({ err }, `${what} failed`),
    );
  }
}

export const createFull: MembershipFactory = (context) => new FullMembership(context);
