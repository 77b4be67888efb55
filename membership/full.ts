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
 *   so after a mass failure it keeps dialling the dead: the lab measures that. The repair loop
 *   dials random known addresses, one attempt at a time, with jittered backoff after failures.
 * - Join: dial the seed and send Join. The seed gossips what it knows at once, and keeps the
 *   joiner as an inbound neighbour while it has room, else closes the link after the gossip.
 *   A second Join on the same link is a duplicate; a Join on a link that replaced another is not.
 * - Dials to known addresses go through a DialLimit: one per address (host and port, whatever id
 *   claims it) per round, so a forged list naming one victim many times dials it once a round.
 *
 * `views().passive` lists the known addresses that are not neighbours, truncated to the first
 * 100 for display; `stats().known` gives the full count.
 */
import { formatAddress, type Address, type NodeConfig } from '../config.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import type { Logger } from '../utils/logger.js';
import { Contacts } from './contacts.js';
import { DialLimit } from './dial-limit.js';
import { addressKey, addressOf, peerFields } from './entries.js';
import { KnownAddresses } from './full-gossip.js';
import { NeighborAsks, type NeighborOutcome } from './neighbor-asks.js';
import { PendingDials } from './pending-dials.js';
import { RepairLoop, type AttemptOutcome } from './repair-loop.js';
import { RoundTimer } from './round-timer.js';
import {
  DOWN_REASONS,
  type LinkCloseReason,
  type LinkUp,
  type MembershipContext,
  type MembershipFactory,
  type CheckedMembershipMessage,
  type CheckedPeerEntry,
  type MembershipStrategy,
  type PeerDownReason,
  type Views,
} from './strategy.js';
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
  /** Dialled by this node: counts against fullDegree, else against the inbound cap. */
  outbound: boolean;
}

/**
 * Why a dial was made: a seed of the repair's walk over the contacts, a /connect, or a repair
 * attempt at a known address (which must answer as `id`).
 */
type DialPurpose = { kind: 'walk' } | { kind: 'contact' } | { kind: 'known'; id: string };

export class FullMembership implements MembershipStrategy {
  readonly name = 'full';
  readonly #ctx: MembershipContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #known: KnownAddresses;
  readonly #neighbours: View<Neighbour>;
  /**
   * The Neighbor request of the repair attempt under way, if any: only an attempt asks, and
   * attempts run one at a time, so at most one is pending.
   */
  readonly #asks: NeighborAsks;
  readonly #repair: RepairLoop;
  readonly #round: RoundTimer;
  readonly #dialLimit: DialLimit;
  readonly #dials: PendingDials<DialPurpose>;
  readonly #contacts: Contacts;
  readonly #counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>;
  /** The NodeInfo of every peer with an open link, from its LinkUp: as many as the node's links. */
  readonly #linked = new Map<string, NodeInfo>();
  /** Peers whose current link carried a Join: another Join on it is a duplicate. */
  readonly #joined = new Set<string>();
  #state: 'new' | 'running' | 'stopped' = 'new';
  #seedTurn = 0;

  constructor(context: MembershipContext) {
    const { config, clock, random, self } = context;
    this.#ctx = context;
    this.#config = config;
    this.#log = context.log.child({ component: 'full' });
    this.#contacts = new Contacts(this.#log);
    this.#known = new KnownAddresses(context);
    this.#neighbours = new View(config.fullDegree * (1 + INBOUND_FACTOR), self.id);
    this.#asks = new NeighborAsks(clock, config.shortLivedIdleMs);
    this.#repair = new RepairLoop({
      clock,
      random,
      baseBackoffMs: config.retryBaseBackoffMs,
      maxBackoffMs: config.retryMaxBackoffMs,
      shouldHeal: () => this.#state === 'running' && this.#outbound() < config.fullDegree,
      attempt: () => this.#healOnce(),
    });
    this.#round = new RoundTimer(clock, random, config.shuffleIntervalMs, () => this.#onRound());
    this.#dialLimit = new DialLimit(config.shuffleIntervalMs, MAX_DIALS_PER_ROUND);
    this.#dials = new PendingDials(context);
  }

  // --- lifecycle ------------------------------------------------------------------------

  start(seeds: readonly Address[]): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#contacts.replace(seeds);
    this.#round.start();
    this.#repair.maybeHeal();
  }

  join(contact: Address): void {
    if (this.#state !== 'running') return;
    this.#contacts.add(contact);
    this.#dials.dial(contact, { kind: 'contact' });
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#round.stop();
    this.#repair.stop();
    this.#asks.cancelAll();
    this.#dialLimit.clear();
    this.#dials.clear();
    this.#contacts.end();
    for (const id of this.#neighbours.ids()) this.#ctx.send(id, { leave: {} });
    this.#neighbours.clear();
    this.#known.clear();
    this.#linked.clear();
    this.#joined.clear();
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  // --- node inputs ----------------------------------------------------------------------

  onLinkUp({ peer, replaces }: LinkUp): void {
    if (this.#stopped) return;
    this.#linked.set(peer.id, peer);
    this.#joined.delete(peer.id);
    this.#known.resetBudget(peer.id);
    // The winner of a duplicate contest takes the loser's place in the view, without churn; a
    // Neighbor request pending on the loser now takes its reply on the winner.
    const entry = this.#neighbours.get(peer.id);
    if (replaces && entry) this.#neighbours.update(peer.id, entry.data, peer);
  }

  onDialed(address: Address, peerId: string): void {
    const purpose = this.#dials.settle(address);
    if (this.#state !== 'running' || !purpose) return;
    switch (purpose.kind) {
      case 'known':
        return this.#finish(this.#onKnownDialed(purpose.id, peerId));
      case 'walk':
        return this.#walkOn(this.#joinVia(peerId));
      case 'contact':
        if (peerId === this.#ctx.self.id) this.#warnUnreachable(address);
        else this.#joinVia(peerId);
    }
  }

  onDialFailed(address: Address): void {
    const purpose = this.#dials.settle(address);
    if (this.#state !== 'running' || !purpose) return;
    switch (purpose.kind) {
      case 'known':
        return this.#repair.finish('failure');
      case 'walk':
        return this.#walkOn(false);
      case 'contact':
        this.#warnUnreachable(address);
    }
  }

  onMessage(from: string, message: CheckedMembershipMessage): void {
    const peer = this.#linked.get(from);
    if (this.#stopped || !peer) return;
    switch (message.kind) {
      case 'join':
        return this.#onJoin(peer);
      case 'neighbor':
        return this.#onNeighbor(peer);
      case 'neighborReply':
        return this.#onNeighborReply(peer, message.body.accepted);
      case 'shuffleReply':
        return this.#onGossip(from, message.body.entries);
      case 'disconnect':
        return this.#onDisconnect(from);
      case 'leave':
        return this.#onLeave(from);
      default:
        // No random walks here: ForwardJoin and Shuffle are HyParView's.
        this.#ctx.countDrop(`full-ignored-${message.kind}`);
    }
  }

  /** The neighbour goes, its address stays: the naive design does not learn from failures. */
  onLinkDown(peerId: string, reason: LinkCloseReason): void {
    if (this.#stopped) return;
    this.#linked.delete(peerId);
    this.#joined.delete(peerId);
    this.#known.resetBudget(peerId);
    this.#asks.settle(peerId, 'closed');
    if (!this.#neighbours.has(peerId)) return;
    this.#removeNeighbour(peerId, DOWN_REASONS[reason]);
    this.#counters.failuresDetected++;
    this.#repair.maybeHeal();
  }

  // --- queries --------------------------------------------------------------------------

  isDataPeer(peerId: string): boolean {
    return this.#neighbours.has(peerId);
  }

  dataPeers(): readonly string[] {
    return this.#neighbours.ids();
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
      healingBackoffMs: this.#repair.backoffMs,
    };
  }

  // --- gossip ---------------------------------------------------------------------------

  #onRound(): void {
    if (this.#state !== 'running') return;
    this.#dialLimit.prune(this.#ctx.clock.now());
    const gossip = this.#known.nextRound();
    for (const id of this.#neighbours.ids()) this.#known.sendTo(id, gossip);
    this.#repair.maybeHeal();
  }

  #onGossip(from: string, entries: readonly CheckedPeerEntry[]): void {
    if (!this.isDataPeer(from)) return this.#ctx.countDrop('gossip-not-neighbor');
    if (this.#known.receive(from, entries) > 0) this.#repair.maybeHeal();
  }

  // --- neighbours -----------------------------------------------------------------------

  /** The seed's side of a join: it learns the joiner, keeps it if there is room, and gossips. */
  #onJoin(peer: NodeInfo): void {
    if (this.#joined.has(peer.id)) return this.#ctx.countDrop('join-duplicate');
    this.#joined.add(peer.id);
    this.#counters.joins++;
    if (peer.port !== 0) this.#known.learn(peer);
    const admitted = this.#addNeighbour(peer, false);
    this.#known.sendTo(peer.id, this.#known.window().infos);
    if (admitted) return;
    // Full: the gossip is flushed before the close, and the joiner dials others it learned.
    this.#counters.joinsRefused++;
    this.#ctx.countDrop('join-refused');
    this.#ctx.disconnect(peer.id);
  }

  #onNeighbor(peer: NodeInfo): void {
    this.#counters.neighborRequests++;
    if (peer.port !== 0) this.#known.learn(peer);
    const accepted: Envelope = { neighborReply: { accepted: true } };
    if (this.isDataPeer(peer.id)) {
      this.#ctx.send(peer.id, accepted);
      return;
    }
    // The reply goes out before peerUp, so that no routed data overtakes it on the link.
    if (this.#addNeighbour(peer, false, accepted)) {
      this.#counters.neighborAccepted++;
      return;
    }
    // Refused: the requester closes (or the node's idle close does).
    this.#counters.neighborRefused++;
    this.#ctx.send(peer.id, { neighborReply: { accepted: false } });
  }

  #onNeighborReply(peer: NodeInfo, accepted: boolean): void {
    if (!this.#asks.has(peer.id)) return this.#ctx.countDrop('neighborReply-unsolicited');
    if (accepted) this.#counters.neighborAcceptedByPeer++;
    else this.#counters.neighborRefusedByPeer++;
    // An acceptance we cannot honour any more (outbound filled meanwhile) ends in a close
    // (#onAskEnd), which takes us out of the peer's view too: the views stay symmetric.
    const added = accepted && this.#addNeighbour(peer, true);
    this.#asks.settle(peer.id, added ? 'accepted' : 'refused');
  }

  #onDisconnect(peerId: string): void {
    this.#counters.disconnectsReceived++;
    const wasNeighbour = this.isDataPeer(peerId);
    if (wasNeighbour) this.#removeNeighbour(peerId, 'disconnect');
    this.#ctx.disconnect(peerId);
    if (wasNeighbour) this.#repair.maybeHeal();
  }

  /** A graceful exit: the peer is forgotten (until someone gossips it again). */
  #onLeave(peerId: string): void {
    this.#counters.leavesReceived++;
    this.#removeNeighbour(peerId, 'leave');
    this.#known.forget(peerId);
    this.#ctx.disconnect(peerId);
    this.#repair.maybeHeal();
  }

  /**
   * Makes `peer` a neighbour within the cap of its direction, sends `greeting` (before peer-up)
   * and reports peer-up. Already a neighbour: true, the greeting sent, no event.
   */
  #addNeighbour(peer: NodeInfo, outbound: boolean, greeting?: Envelope): boolean {
    if (peer.id === this.#ctx.self.id) return false;
    if (this.#neighbours.has(peer.id)) {
      if (greeting) this.#ctx.send(peer.id, greeting);
      return true;
    }
    const { fullDegree } = this.#config;
    const outboundNow = this.#outbound();
    const isRoom = outbound
      ? outboundNow < fullDegree
      : this.#neighbours.size - outboundNow < fullDegree * INBOUND_FACTOR;
    if (!isRoom || this.#neighbours.add(peer, { outbound }) !== 'added') return false;
    if (greeting) this.#ctx.send(peer.id, greeting);
    this.#log.debug({ ...peerFields(peer), outbound }, 'neighbour added');
    this.#ctx.peerUp(peer);
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
   * neighbour at all, a walk over the seeds (every other attempt when addresses are known, else
   * always). It ends when the dial, and the Neighbor request that may follow, have an outcome.
   */
  #healOnce(): AttemptOutcome | 'pending' {
    const useSeeds =
      this.#neighbours.size === 0 &&
      this.#contacts.size > 0 &&
      (this.#known.size === 0 || this.#seedTurn++ % 2 === 1);
    if (useSeeds) {
      const seed = this.#contacts.begin();
      if (!seed) return 'idle';
      this.#counters.healingAttempts++;
      this.#dials.dial(seed, { kind: 'walk' });
      return 'pending';
    }
    const candidate = this.#pickCandidate();
    if (!candidate) return 'idle';
    this.#counters.healingAttempts++;
    this.#dials.dial(addressOf(candidate), { kind: 'known', id: candidate.id });
    return 'pending';
  }

  #pickCandidate(): NodeInfo | undefined {
    const now = this.#ctx.clock.now();
    for (const info of this.#known.sample(DIAL_CANDIDATES)) {
      if (this.#neighbours.has(info.id)) continue;
      if (this.#dialLimit.tryAcquire(addressKey(info), now)) return info;
      this.#counters.dialsLimited++;
    }
    return undefined;
  }

  /** The repair dial to the address of known node `expectedId` reached `peerId`. */
  #onKnownDialed(expectedId: string, peerId: string): AttemptOutcome | 'pending' {
    if (peerId !== expectedId) {
      // Someone else answers there now; the naive design keeps the stale address anyway.
      this.#ctx.countDrop('full-address-mismatch');
      this.#maybeCloseShortLived(peerId);
      return 'failure';
    }
    if (this.#neighbours.has(peerId)) return 'success';
    if (this.#outbound() >= this.#config.fullDegree) {
      this.#maybeCloseShortLived(peerId);
      return 'success';
    }
    if (!this.#ctx.send(peerId, { neighbor: { highPriority: false } })) return 'failure';
    this.#counters.neighborRequestsSent++;
    this.#asks.add(peerId, (outcome) => this.#onAskEnd(peerId, outcome));
    return 'pending';
  }

  /** The attempt's Neighbor request ended; a refused or unanswered one leaves a link to close. */
  #onAskEnd(peerId: string, outcome: NeighborOutcome): void {
    if (outcome === 'refused' || outcome === 'timeout') this.#maybeCloseShortLived(peerId);
    if (outcome === 'accepted') this.#repair.finish('success');
    else this.#repair.finish(outcome === 'cancelled' ? 'idle' : 'failure');
  }

  #finish(outcome: AttemptOutcome | 'pending'): void {
    if (outcome !== 'pending') this.#repair.finish(outcome);
  }

  /** The walk's seed joined, or did not: the attempt ends, or the next seed is dialled. */
  #walkOn(joined: boolean): void {
    if (joined) {
      this.#contacts.end();
      return this.#repair.finish('success');
    }
    const next = this.#contacts.next();
    if (next) this.#dials.dial(next, { kind: 'walk' });
    else this.#repair.finish('failure');
  }

  /**
   * Sends Join to the contact found at a dialled seed; the contact is an outbound neighbour until
   * it says otherwise. False when the seed is this node, the Join could not go, or there is no
   * outbound room (a /connect on a full node: the link is not kept).
   */
  #joinVia(peerId: string): boolean {
    const peer = this.#linked.get(peerId);
    if (peerId === this.#ctx.self.id || !peer) return false;
    if (this.isDataPeer(peerId)) return true;
    if (peer.port !== 0) this.#known.learn(peer);
    if (!this.#ctx.send(peerId, { join: {} })) return false;
    this.#counters.joinsSent++;
    if (this.#addNeighbour(peer, true)) return true;
    this.#maybeCloseShortLived(peerId);
    return false;
  }

  #warnUnreachable(seed: Address): void {
    this.#log.warn({ seed: formatAddress(seed) }, 'seed unreachable');
  }

  /** Closes a link that is neither a neighbour nor waiting for a NeighborReply. */
  #maybeCloseShortLived(peerId: string): void {
    if (this.#ctx.isLinked(peerId) && !this.isDataPeer(peerId) && !this.#asks.has(peerId)) {
      this.#ctx.disconnect(peerId);
    }
  }
}

export const createFull: MembershipFactory = (context) => new FullMembership(context);
