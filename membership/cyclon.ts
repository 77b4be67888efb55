/**
 * Cyclon membership (Voulgaris, Gavidia, van Steen, "CYCLON: Inexpensive Membership Management
 * for Unstructured P2P Overlays", 2005), spoken with the messages of docs/protocol.md section 4.
 *
 * One view of at most `cyclonViewSize` entries, each with an age. Every round
 * (`shuffleIntervalMs`, jittered by +-25%) the node runs the paper's enhanced shuffle:
 *   1. it increases the age of every entry;
 *   2. it picks the oldest entry Q (ties at random) and removes it from the view;
 *   3. it sends Q, over a connection opened on demand, a Shuffle of itself (age 0) and
 *      `cyclonShuffleLength - 1` random other entries with their ages (`ttl` 0: no walk);
 *   4. it merges Q's ShuffleReply: never itself, nothing already in the view; empty slots
 *      first, then in place of the entries it sent; whatever does not fit is discarded.
 * Q answers on the same connection with up to `cyclonShuffleLength` random entries of its view
 * (never the initiator) and merges what it received by the same rule, replacing the entries it
 * answered with. Q does not age its entries: only an initiator does, once per round.
 *
 * Failure detection is Cyclon's and nothing more: Q stays removed when it does not answer (the
 * dial fails, or no reply within `shortLivedIdleMs` or before the next round). An entry leaves
 * the view only through shuffles (sent and replaced, or picked as the oldest), never because a
 * connection failed or closed, so after a mass failure dead entries linger until they age to
 * the top. That weakness is what the lab measures: it is faithful, not a bug to fix. The one
 * other exit is a graceful `Leave` received on an open link (docs/protocol.md section 6).
 *
 * Join: the paper's join is a set of random walks; we use the simple join used in practice. The
 * node dials its seed, sends Join and puts the seed in its view (age 0). The seed adds the joiner
 * (age 0, evicting its oldest entry when full) and answers on that link with a ShuffleReply of up
 * to `maxEntriesPerMessage` random entries of its view, merged into the joiner's empty slots.
 * The joiner then fills its view by gossip: each of its rounds puts it (age 0) into a peer's view
 * and brings back up to `cyclonShuffleLength` entries. While its view is empty, a node rejoins
 * through its seeds with backoff (docs/protocol.md section 4, Retry: a node never gives up).
 *
 * Data plane: a view entry is an address, not a connection. `dataPeers()` returns one
 * `OnDemandPeer` per entry, which sends on the open link or dials and queues. Views are not
 * symmetric: a node must accept Routed from a peer that has it in its view though it does not
 * have that peer. Cyclon has no active view to decide that, so `isDataLink` is true for every
 * authenticated link while the node runs. The node's idle close then never applies, and
 * `OnDemandLinks` closes links itself at each round: ours to peers outside the view once idle,
 * and the least recently used past `2 * cyclonViewSize` links outside the view. Shuffle targets
 * and data share its dial limit: one dial per address per round (on-demand.ts).
 */
import { formatAddress, type Address, type NodeConfig } from '../config.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import { Timer, type Scheduled } from '../utils/clock.js';
import type { Logger } from '../utils/logger.js';
import { pickOne } from '../utils/random.js';
import { isOverEntryLimit, mergeEntries, passiveRefusal, peerFields } from './entries.js';
import { Seeds } from './seeds.js';
import { Healer } from './healing.js';
import { OnDemandLinks, type OnDemandPeer } from './on-demand.js';
import type {
  DataPeer,
  LinkCloseReason,
  MembershipContext,
  MembershipFactory,
  MembershipMessage,
  MembershipStrategy,
  PeerDownReason,
  PeerLink,
  Views,
} from './legacy-strategy.js';
import { View, type ViewEntry } from './view.js';

/** Ages travel as uint32: an entry older than this stays at it. */
const MAX_AGE = 0xffff_ffff;
/** Envelopes waiting per peer for an on-demand connection. */
const MAX_QUEUED = 64;

const COUNTERS = [
  'joins',
  'joinsSent',
  'shuffles',
  'shufflesReceived',
  'shuffleReplies',
  'shuffleRepliesReceived',
  'shuffleTimeouts',
  'evictions',
  'leavesReceived',
  'entriesRefused',
] as const;
type Counter = (typeof COUNTERS)[number];

interface CyclonEntry {
  /** Rounds since the entry was created by its node (as the node itself, at age 0). */
  age: number;
  /** What the router sends to; the same object for as long as the entry stays. */
  peer: OnDemandPeer;
}

/** Our Shuffle in flight: at most one, superseded by the next round. */
interface PendingShuffle {
  target: NodeInfo;
  /** Ids we sent: the reply's entries replace them first. */
  sent: ReadonlySet<string>;
  /** Set once the Shuffle is on the wire; a reply is accepted only then. */
  sentOn?: PeerLink;
  timer?: Scheduled;
}

export class Cyclon implements MembershipStrategy {
  readonly name = 'cyclon';
  readonly #ctx: MembershipContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #view: View<CyclonEntry>;
  readonly #links: OnDemandLinks;
  readonly #healer: Healer;
  readonly #roundTimer: Timer;
  readonly #counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>;
  /** Links we sent Join on, until the seed's ShuffleReply (or the link's close). */
  readonly #awaitingJoinReply = new Set<PeerLink>();
  #pending: PendingShuffle | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';
  readonly #seeds: Seeds;

  constructor(context: MembershipContext) {
    const { config, clock, random, self } = context;
    this.#ctx = context;
    this.#config = config;
    this.#log = context.log.child({ component: 'cyclon' });
    this.#seeds = new Seeds(context, this.#log);
    this.#view = new View(config.cyclonViewSize, self.id);
    this.#links = new OnDemandLinks({
      context,
      isInView: (id) => this.#view.has(id),
      maxSpareLinks: 2 * config.cyclonViewSize,
      maxQueued: MAX_QUEUED,
      maxDialsPerRound: Math.max(256, 4 * config.cyclonViewSize),
    });
    this.#healer = new Healer({
      clock,
      random,
      baseBackoffMs: config.retryBaseBackoffMs,
      maxBackoffMs: config.retryMaxBackoffMs,
      shouldHeal: () => this.#state === 'running' && this.#view.size === 0 && this.#seeds.size > 0,
      attempt: async () => ((await this.#joinThroughSeeds()) ? 'success' : 'failure'),
    });
    this.#roundTimer = new Timer(clock, () => this.#onRound());
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

  /** Cyclon has no neighbours to say goodbye to: every open link gets the Leave. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#roundTimer.stop();
    this.#healer.stop();
    this.#pending?.timer?.cancel();
    this.#pending = undefined;
    this.#links.stop({ leave: {} });
    for (const { data } of this.#view.entries()) data.peer.retire();
    this.#view.clear();
    this.#awaitingJoinReply.clear();
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  // --- node callbacks -------------------------------------------------------------------

  onLinkReady(link: PeerLink): void {
    if (this.#stopped) return;
    this.#links.touch(link);
  }

  onMessage(link: PeerLink, message: MembershipMessage): void {
    if (this.#stopped) return;
    this.#links.touch(link);
    switch (message.kind) {
      case 'join':
        return this.#onJoin(link);
      case 'shuffle':
        return this.#onShuffle(link, message.body.entries);
      case 'shuffleReply':
        return this.#onShuffleReply(link, message.body.entries);
      case 'leave':
        return this.#onLeave(link);
      default:
        // HyParView's active-view messages mean nothing here.
        this.#ctx.countDrop(`cyclon-ignored-${message.kind}`);
    }
  }

  /** Never touches the view: a closed connection is not a Cyclon failure. */
  onLinkClosed(link: PeerLink, _reason?: LinkCloseReason): void {
    if (this.#stopped) return;
    this.#links.forget(link);
    this.#awaitingJoinReply.delete(link);
    if (this.#pending?.sentOn === link) this.#timeoutPending('link closed before the reply');
  }

  onLinkReplaced(previous: PeerLink, next: PeerLink): void {
    if (this.#stopped) return;
    this.#links.replace(previous, next);
    if (this.#awaitingJoinReply.delete(previous)) this.#awaitingJoinReply.add(next);
    if (this.#pending?.sentOn === previous) this.#pending.sentOn = next;
  }

  // --- queries --------------------------------------------------------------------------

  isDataLink(link: PeerLink): boolean {
    return !this.#stopped && link.isOpen;
  }

  dataPeers(): DataPeer[] {
    return this.#view.entries().map((entry) => entry.data.peer);
  }

  views(): Views {
    return { active: this.#view.infos(), passive: [] };
  }

  stats(): Record<string, number> {
    return {
      ...this.#counters,
      ...this.#links.counters,
      viewSize: this.#view.size,
      openLinks: this.#links.size,
    };
  }

  // --- the round ------------------------------------------------------------------------

  #armRound(): void {
    const jitter = 0.75 + 0.5 * this.#ctx.random.float();
    this.#roundTimer.start(this.#config.shuffleIntervalMs * jitter);
  }

  #onRound(): void {
    if (this.#state !== 'running') return;
    if (this.#pending) this.#timeoutPending('no reply before the next round');
    for (const { data } of this.#view.entries()) data.age = Math.min(data.age + 1, MAX_AGE);
    this.#links.onRound();
    this.#startShuffle();
    this.#healer.maybeHeal();
    this.#armRound();
  }

  /** Steps 2-3 of the paper: the oldest entry leaves the view and gets our Shuffle. */
  #startShuffle(): void {
    const oldest = this.#oldest();
    if (!oldest) return;
    this.#removeEntry(oldest.info.id, 'evicted');
    const others = this.#view.randomEntries(this.#ctx.random, this.#config.cyclonShuffleLength - 1);
    const self = this.#ctx.self;
    // A node that does not listen cannot be dialled: it gossips others, never itself.
    const entries: PeerEntry[] = [
      ...(self.port !== 0 ? [{ node: self, age: 0 }] : []),
      ...others.map(toEntry),
    ];
    const pending: PendingShuffle = { target: oldest.info, sent: new Set(others.map((e) => e.info.id)) };
    this.#pending = pending;
    void this.#background(this.#sendShuffle(pending, entries), 'shuffle');
  }

  async #sendShuffle(pending: PendingShuffle, entries: PeerEntry[]): Promise<void> {
    const link = await this.#links.reach(pending.target);
    // Superseded by the next round, or stopped, while dialling.
    if (this.#pending !== pending) return;
    const shuffle = { origin: this.#ctx.self, entries, ttl: 0 };
    if (!link || !link.send({ shuffle })) return this.#timeoutPending('target unreachable');
    this.#counters.shuffles++;
    this.#links.touch(link);
    pending.sentOn = link;
    pending.timer = this.#ctx.clock.schedule(this.#config.shortLivedIdleMs, () => {
      if (this.#pending === pending) this.#timeoutPending('no reply in time');
    });
  }

  /** Q did not answer: it simply stays out of the view (the paper's only failure detection). */
  #timeoutPending(why: string): void {
    const pending = this.#pending;
    if (!pending) return;
    pending.timer?.cancel();
    this.#pending = undefined;
    this.#counters.shuffleTimeouts++;
    this.#log.debug({ ...peerFields(pending.target), why }, 'shuffle unanswered: target stays removed');
  }

  #oldest(): ViewEntry<CyclonEntry> | undefined {
    const entries = this.#view.entries();
    const maxAge = Math.max(...entries.map((e) => e.data.age));
    return pickOne(
      this.#ctx.random,
      entries.filter((e) => e.data.age === maxAge),
    );
  }

  // --- messages -------------------------------------------------------------------------

  /**
   * The seed's side of a join: answer with our entries, then take the joiner in. A repeated
   * Join on one link is answered again: it is a node whose view emptied, rejoining (and it
   * costs no more than a Shuffle, which anyone may send too).
   */
  #onJoin(link: PeerLink): void {
    this.#counters.joins++;
    const reply = this.#view.randomEntries(this.#ctx.random, this.#config.maxEntriesPerMessage, link.id);
    link.send({ shuffleReply: { entries: reply.map(toEntry) } });
    this.#admit(link.peer);
  }

  /** Q's side of a shuffle: answer on the same link, then merge, replacing what we answered. */
  #onShuffle(link: PeerLink, entries: readonly PeerEntry[]): void {
    if (isOverEntryLimit(this.#ctx, link, entries, 'shuffle')) return;
    this.#counters.shufflesReceived++;
    const reply = this.#view.randomEntries(this.#ctx.random, this.#config.cyclonShuffleLength, link.id);
    if (link.send({ shuffleReply: { entries: reply.map(toEntry) } })) this.#counters.shuffleReplies++;
    this.#merge(link, entries, new Set(reply.map((entry) => entry.info.id)));
  }

  #onShuffleReply(link: PeerLink, entries: readonly PeerEntry[]): void {
    if (isOverEntryLimit(this.#ctx, link, entries, 'shuffleReply')) return;
    if (this.#awaitingJoinReply.delete(link)) {
      this.#counters.shuffleRepliesReceived++;
      return this.#merge(link, entries, new Set());
    }
    const pending = this.#pending;
    // One reply per Shuffle, from its target: unsolicited entries could flood the view.
    if (!pending?.sentOn || pending.target.id !== link.id) {
      return this.#ctx.countDrop('shuffleReply-unsolicited');
    }
    pending.timer?.cancel();
    this.#pending = undefined;
    this.#counters.shuffleRepliesReceived++;
    this.#merge(link, entries, pending.sent);
  }

  /** A graceful exit (docs/protocol.md section 6): the one way out of the view besides shuffles. */
  #onLeave(link: PeerLink): void {
    this.#counters.leavesReceived++;
    this.#removeEntry(link.id, 'leave');
    this.#links.forget(link);
    link.close();
  }

  // --- the view -------------------------------------------------------------------------

  /**
   * The paper's merge: never self, nothing already present, empty slots first, then in place
   * of the entries in `sentIds`; the rest is discarded. Received entries keep their ages; the
   * sender's own entry is replaced by the NodeInfo it authenticated with.
   */
  #merge(link: PeerLink, entries: readonly PeerEntry[], sentIds: ReadonlySet<string>): void {
    const ages = new Map<string, number>();
    const nodes = entries.map((entry) => {
      const node = entry.node?.id === link.id ? link.peer : entry.node;
      if (node && !ages.has(node.id)) ages.set(node.id, Math.min(entry.age, MAX_AGE));
      return node;
    });
    const before = new Map(this.#view.entries().map((entry) => [entry.info.id, entry]));
    mergeEntries(nodes, {
      passive: this.#view,
      selfId: this.#ctx.self.id,
      isActive: () => false,
      sentIds,
      random: this.#ctx.random,
      evictUnsent: false,
      // An entry evicted and re-added by the same merge keeps its peer object: no event churn.
      fresh: (node) => ({
        age: ages.get(node.id) ?? 0,
        peer: before.get(node.id)?.data.peer ?? this.#links.peer(node),
      }),
      onRefused: (reason) => {
        if (reason === 'invalid' || reason === 'unreachable') this.#ctx.countDrop(`entry-${reason}`);
        this.#counters.entriesRefused++;
      },
    });
    for (const [id, entry] of before) {
      if (this.#view.has(id)) continue;
      entry.data.peer.retire();
      this.#ctx.peerDown(entry.info, 'evicted');
    }
    for (const { info, data } of this.#view.entries()) if (!before.has(info.id)) this.#ctx.peerUp(data.peer);
  }

  /** A joiner or a seed enters at age 0 (an entry already present is refreshed to 0). */
  #admit(info: NodeInfo): void {
    const existing = this.#view.get(info.id);
    if (existing) {
      existing.data.age = 0;
      return;
    }
    const refusal = passiveRefusal(info, this.#ctx.self.id, () => false);
    if (refusal !== undefined) {
      this.#counters.entriesRefused++;
      return;
    }
    const oldest = this.#view.isFull ? this.#oldest() : undefined;
    if (oldest) {
      this.#removeEntry(oldest.info.id, 'evicted');
      this.#counters.evictions++;
    }
    const peer = this.#links.peer(info);
    if (this.#view.add(info, { age: 0, peer }) === 'added') this.#ctx.peerUp(peer);
  }

  #removeEntry(id: string, reason: PeerDownReason): void {
    const entry = this.#view.remove(id);
    if (!entry) return;
    entry.data.peer.retire();
    this.#ctx.peerDown(entry.info, reason);
  }

  // --- joining --------------------------------------------------------------------------

  #joinThroughSeeds(): Promise<boolean> {
    return this.#seeds.joinFirst(
      (seed) => this.#joinVia(seed),
      () => this.#stopped,
    );
  }

  /** Dials a contact, sends Join and puts the contact in the view; its reply fills the rest. */
  async #joinVia(seed: Address): Promise<boolean> {
    const link = await this.#seeds.dial(seed);
    if (this.#stopped || !link || !link.send({ join: {} })) return false;
    this.#counters.joinsSent++;
    this.#links.touch(link);
    this.#awaitingJoinReply.add(link);
    this.#admit(link.peer);
    this.#log.debug({ ...peerFields(link.peer), seed: formatAddress(seed) }, 'join sent');
    return this.#view.has(link.id);
  }

  /** Callbacks must not throw nor leave rejections behind (strategy.ts): log, never rethrow. */
  #background(work: Promise<unknown>, what: string): Promise<void> {
    return work.then(
      () => undefined,
      (err: unknown) => this.#log.warn({ err }, `${what} failed`),
    );
  }
}

function toEntry({ info, data }: ViewEntry<CyclonEntry>): PeerEntry {
  return { node: info, age: data.age };
}

export const createCyclon: MembershipFactory = (context) => new Cyclon(context);
