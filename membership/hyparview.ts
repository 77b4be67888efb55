/**
 * HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007) as docs/protocol.md section 4 words
 * it: a small symmetric active view of open links (the data plane's neighbours) and a larger
 * passive view of known addresses, used to repair the active view after failures.
 *
 * Sockets, the handshake, duplicate connections and the idle close of short-lived links are
 * the node's. This class only decides: which link is active, what to send, whom to dial.
 *
 * Invariants (most enforced by `View`): both views within their sizes, never self, no
 * duplicates, active and passive disjoint, no port-0 node in the passive view; an active
 * entry holds the one link the peer is reached by, and `isDataLink` compares link objects.
 * Every state change is synchronous in a callback; `await` only sequences dials, and every
 * continuation re-checks that the node is still running.
 */
import { formatAddress, type Address, type NodeConfig } from '../config.js';
import { nodeInfoProblem } from '../crypto/identity.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import { Timer } from '../utils/clock.js';
import { pickOne } from '../utils/random.js';
import type { Logger } from '../utils/logger.js';
import { addressOf, passiveRefusal, peerFields } from './entries.js';
import { Seeds } from './seeds.js';
import { Healer, type AttemptOutcome } from './healing.js';
import { addressPrefix, EvictionLimit, MAX_ACTIVE_PER_PREFIX } from './eviction-limit.js';
import { newCounters, type ActivePeer, type PassivePeer } from './hyparview-state.js';
import { NeighborRequests, type NeighborOutcome } from './neighbor-requests.js';
import { ShuffleExchange } from './shuffle.js';
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

/** A prefix may evict once per this fraction of a shuffle period (eviction-limit.ts). */
const EVICTION_PERIODS_PER_SHUFFLE = 10;

export class HyParView implements MembershipStrategy {
  readonly name = 'hyparview';
  readonly #ctx: MembershipContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #active: View<ActivePeer>;
  readonly #passive: View<PassivePeer>;
  /** Passive peers that did not answer in the current repair sweep. */
  readonly #unreachable = new Set<string>();
  readonly #requests: NeighborRequests;
  readonly #healer: Healer;
  readonly #shuffleTimer: Timer;
  readonly #shuffle: ShuffleExchange;
  readonly #evictions: EvictionLimit;
  readonly #counters = newCounters();
  #state: 'new' | 'running' | 'stopped' = 'new';
  readonly #seeds: Seeds;
  #seedTurn = 0;
  /** ForwardJoin dials and their Neighbor requests in flight; at most activeSize. */
  #forwardJoinDials = 0;
  /** Low-priority Neighbor requests refused in a row while the view was below its floor. */
  #refusedWhileStarving = 0;
  /** A neighbour failed or disconnected since the view was last at its floor (activeSize - 1). */
  #lostNeighbour = false;
  /**
   * Links that carried a Join. A second Join on one is a duplicate; a Join on a link that replaced
   * an older one (a restarted peer) is handled as a join, as docs/protocol.md section 3 asks.
   */
  readonly #joinedLinks = new WeakSet<PeerLink>();
  /** When each link was reported ready (a ShuffleReply must come on a connection newer than its Shuffle). */
  readonly #openedAt = new WeakMap<PeerLink, number>();

  constructor(context: MembershipContext) {
    const { config, clock, random, self } = context;
    this.#ctx = context;
    this.#config = config;
    this.#log = context.log.child({ component: 'hyparview' });
    this.#seeds = new Seeds(context, this.#log);
    this.#active = new View(config.activeSize, self.id);
    this.#passive = new View(config.passiveSize, self.id);
    this.#requests = new NeighborRequests(clock, config.shortLivedIdleMs, (link) =>
      this.#maybeCloseShortLived(link),
    );
    this.#healer = new Healer({
      clock,
      random,
      baseBackoffMs: config.retryBaseBackoffMs,
      maxBackoffMs: config.retryMaxBackoffMs,
      shouldHeal: () => this.#state === 'running' && !this.#active.isFull,
      attempt: () => this.#healOnce(),
      quickRetries: config.passiveSize,
    });
    this.#shuffleTimer = new Timer(clock, () => this.#onShuffleTimer());
    this.#evictions = new EvictionLimit(config.shuffleIntervalMs / EVICTION_PERIODS_PER_SHUFFLE);
    this.#shuffle = new ShuffleExchange({
      context,
      active: this.#active,
      passive: this.#passive,
      counters: this.#counters,
      isStopped: () => this.#stopped,
      isDataLink: (link) => this.isDataLink(link),
      linkOpenedAt: (link) => this.#openedAt.get(link),
      isPassiveCrowded: (node) => this.#isPassiveCrowded(node),
      maybeCloseShortLived: (link) => this.#maybeCloseShortLived(link),
      onPassiveGrew: () => this.#healer.maybeHeal(),
      background: (work, what) => void this.#background(work, what),
    });
  }

  // --- lifecycle ------------------------------------------------------------------------

  start(seeds: readonly Address[]): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#seeds.replace(seeds);
    this.#armShuffle();
    // With an empty view the first repair attempt is the join through the seeds.
    this.#healer.maybeHeal();
  }

  /** Joins through one more contact now (the CLI's /connect); it is kept as a seed. */
  join(contact: Address): void {
    if (this.#state !== 'running') return;
    this.#seeds.add(contact);
    void this.#joinVia(contact);
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#shuffleTimer.stop();
    this.#healer.stop();
    this.#requests.cancelAll();
    this.#shuffle.stop();
    for (const { data } of this.#active.entries()) data.link.send({ leave: {} });
    this.#active.clear();
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  // --- node callbacks -------------------------------------------------------------------

  onLinkReady(link: PeerLink): void {
    if (this.#stopped) return;
    this.#openedAt.set(link, this.#ctx.clock.now());
    this.#log.debug({ ...peerFields(link.peer), role: link.role }, 'link ready (short-lived until claimed)');
  }

  onMessage(link: PeerLink, message: MembershipMessage): void {
    if (this.#stopped) return;
    this.#log.debug({ ...peerFields(link.peer), kind: message.kind }, 'membership message');
    switch (message.kind) {
      case 'join':
        return this.#onJoin(link);
      case 'forwardJoin':
        return this.#onForwardJoin(link, message.body.node, message.body.ttl);
      case 'neighbor':
        return this.#onNeighbor(link, message.body.highPriority);
      case 'neighborReply':
        return this.#onNeighborReply(link, message.body.accepted);
      case 'disconnect':
        return this.#onDisconnect(link, message.body.alive);
      case 'shuffle':
        return this.#shuffle.onShuffle(link, message.body);
      case 'shuffleReply':
        return this.#shuffle.onShuffleReply(link, message.body.entries);
      case 'leave':
        return this.#onLeave(link);
    }
  }

  onLinkClosed(link: PeerLink, reason: LinkCloseReason): void {
    if (this.#stopped) return;
    this.#requests.settle(link, 'closed');
    if (!this.isDataLink(link)) return;
    // The paper drops a failed peer rather than keeping it in the passive view.
    this.#removeActive(link.id, DOWN_REASONS[reason]);
    this.#lostNeighbour = true;
    this.#counters.failuresDetected++;
    this.#log.debug({ ...peerFields(link.peer), reason }, 'active link failed');
    this.#healer.restart();
  }

  onLinkReplaced(previous: PeerLink, next: PeerLink): void {
    if (this.#stopped) return;
    const entry = this.#active.get(previous.id);
    if (entry && entry.data.link === previous) this.#active.update(previous.id, { link: next }, next.peer);
    this.#requests.move(previous, next);
  }

  // --- queries --------------------------------------------------------------------------

  isDataLink(link: PeerLink): boolean {
    return this.#active.get(link.id)?.data.link === link;
  }

  dataPeers(): DataPeer[] {
    return this.#active.entries().map((entry) => entry.data.link);
  }

  views(): Views {
    return { active: this.#active.infos(), passive: this.#passive.infos() };
  }

  stats(): Record<string, number> {
    return {
      ...this.#counters,
      activePeers: this.#active.size,
      passivePeers: this.#passive.size,
      healingBackoffMs: this.#healer.backoffMs,
    };
  }

  // --- joining --------------------------------------------------------------------------

  /** The contact's side of a Join: admit the joiner and announce it on random walks. */
  #onJoin(link: PeerLink): void {
    if (this.#joinedLinks.has(link)) return this.#ctx.countDrop('join-duplicate');
    if (!this.#mayAdmit(this.#prefixOfLink(link), link.id, true)) {
      this.#ctx.countDrop('join-prefix-limit');
      link.close();
      return;
    }
    if (!this.#addActive(link)) {
      this.#ctx.countDrop('join-refused');
      link.close();
      return;
    }
    this.#joinedLinks.add(link);
    this.#counters.joins++;
    // A joiner that does not listen can be nobody else's neighbour: no walk for it.
    if (link.peer.port === 0) return;
    const forwardJoin: Envelope = { forwardJoin: { node: link.peer, ttl: this.#config.arwl } };
    for (const { info, data } of this.#active.entries()) {
      if (info.id !== link.id) data.link.send(forwardJoin);
    }
  }

  #onForwardJoin(link: PeerLink, node: NodeInfo | null | undefined, receivedTtl: number): void {
    if (!this.isDataLink(link)) return this.#ctx.countDrop('forwardJoin-not-neighbor');
    if (!node || nodeInfoProblem(node) !== undefined) {
      this.#counters.entriesRefused++;
      return this.#ctx.countDrop('forwardJoin-invalid-node');
    }
    this.#counters.forwardJoins++;
    // A walk never gets longer than ours, whatever a peer claims.
    const ttl = Math.min(receivedTtl, this.#config.arwl);
    if (ttl === 0 || this.#active.size <= 1) return this.#maybeDialJoiner(node);
    if (ttl === this.#config.prwl) this.#addPassive(node);
    const candidates = this.#active.entries().filter((e) => e.info.id !== link.id && e.info.id !== node.id);
    const next = candidates[this.#ctx.random.int(candidates.length)];
    if (next) next.data.link.send({ forwardJoin: { node, ttl: ttl - 1 } });
    else this.#maybeDialJoiner(node);
  }

  /** The end of a ForwardJoin walk: dial the joiner and ask it, with high priority, to pair. */
  #maybeDialJoiner(node: NodeInfo): void {
    if (node.id === this.#ctx.self.id || this.#active.has(node.id) || node.port === 0) return;
    if (!this.#mayAdmit(this.#prefixOf(node.host, node.port), node.id, true)) {
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
    void this.#background(this.#dialJoiner(node), 'forward-join dial').finally(
      () => this.#forwardJoinDials--,
    );
  }

  async #dialJoiner(node: NodeInfo): Promise<void> {
    const link = await this.#ctx.connect(addressOf(node));
    if (this.#stopped || !link) return;
    if (link.id !== node.id) {
      this.#ctx.countDrop('forwardJoin-address-mismatch');
      return this.#maybeCloseShortLived(link);
    }
    if (this.#active.has(link.id)) return;
    await this.#requestNeighbor(link, true);
  }

  // --- neighbour requests ---------------------------------------------------------------

  #onNeighbor(link: PeerLink, highPriority: boolean): void {
    this.#counters.neighborRequests++;
    const accepted: Envelope = { neighborReply: { accepted: true } };
    if (this.isDataLink(link)) {
      link.send(accepted);
      return;
    }
    // A peer already active (by a stale link object) is re-admitted on this link, not refused.
    const limited = this.#counters.admissionsLimited;
    const admit = this.#mayAdmit(this.#prefixOfLink(link), link.id, highPriority);
    if (this.#counters.admissionsLimited > limited) this.#ctx.countDrop('neighbor-prefix-limit');
    // The reply goes out before peerUp, so that no routed data overtakes it on the link.
    if (admit && this.#addActive(link, accepted)) {
      this.#counters.neighborAccepted++;
      return;
    }
    this.#counters.neighborRefused++;
    link.send({ neighborReply: { accepted: false } });
    this.#addPassive(link.peer);
  }

  #onNeighborReply(link: PeerLink, accepted: boolean): void {
    if (!this.#requests.has(link)) return this.#ctx.countDrop('neighborReply-unsolicited');
    if (accepted) {
      this.#counters.neighborAcceptedByPeer++;
      // The peer has committed: admit it even if the view filled meanwhile (evicting), so
      // that the two views stay symmetric.
      const added = this.#addActive(link);
      this.#requests.settle(link, added ? 'accepted' : 'refused');
      if (!added) this.#maybeCloseShortLived(link);
      return;
    }
    this.#counters.neighborRefusedByPeer++;
    this.#requests.settle(link, 'refused');
    this.#addPassive(link.peer);
    this.#maybeCloseShortLived(link);
  }

  /** Sends Neighbor on `link` (once) and resolves with how the request ended. */
  #requestNeighbor(link: PeerLink, highPriority: boolean): Promise<NeighborOutcome> {
    if (this.#requests.has(link)) return this.#requests.wait(link);
    if (!link.send({ neighbor: { highPriority } })) return Promise.resolve('closed');
    this.#counters.neighborRequestsSent++;
    this.#log.debug({ ...peerFields(link.peer), highPriority }, 'neighbor request sent');
    return this.#requests.wait(link);
  }

  // --- leaving and failures -------------------------------------------------------------

  #onDisconnect(link: PeerLink, alive: boolean): void {
    this.#counters.disconnectsReceived++;
    if (this.isDataLink(link)) {
      this.#removeActive(link.id, 'disconnect');
      this.#lostNeighbour = true;
      if (alive) this.#addPassive(link.peer);
      this.#healer.restart();
    }
    link.close();
  }

  /** A graceful exit: the peer is forgotten at once, whichever link announced it. */
  #onLeave(link: PeerLink): void {
    this.#counters.leavesReceived++;
    this.#removeActive(link.id, 'leave');
    this.#passive.remove(link.id);
    link.close();
    this.#healer.restart();
  }

  // --- repair ---------------------------------------------------------------------------

  /**
   * One repair attempt: a random passive peer, or, while the active view is empty, the seeds
   * (every other attempt when there are passive peers too, all of them when there are none).
   */
  async #healOnce(): Promise<AttemptOutcome> {
    const useSeeds =
      this.#active.size === 0 &&
      this.#seeds.size > 0 &&
      (this.#passive.size === 0 || this.#seedTurn++ % 2 === 1);
    if (useSeeds) {
      this.#counters.healingAttempts++;
      if (await this.#joinThroughSeeds()) return 'success';
      // No seed answering is no reason to wait before the passive peers, whose turn is next.
      return this.#passive.size > 0 ? 'unreachable' : 'failure';
    }
    const untried = this.#passive
      .entries()
      .filter((entry) => !this.#unreachable.has(entry.info.id) && !this.#isActiveCrowded(entry.info));
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
    const outcome = await this.#tryPassive(candidate.info);
    if (outcome === 'unreachable') this.#unreachable.add(candidate.info.id);
    else this.#unreachable.clear();
    return outcome;
  }

  /** Seeds in order; the first that answers gets Join and becomes a neighbour. */
  #joinThroughSeeds(): Promise<boolean> {
    return this.#seeds.joinFirst(
      (seed) => this.#joinVia(seed),
      () => this.#stopped,
    );
  }

  /** Dials a contact and sends Join; true when it became (or already was) a neighbour. */
  async #joinVia(seed: Address): Promise<boolean> {
    const link = await this.#seeds.dial(seed);
    if (this.#stopped || !link) return false;
    if (this.isDataLink(link)) return true;
    if (link.send({ join: {} }) && this.#addActive(link)) {
      this.#counters.joinsSent++;
      this.#log.debug({ ...peerFields(link.peer), seed: formatAddress(seed) }, 'joined through seed');
      return true;
    }
    this.#log.warn({ ...peerFields(link.peer), seed: formatAddress(seed) }, 'seed link unusable');
    return false;
  }

  async #tryPassive(info: NodeInfo): Promise<AttemptOutcome> {
    const link = await this.#ctx.connect(addressOf(info));
    if (this.#stopped) return 'idle';
    if (!link) {
      this.#notePassiveFailure(info.id);
      return 'unreachable';
    }
    if (link.id !== info.id) {
      // Someone else answers at that address now: the entry is stale.
      this.#dropPassive(info.id, 'address answered by another node');
      this.#maybeCloseShortLived(link);
      return 'failure';
    }
    if (this.#active.has(link.id)) return 'success';
    if (this.#active.isFull) {
      this.#maybeCloseShortLived(link);
      return 'success';
    }
    const highPriority = this.#active.size === 0 || this.#shouldEscalate();
    const outcome = await this.#requestNeighbor(link, highPriority);
    this.#noteStarvingOutcome(highPriority, outcome);
    if (outcome === 'closed' || outcome === 'timeout') this.#notePassiveFailure(info.id);
    if (outcome === 'refused') this.#passive.update(info.id, { failures: 0 });
    if (outcome === 'cancelled') return 'idle';
    // Refused while starving: the escalated request goes to another peer at once, not after a
    // backoff (the peer that refused is left out of this sweep, as an unreachable one is).
    if (this.#shouldEscalate()) return 'unreachable';
    return outcome === 'accepted' ? 'success' : 'failure';
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

  #armShuffle(): void {
    const jitter = 0.75 + 0.5 * this.#ctx.random.float();
    this.#shuffleTimer.start(this.#config.shuffleIntervalMs * jitter);
  }

  #onShuffleTimer(): void {
    if (this.#state !== 'running') return;
    this.#shuffle.onPeriod();
    // The periodic safety net of repair: new passive entries, or a loop gone idle.
    this.#healer.maybeHeal();
    this.#armShuffle();
  }

  // --- views ----------------------------------------------------------------------------

  /**
   * Makes `link` an active neighbour: evicts a random one when full, takes the peer out of the
   * passive view, sends `greeting` (before peer-up), reports peer-up. False when the peer may
   * not be active (itself, an invalid NodeInfo). Already active with this link: true, no event.
   */
  #addActive(link: PeerLink, greeting?: Envelope): boolean {
    if (link.id === this.#ctx.self.id || nodeInfoProblem(link.peer) !== undefined) return false;
    const existing = this.#active.get(link.id);
    if (existing) {
      // A stale link object for the same peer: the node keeps one link per peer, this one.
      if (existing.data.link !== link) this.#active.update(link.id, { link }, link.peer);
      if (greeting) link.send(greeting);
      return true;
    }
    if (this.#active.isFull) this.#evictFor(link);
    this.#passive.remove(link.id);
    if (this.#active.add(link.peer, { link }) !== 'added') return false;
    if (greeting) link.send(greeting);
    this.#log.debug(peerFields(link.peer), 'active neighbour added');
    this.#ctx.peerUp(link);
    return true;
  }

  /**
   * Makes room for `newcomer`: evicts a random member, and notes the eviction against the
   * newcomer's prefix (eviction-limit.ts).
   */
  #evictFor(newcomer: PeerLink): void {
    this.#evictions.noteEviction(this.#prefixOfLink(newcomer), this.#ctx.clock.now());
    const victim = this.#active.randomEntry(this.#ctx.random);
    if (!victim) return;
    const { link } = victim.data;
    link.send({ disconnect: { alive: true } });
    link.close();
    this.#removeActive(victim.info.id, 'evicted');
    this.#counters.evictions++;
    this.#addPassive(victim.info);
  }

  /**
   * Whether a newcomer from `prefix` that asked to be a neighbour may enter now
   * (eviction-limit.ts): already active, or its prefix holds fewer than MAX_ACTIVE_PER_PREFIX
   * entries and there is room, or (when `mayEvict`) the prefix may evict. Counts what the
   * prefix rules refused; a plain lack of room is no refusal of theirs.
   */
  #mayAdmit(prefix: string, id: string, mayEvict: boolean): boolean {
    if (this.#active.has(id)) return true;
    if (this.#activePrefixCount(prefix) < MAX_ACTIVE_PER_PREFIX) {
      if (!this.#active.isFull) return true;
      if (!mayEvict) return false;
      if (this.#evictions.mayEvict(prefix, this.#ctx.clock.now())) return true;
    }
    this.#counters.admissionsLimited++;
    return false;
  }

  /** Whether the active view holds MAX_ACTIVE_PER_PREFIX entries of the node's prefix already. */
  #isActiveCrowded(node: NodeInfo): boolean {
    const prefix = this.#prefixOf(node.host, node.port);
    return this.#activePrefixCount(prefix) >= MAX_ACTIVE_PER_PREFIX;
  }

  #activePrefixCount(prefix: string): number {
    return this.#active.entries().filter((e) => this.#prefixOfLink(e.data.link) === prefix).length;
  }

  /** Whether the passive view holds MAX_ACTIVE_PER_PREFIX entries of the node's prefix already. */
  #isPassiveCrowded(node: NodeInfo): boolean {
    const prefix = this.#prefixOf(node.host, node.port);
    let sharing = 0;
    for (const { info } of this.#passive.entries()) {
      if (this.#prefixOf(info.host, info.port) === prefix && ++sharing >= MAX_ACTIVE_PER_PREFIX) return true;
    }
    return false;
  }

  /** The prefix of the host a link really comes from, where the node tells, else the announced one. */
  #prefixOfLink(link: PeerLink): string {
    return this.#prefixOf(link.connection?.remote.host ?? link.peer.host, link.peer.port);
  }

  #prefixOf(host: string, port: number): string {
    return addressPrefix(host, port, this.#config.limitLoopback);
  }

  #removeActive(id: string, reason: PeerDownReason): void {
    const entry = this.#active.remove(id);
    if (!entry) return;
    this.#log.debug({ ...peerFields(entry.info), reason }, 'active neighbour removed');
    this.#ctx.peerDown(entry.info, reason);
  }

  /** Adds to the passive view, evicting a random entry when full; refusals are silent. */
  #addPassive(info: NodeInfo): void {
    if (passiveRefusal(info, this.#ctx.self.id, (id) => this.#active.has(id)) !== undefined) return;
    if (this.#passive.has(info.id) || this.#passive.capacity === 0 || this.#isPassiveCrowded(info)) return;
    if (this.#passive.isFull) {
      const victim = this.#passive.randomEntry(this.#ctx.random);
      if (victim) this.#passive.remove(victim.info.id);
    }
    this.#passive.add(info, { failures: 0 });
  }

  /** Callbacks must not throw nor leave rejections behind (strategy.ts): log, never rethrow. */
  #background(work: Promise<void>, what: string): Promise<void> {
    return work.catch((err: unknown) => this.#log.warn({ err }, `${what} failed`));
  }

  /** Closes a link that is neither active nor awaiting a NeighborReply. */
  #maybeCloseShortLived(link: PeerLink): void {
    if (link.isOpen && !this.isDataLink(link) && !this.#requests.has(link)) link.close();
  }
}

export const createHyParView: MembershipFactory = (context) => new HyParView(context);
