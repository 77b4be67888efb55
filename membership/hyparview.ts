/**
 * HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007) as docs/protocol.md section 4 words
 * it: a small symmetric active view of open links (the data plane's neighbours) and a larger
 * passive view of known addresses, used to repair the active view after failures.
 *
 * A synchronous state machine (strategy.ts): sockets, the handshake, duplicate connections and
 * the idle close of short-lived links are the node's. This class only decides: which peer is
 * active, what to send, whom to dial. Every dial goes through `PendingDials` with its purpose,
 * and its one outcome (`onDialed`, `onDialFailed`) goes back to that purpose.
 *
 * Invariants (most enforced by `View`): both views within their sizes, never self, no
 * duplicates, active and passive disjoint, no port-0 node in the passive view; every active peer
 * has an open link (its entry holds that link's facts): a peer this strategy evicts or lets go
 * leaves the view in the same step as its link is closed, and a peer whose link is closed for
 * breaking a limit (LIMIT) leaves it when the node reports the link down.
 */
import { formatAddress, type Address, type NodeConfig } from '../config.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import { pickOne } from '../utils/random.js';
import type { Logger } from '../utils/logger.js';
import { Contacts } from './contacts.js';
import { addressOf, passiveRefusal, peerFields } from './entries.js';
import {
  newCounters,
  type ActivePeer,
  type DialPurpose,
  type LinkFacts,
  type PassivePeer,
} from './hyparview-state.js';
import { NeighborAsks, type NeighborOutcome } from './neighbor-asks.js';
import { PendingDials } from './pending-dials.js';
import { PrefixRules, prefixGroups } from './prefix-rules.js';
import { RepairLoop, type AttemptOutcome } from './repair-loop.js';
import { RoundTimer } from './round-timer.js';
import { ShuffleExchange } from './shuffle.js';
import {
  DOWN_REASONS,
  type LinkCloseReason,
  type LinkUp,
  type MembershipContext,
  type MembershipFactory,
  type CheckedMembershipMessage,
  type MembershipStrategy,
  type PeerDownReason,
  type Views,
} from './strategy.js';
import { View } from './view.js';

export class HyParView implements MembershipStrategy {
  readonly name = 'hyparview';
  readonly #ctx: MembershipContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #active: View<ActivePeer>;
  readonly #passive: View<PassivePeer>;
  /** Every open link the node reported, by peer id (bounded by the node's connection limits). */
  readonly #links = new Map<string, LinkFacts>();
  /** Passive peers that did not answer in the current repair sweep. */
  readonly #unreachable = new Set<string>();
  readonly #dials: PendingDials<DialPurpose>;
  readonly #asks: NeighborAsks;
  /** Who else waits on a pending Neighbor request, by peer id (a walk's end and a repair may meet). */
  readonly #askWaiters = new Map<string, Array<(outcome: NeighborOutcome) => void>>();
  readonly #repair: RepairLoop;
  readonly #shuffleRounds: RoundTimer;
  readonly #shuffle: ShuffleExchange;
  readonly #prefixes: PrefixRules;
  readonly #counters = newCounters();
  #state: 'new' | 'running' | 'stopped' = 'new';
  readonly #contacts: Contacts;
  #seedTurn = 0;
  /** ForwardJoin dials and their Neighbor requests in flight; at most activeSize. */
  #forwardJoinDials = 0;
  /** Low-priority Neighbor requests refused in a row while the view was below its floor. */
  #refusedWhileStarving = 0;
  /** A neighbour failed or disconnected since the view was last at its floor (activeSize - 1). */
  #lostNeighbour = false;

  constructor(context: MembershipContext) {
    const { config, clock, random, self } = context;
    this.#ctx = context;
    this.#config = config;
    this.#log = context.log.child({ component: 'hyparview' });
    this.#contacts = new Contacts(this.#log);
    const groups = prefixGroups(config);
    this.#active = new View(config.activeSize, self.id, groups.active);
    this.#passive = new View(config.passiveSize, self.id, groups.passive);
    this.#dials = new PendingDials(context);
    this.#asks = new NeighborAsks(clock, config.shortLivedIdleMs);
    this.#repair = new RepairLoop({
      clock,
      random,
      baseBackoffMs: config.retryBaseBackoffMs,
      maxBackoffMs: config.retryMaxBackoffMs,
      shouldHeal: () => this.#state === 'running' && !this.#active.isFull,
      attempt: () => this.#repairOnce(),
      quickRetries: config.passiveSize,
    });
    this.#shuffleRounds = new RoundTimer(clock, random, config.shuffleIntervalMs, () =>
      this.#onShuffleRound(),
    );
    this.#prefixes = new PrefixRules(this.#active, this.#passive, config, this.#counters);
    this.#shuffle = new ShuffleExchange({
      context,
      active: this.#active,
      passive: this.#passive,
      counters: this.#counters,
      linkOf: (peerId) => this.#links.get(peerId),
      isPassiveCrowded: (node) => this.#prefixes.isPassiveCrowded(node),
      dial: (address, purpose) => this.#dials.dial(address, purpose),
      maybeCloseShortLived: (peerId) => this.#maybeCloseShortLived(peerId),
      onPassiveGrew: () => this.#repair.maybeHeal(),
    });
  }

  // --- lifecycle ------------------------------------------------------------------------

  start(seeds: readonly Address[]): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#contacts.replace(seeds);
    this.#shuffleRounds.start();
    // With an empty view the first repair attempt is the join through the seeds.
    this.#repair.maybeHeal();
  }

  /** Joins through one more contact now (the CLI's /connect); it is kept as a seed. */
  join(contact: Address): void {
    if (this.#state !== 'running') return;
    this.#contacts.add(contact);
    this.#dials.dial(contact, { kind: 'contact' });
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#shuffleRounds.stop();
    this.#repair.stop();
    this.#asks.cancelAll();
    this.#askWaiters.clear();
    this.#shuffle.stop();
    this.#dials.clear();
    this.#contacts.end();
    for (const { info } of this.#active.entries()) this.#ctx.send(info.id, { leave: {} });
    this.#active.clear();
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  // --- node inputs ----------------------------------------------------------------------

  onLinkUp({ peer, role, remoteHost, replaces }: LinkUp): void {
    if (this.#stopped) return;
    // A fresh record per link: a link that replaced another (a restarted peer, a duplicate that
    // won) has its own open time, Join and Shuffle allowance.
    const facts: LinkFacts = { peer, role, remoteHost, openedAtMs: this.#ctx.clock.now(), hasJoined: false };
    this.#links.set(peer.id, facts);
    if (this.#active.has(peer.id)) this.#active.update(peer.id, facts, peer);
    this.#log.debug({ ...peerFields(peer), role, replaces }, 'link up (short-lived until claimed)');
  }

  onDialed(address: Address, peerId: string): void {
    if (this.#stopped) return;
    const purpose = this.#dials.settle(address);
    switch (purpose?.kind) {
      case 'seed':
        return this.#onSeedDialed(address, peerId);
      case 'contact':
        // A contact that turns out to be this node is no contact: warned as an unreachable seed.
        if (peerId === this.#ctx.self.id)
          this.#log.warn({ seed: formatAddress(address) }, 'seed unreachable, trying the next');
        else this.#joinVia(address, peerId);
        return;
      case 'passive':
        return this.#onPassiveDialed(purpose.info, peerId);
      case 'walkEnd':
        return this.#onJoinerDialed(purpose.node, peerId);
      case 'shuffleReply':
        return this.#shuffle.onOriginDialed(purpose, peerId);
      case undefined:
        return;
    }
  }

  onDialFailed(address: Address): void {
    if (this.#stopped) return;
    const purpose = this.#dials.settle(address);
    switch (purpose?.kind) {
      case 'seed':
        return this.#nextSeed();
      case 'contact':
        this.#log.warn({ seed: formatAddress(address) }, 'seed unreachable, trying the next');
        return;
      case 'passive':
        this.#notePassiveFailure(purpose.info.id);
        return this.#finishPassive(purpose.info.id, 'unreachable');
      case 'walkEnd':
        this.#forwardJoinDials--;
        return;
      case 'shuffleReply':
      case undefined:
        return;
    }
  }

  onMessage(from: string, message: CheckedMembershipMessage): void {
    if (this.#stopped) return;
    const link = this.#links.get(from);
    // The node reports every link before its messages; a message of no known link is a bug there.
    if (!link) return;
    this.#log.debug({ ...peerFields(link.peer), kind: message.kind }, 'membership message');
    switch (message.kind) {
      case 'join':
        return this.#onJoin(link);
      case 'forwardJoin':
        return this.#onForwardJoin(from, message.body.node, message.body.ttl);
      case 'neighbor':
        return this.#onNeighbor(link, message.body.highPriority);
      case 'neighborReply':
        return this.#onNeighborReply(link, message.body.accepted);
      case 'disconnect':
        return this.#onDisconnect(link, message.body.alive);
      case 'shuffle':
        return this.#shuffle.onShuffle(from, message.body);
      case 'shuffleReply':
        return this.#shuffle.onShuffleReply(from, message.body.entries);
      case 'leave':
        return this.#onLeave(link);
    }
  }

  onLinkDown(peerId: string, reason: LinkCloseReason): void {
    if (this.#stopped) return;
    this.#links.delete(peerId);
    if (this.#active.has(peerId)) {
      // The paper drops a failed peer rather than keeping it in the passive view.
      const entry = this.#removeActive(peerId, DOWN_REASONS[reason]);
      this.#lostNeighbour = true;
      this.#counters.failuresDetected++;
      if (entry) this.#log.debug({ ...peerFields(entry.info), reason }, 'active link failed');
      this.#repair.restart();
    }
    this.#asks.settle(peerId, 'closed');
  }

  // --- queries --------------------------------------------------------------------------

  isDataPeer(peerId: string): boolean {
    return this.#active.has(peerId);
  }

  dataPeers(): readonly string[] {
    return this.#active.ids();
  }

  views(): Views {
    return { active: this.#active.infos(), passive: this.#passive.infos() };
  }

  stats(): Record<string, number> {
    return {
      ...this.#counters,
      activePeers: this.#active.size,
      passivePeers: this.#passive.size,
      healingBackoffMs: this.#repair.backoffMs,
    };
  }

  // --- joining --------------------------------------------------------------------------

  /** The contact's side of a Join: admit the joiner and announce it on random walks. */
  #onJoin(link: LinkFacts): void {
    const { peer } = link;
    if (link.hasJoined) return this.#ctx.countDrop('join-duplicate');
    if (!this.#mayAdmit(this.#prefixes.ofLink(link), peer.id, true)) {
      this.#ctx.countDrop('join-prefix-limit');
      this.#ctx.disconnect(peer.id);
      return;
    }
    if (!this.#addActive(peer.id)) {
      this.#ctx.countDrop('join-refused');
      this.#ctx.disconnect(peer.id);
      return;
    }
    link.hasJoined = true;
    this.#counters.joins++;
    // A joiner that does not listen can be nobody else's neighbour: no walk for it.
    if (peer.port === 0) return;
    const forwardJoin: Envelope = { forwardJoin: { node: peer, ttl: this.#config.arwl } };
    for (const id of this.#active.ids()) if (id !== peer.id) this.#ctx.send(id, forwardJoin);
  }

  #onForwardJoin(from: string, node: NodeInfo, receivedTtl: number): void {
    if (!this.#active.has(from)) return this.#ctx.countDrop('forwardJoin-not-neighbor');
    this.#counters.forwardJoins++;
    // A walk never gets longer than ours, whatever a peer claims.
    const ttl = Math.min(receivedTtl, this.#config.arwl);
    if (ttl === 0 || this.#active.size <= 1) return this.#maybeDialJoiner(node);
    if (ttl === this.#config.prwl) this.#addPassive(node);
    const candidates = this.#active.ids().filter((id) => id !== from && id !== node.id);
    const next = candidates[this.#ctx.random.int(candidates.length)];
    if (next) this.#ctx.send(next, { forwardJoin: { node, ttl: ttl - 1 } });
    else this.#maybeDialJoiner(node);
  }

  /** The end of a ForwardJoin walk: dial the joiner and ask it, with high priority, to pair. */
  #maybeDialJoiner(node: NodeInfo): void {
    if (node.id === this.#ctx.self.id || this.#active.has(node.id) || node.port === 0) return;
    if (!this.#mayAdmit(this.#prefixes.ofNode(node), node.id, true)) {
      this.#ctx.countDrop('forwardJoin-prefix-limit');
      this.#addPassive(node);
      return;
    }
    if (this.#forwardJoinDials >= this.#config.activeSize) {
      // Bounded dials: a burst of joins ending here leaves the rest to shuffles and repair.
      this.#ctx.countDrop('forwardJoin-busy');
      this.#addPassive(node);
      return;
    }
    this.#forwardJoinDials++;
    this.#dials.dial(addressOf(node), { kind: 'walkEnd', node });
  }

  #onJoinerDialed(node: NodeInfo, peerId: string): void {
    if (peerId !== node.id) {
      this.#forwardJoinDials--;
      this.#ctx.countDrop('forwardJoin-address-mismatch');
      return this.#maybeCloseShortLived(peerId);
    }
    if (this.#active.has(peerId)) {
      this.#forwardJoinDials--;
      return;
    }
    this.#requestNeighbor(peerId, true, () => this.#forwardJoinDials--);
  }

  // --- neighbour requests ---------------------------------------------------------------

  #onNeighbor(link: LinkFacts, highPriority: boolean): void {
    const { peer } = link;
    this.#counters.neighborRequests++;
    const accepted: Envelope = { neighborReply: { accepted: true } };
    if (this.#active.has(peer.id)) {
      this.#ctx.send(peer.id, accepted);
      return;
    }
    const limited = this.#counters.admissionsLimited;
    const admit = this.#mayAdmit(this.#prefixes.ofLink(link), peer.id, highPriority);
    if (this.#counters.admissionsLimited > limited) this.#ctx.countDrop('neighbor-prefix-limit');
    // The reply goes out before peerUp, so that no routed data overtakes it on the link.
    if (admit && this.#addActive(peer.id, accepted)) {
      this.#counters.neighborAccepted++;
      return;
    }
    this.#counters.neighborRefused++;
    this.#ctx.send(peer.id, { neighborReply: { accepted: false } });
    this.#addPassive(peer);
  }

  #onNeighborReply(link: LinkFacts, accepted: boolean): void {
    const { peer } = link;
    if (!this.#asks.has(peer.id)) return this.#ctx.countDrop('neighborReply-unsolicited');
    if (accepted) {
      this.#counters.neighborAcceptedByPeer++;
      // The peer has committed: admit it even if the view filled meanwhile (evicting), so
      // that the two views stay symmetric.
      const added = this.#addActive(peer.id);
      this.#asks.settle(peer.id, added ? 'accepted' : 'refused');
      if (!added) this.#maybeCloseShortLived(peer.id);
      return;
    }
    this.#counters.neighborRefusedByPeer++;
    this.#addPassive(peer);
    this.#asks.settle(peer.id, 'refused');
    this.#maybeCloseShortLived(peer.id);
  }

  /**
   * Sends Neighbor to `peerId` (once: a request already pending is shared) and calls `onEnd`
   * with how the request ended. An unanswered request times out after `shortLivedIdleMs`, and
   * the link is closed.
   */
  #requestNeighbor(peerId: string, highPriority: boolean, onEnd: (outcome: NeighborOutcome) => void): void {
    const waiters = this.#askWaiters.get(peerId);
    if (waiters) {
      waiters.push(onEnd);
      return;
    }
    if (!this.#ctx.send(peerId, { neighbor: { highPriority } })) return onEnd('closed');
    this.#counters.neighborRequestsSent++;
    this.#log.debug({ peer: peerId, highPriority }, 'neighbor request sent');
    this.#askWaiters.set(peerId, [onEnd]);
    this.#asks.add(peerId, (outcome) => {
      const ended = this.#askWaiters.get(peerId) ?? [];
      this.#askWaiters.delete(peerId);
      if (outcome === 'timeout') this.#maybeCloseShortLived(peerId);
      for (const end of ended) end(outcome);
    });
  }

  // --- leaving and failures -------------------------------------------------------------

  #onDisconnect(link: LinkFacts, alive: boolean): void {
    const { peer } = link;
    this.#counters.disconnectsReceived++;
    if (this.#active.has(peer.id)) {
      this.#removeActive(peer.id, 'disconnect');
      this.#lostNeighbour = true;
      if (alive) this.#addPassive(peer);
      this.#repair.restart();
    }
    this.#ctx.disconnect(peer.id);
  }

  /** A graceful exit: the peer is forgotten at once, whichever link announced it. */
  #onLeave(link: LinkFacts): void {
    const id = link.peer.id;
    this.#counters.leavesReceived++;
    this.#removeActive(id, 'leave');
    this.#passive.remove(id);
    this.#ctx.disconnect(id);
    this.#repair.restart();
  }

  // --- repair ---------------------------------------------------------------------------

  /**
   * One repair attempt: a random passive peer, or, while the active view is empty, the seeds
   * (every other attempt when there are passive peers too, all of them when there are none).
   * Pending until the dial (and the Neighbor request) it made ends.
   */
  #repairOnce(): AttemptOutcome | 'pending' {
    const useSeeds =
      this.#active.size === 0 &&
      this.#contacts.size > 0 &&
      (this.#passive.size === 0 || this.#seedTurn++ % 2 === 1);
    if (useSeeds) {
      const first = this.#contacts.begin();
      if (!first) return 'idle';
      this.#counters.healingAttempts++;
      this.#dials.dial(first, { kind: 'seed' });
      return 'pending';
    }
    const untried = this.#passive
      .entries()
      .filter(
        (entry) => !this.#unreachable.has(entry.info.id) && !this.#prefixes.isActiveCrowded(entry.info),
      );
    const candidate = pickOne(this.#ctx.random, untried);
    if (!candidate) {
      if (this.#passive.size === 0) {
        // Nobody to ask: a node that lost its neighbours before its first shuffle (it joined
        // moments ago) would wait a whole period below its floor. Its Shuffles bring entries,
        // one per tenth of a period at most, until it is back at its floor; a backoff later the
        // loop looks again. A node that just joined has lost nobody: the ForwardJoin walks are
        // coming for it.
        if (!this.#isStarving()) this.#lostNeighbour = false;
        if (!this.#lostNeighbour) return 'idle';
        this.#shuffle.maybeSendEarly();
        return 'failure';
      }
      // Every passive peer was unreachable in this sweep: back off, then sweep again.
      this.#unreachable.clear();
      return 'failure';
    }
    this.#counters.healingAttempts++;
    this.#dials.dial(addressOf(candidate.info), { kind: 'passive', info: candidate.info });
    return 'pending';
  }

  /** Seeds in order; the first that answers gets Join and becomes a neighbour. */
  #onSeedDialed(seed: Address, peerId: string): void {
    if (peerId !== this.#ctx.self.id && this.#joinVia(seed, peerId)) {
      this.#contacts.end();
      return this.#repair.finish('success');
    }
    this.#nextSeed();
  }

  /** The seed walk's current seed did not do: the next one, or the end of the walk. */
  #nextSeed(): void {
    const next = this.#contacts.next();
    if (next) return this.#dials.dial(next, { kind: 'seed' });
    // No seed answering is no reason to wait before the passive peers, whose turn is next.
    this.#repair.finish(this.#passive.size > 0 ? 'unreachable' : 'failure');
  }

  /** Sends Join to the contact found at `seed`; true when it became (or already was) a neighbour. */
  #joinVia(seed: Address, peerId: string): boolean {
    if (peerId === this.#ctx.self.id) return false;
    if (this.#active.has(peerId)) return true;
    const link = this.#links.get(peerId);
    if (link && this.#ctx.send(peerId, { join: {} }) && this.#addActive(peerId)) {
      this.#counters.joinsSent++;
      this.#log.debug({ ...peerFields(link.peer), seed: formatAddress(seed) }, 'joined through seed');
      return true;
    }
    this.#log.warn({ peer: peerId, seed: formatAddress(seed) }, 'seed link unusable');
    return false;
  }

  #onPassiveDialed(info: NodeInfo, peerId: string): void {
    if (peerId !== info.id) {
      // Someone else answers at that address now: the entry is stale.
      this.#dropPassive(info.id, 'address answered by another node');
      this.#maybeCloseShortLived(peerId);
      return this.#finishPassive(info.id, 'failure');
    }
    if (this.#active.has(peerId)) return this.#finishPassive(info.id, 'success');
    if (this.#active.isFull) {
      this.#maybeCloseShortLived(peerId);
      return this.#finishPassive(info.id, 'success');
    }
    const highPriority = this.#active.size === 0 || this.#shouldEscalate();
    this.#requestNeighbor(peerId, highPriority, (outcome) => {
      if (this.#stopped) return;
      this.#finishPassive(info.id, this.#afterNeighborAsk(info.id, highPriority, outcome));
    });
  }

  /** What a repair attempt's Neighbor request achieved, with its bookkeeping. */
  #afterNeighborAsk(id: string, highPriority: boolean, outcome: NeighborOutcome): AttemptOutcome {
    this.#noteStarvingOutcome(highPriority, outcome);
    if (outcome === 'closed' || outcome === 'timeout') this.#notePassiveFailure(id);
    if (outcome === 'refused') this.#passive.update(id, { failures: 0 });
    if (outcome === 'cancelled') return 'idle';
    // Refused while starving: the escalated request goes to another peer at once, not after a
    // backoff (the peer that refused is left out of this sweep, as an unreachable one is).
    if (this.#shouldEscalate()) return 'unreachable';
    return outcome === 'accepted' ? 'success' : 'failure';
  }

  /** Ends a repair attempt on a passive peer: one left unanswered is skipped for the rest of the sweep. */
  #finishPassive(id: string, outcome: AttemptOutcome): void {
    if (outcome === 'unreachable') this.#unreachable.add(id);
    else this.#unreachable.clear();
    this.#repair.finish(outcome);
  }

  /**
   * Deviation from the paper, which asks with high priority only when the active view is empty:
   * a node below `activeSize - 1` neighbours whose last low-priority request was refused asks
   * the next passive peer with high priority. Otherwise, in a mesh where nearly every view is
   * full, a node left with one or two neighbours (after growth, or a mass failure) is refused by
   * every full peer and stays there: the paper's rule admits nobody with less than one spare
   * slot. At most every other request of a node is escalated, and only while it is below the
   * floor; what the receiver concedes to high priority is bounded there (eviction-limit.ts).
   */
  #shouldEscalate(): boolean {
    return this.#isStarving() && this.#refusedWhileStarving > 0;
  }

  #isStarving(): boolean {
    return this.#active.size < this.#config.activeSize - 1;
  }

  #noteStarvingOutcome(highPriority: boolean, outcome: NeighborOutcome): void {
    // One escalated request per refusal: whatever its outcome, the next starts low again.
    if (highPriority || outcome === 'accepted') this.#refusedWhileStarving = 0;
    else if (outcome === 'refused' && this.#isStarving()) this.#refusedWhileStarving++;
  }

  #notePassiveFailure(id: string): void {
    const entry = this.#passive.get(id);
    if (!entry) return;
    const failures = entry.data.failures + 1;
    if (failures >= this.#config.passiveMaxFailures)
      this.#dropPassive(id, `${failures} failed dials in a row`);
    else this.#passive.update(id, { failures });
  }

  #dropPassive(id: string, why: string): void {
    if (!this.#passive.remove(id)) return;
    this.#counters.passiveDropped++;
    this.#log.debug({ peer: id, why }, 'passive entry dropped');
  }

  // --- shuffle --------------------------------------------------------------------------

  #onShuffleRound(): void {
    if (this.#state !== 'running') return;
    this.#shuffle.onPeriod();
    // The periodic safety net of repair: new passive entries, or a loop gone idle.
    this.#repair.maybeHeal();
  }

  // --- views ----------------------------------------------------------------------------

  /**
   * Makes the peer of an open link an active neighbour: evicts a random one when full, takes the
   * peer out of the passive view, sends `greeting` (before peer-up), reports peer-up. False when
   * the peer may not be active (itself, no link). Already active: true, no event. The handshake
   * verified the link's NodeInfo (link/link.ts).
   */
  #addActive(peerId: string, greeting?: Envelope): boolean {
    const link = this.#links.get(peerId);
    if (!link || peerId === this.#ctx.self.id) return false;
    if (this.#active.has(peerId)) {
      if (greeting) this.#ctx.send(peerId, greeting);
      return true;
    }
    if (this.#active.isFull) this.#evictFor(link);
    this.#passive.remove(peerId);
    if (this.#active.add(link.peer, link) !== 'added') return false;
    if (greeting) this.#ctx.send(peerId, greeting);
    this.#log.debug(peerFields(link.peer), 'active neighbour added');
    this.#ctx.peerUp(link.peer);
    return true;
  }

  /**
   * Makes room for `newcomer`: evicts a random member, and notes the eviction against the
   * newcomer's prefix (eviction-limit.ts).
   */
  #evictFor(newcomer: LinkFacts): void {
    this.#prefixes.noteEviction(this.#prefixes.ofLink(newcomer), this.#ctx.clock.now());
    const victim = this.#active.randomEntry(this.#ctx.random);
    if (!victim) return;
    const id = victim.info.id;
    this.#ctx.send(id, { disconnect: { alive: true } });
    this.#ctx.disconnect(id);
    this.#removeActive(id, 'evicted');
    this.#counters.evictions++;
    this.#addPassive(victim.info);
  }

  #mayAdmit(prefix: string, id: string, mayEvict: boolean): boolean {
    return this.#prefixes.mayAdmit(prefix, id, mayEvict, this.#ctx.clock.now());
  }

  #removeActive(id: string, reason: PeerDownReason): { info: NodeInfo } | undefined {
    const entry = this.#active.remove(id);
    if (!entry) return undefined;
    this.#log.debug({ ...peerFields(entry.info), reason }, 'active neighbour removed');
    this.#ctx.peerDown(entry.info, reason);
    return entry;
  }

  /** Adds to the passive view, evicting a random entry when full; refusals are silent. */
  #addPassive(info: NodeInfo): void {
    if (passiveRefusal(info, this.#ctx.self.id, (id) => this.#active.has(id)) !== undefined) return;
    if (this.#passive.has(info.id) || this.#passive.capacity === 0 || this.#prefixes.isPassiveCrowded(info))
      return;
    if (this.#passive.isFull) {
      const victim = this.#passive.randomEntry(this.#ctx.random);
      if (victim) this.#passive.remove(victim.info.id);
    }
    this.#passive.add(info, { failures: 0 });
  }

  /** Closes the link to a peer that is neither active nor awaiting a NeighborReply. */
  #maybeCloseShortLived(peerId: string): void {
    if (this.#ctx.isLinked(peerId) && !this.#active.has(peerId) && !this.#asks.has(peerId)) {
      this.#ctx.disconnect(peerId);
    }
  }
}

export const createHyParView: MembershipFactory = (context) => new HyParView(context);
