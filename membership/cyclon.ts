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
 * Data plane: a view entry is an address, not a connection. `dataPeers()` returns the view's ids,
 * and `sendData` sends on the open link or dials and queues (on-demand-links.ts). Views are not
 * symmetric: a node must accept Routed from a peer that has it in its view though it does not
 * have that peer. Cyclon has no active view to decide that, so `isDataPeer` is true for every
 * linked peer while the node runs. The node's idle close then never applies, and
 * `OnDemandLinks` closes links itself at each round: ours to peers outside the view once idle,
 * and the least recently used past `2 * cyclonViewSize` links outside the view. Shuffle targets
 * and data share its dial limit: one dial per address per round.
 *
 * A synchronous state machine (strategy.ts): every dial is matched to its purpose (a join, or a
 * reach of OnDemandLinks) by `PendingDials`, and the rejoin loop is a `RepairLoop` over the
 * `Contacts`, whose attempt stays pending until the walk over the seeds ends.
 */
import { formatAddress, type Address, type NodeConfig } from '../config.js';
import type { Envelope, NodeInfo, PeerEntry } from '../proto/messages.js';
import { Timer } from '../utils/clock.js';
import type { Logger } from '../utils/logger.js';
import { pickOne } from '../utils/random.js';
import { Contacts } from './contacts.js';
import { addressKey, mergeEntries, passiveRefusal, peerFields } from './entries.js';
import { OnDemandLinks } from './on-demand-links.js';
import { PendingDials } from './pending-dials.js';
import { RepairLoop, type AttemptOutcome } from './repair-loop.js';
import { RoundTimer } from './round-timer.js';
import type {
  CheckedMembershipMessage,
  CheckedPeerEntry,
  LinkCloseReason,
  LinkUp,
  MembershipContext,
  MembershipFactory,
  MembershipStrategy,
  PeerDownReason,
  Views,
} from './strategy.js';
import { View, type ViewEntry } from './view.js';

/** Ages travel as uint32: an entry older than this stays at it. */
export const MAX_AGE = 0xffff_ffff;
/** Envelopes waiting per peer for an on-demand connection. */
export const MAX_QUEUED = 64;

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
}

/** Our Shuffle in flight: at most one, superseded by the next round. */
interface PendingShuffle {
  target: NodeInfo;
  entries: PeerEntry[];
  /** Ids we sent: the reply's entries replace them first. */
  sent: ReadonlySet<string>;
  /** Set once the Shuffle is on the wire; a reply is accepted only then. */
  isSent: boolean;
  /** The reply's deadline, armed once the Shuffle is on the wire. */
  timer: Timer;
}

/** Why a dial was made: a Join (in the walk over the seeds, or to one contact), or a reach. */
type DialPurpose = { kind: 'join'; isWalk: boolean } | { kind: 'reach' };

/** What a test may look at beyond `views()` and `stats()`: ages and queues. */
export interface CyclonSnapshot {
  entries: Array<{ id: string; age: number }>;
  queueLengths: number[];
}

export class Cyclon implements MembershipStrategy {
  readonly name = 'cyclon';
  readonly #ctx: MembershipContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #view: View<CyclonEntry>;
  readonly #links: OnDemandLinks;
  readonly #dials: PendingDials<DialPurpose>;
  readonly #contacts: Contacts;
  readonly #repair: RepairLoop;
  readonly #rounds: RoundTimer;
  readonly #counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>;
  /** Peers we sent Join to, until the seed's ShuffleReply (or the link's close). */
  readonly #expectingJoinReply = new Set<string>();
  #pending: PendingShuffle | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';

  constructor(context: MembershipContext) {
    const { config, clock, random, self } = context;
    this.#ctx = context;
    this.#config = config;
    this.#log = context.log.child({ component: 'cyclon' });
    this.#view = new View(config.cyclonViewSize, self.id);
    this.#dials = new PendingDials(context);
    this.#contacts = new Contacts(this.#log);
    this.#links = new OnDemandLinks({
      context,
      dial: (address) => this.#dials.dial(address, { kind: 'reach' }),
      isInView: (id) => this.#view.has(id),
      maxSpareLinks: 2 * config.cyclonViewSize,
      maxQueued: MAX_QUEUED,
      maxDialsPerRound: Math.max(256, 4 * config.cyclonViewSize),
    });
    this.#repair = new RepairLoop({
      clock,
      random,
      baseBackoffMs: config.retryBaseBackoffMs,
      maxBackoffMs: config.retryMaxBackoffMs,
      shouldHeal: () => this.#state === 'running' && this.#view.size === 0 && this.#contacts.size > 0,
      attempt: () => this.#beginSeedWalk(),
    });
    this.#rounds = new RoundTimer(clock, random, config.shuffleIntervalMs, () => this.#onRound());
  }

  // --- lifecycle ------------------------------------------------------------------------

  start(seeds: readonly Address[]): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#contacts.replace(seeds);
    this.#rounds.start();
    this.#repair.maybeHeal();
  }

  join(contact: Address): void {
    if (this.#state !== 'running') return;
    this.#contacts.add(contact);
    this.#dials.dial(contact, { kind: 'join', isWalk: false });
  }

  /** Cyclon has no neighbours to say goodbye to: every open link gets the Leave. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#rounds.stop();
    this.#repair.stop();
    this.#pending?.timer.stop();
    this.#pending = undefined;
    this.#links.stop({ leave: {} });
    this.#dials.clear();
    this.#contacts.end();
    this.#view.clear();
    this.#expectingJoinReply.clear();
  }

  get #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  // --- inputs ---------------------------------------------------------------------------

  onLinkUp(link: LinkUp): void {
    if (this.#isStopped) return;
    this.#links.onLinkUp(link);
  }

  onDialed(address: Address, peerId: string): void {
    this.#onDialOutcome(address, peerId);
  }

  onDialFailed(address: Address): void {
    this.#onDialOutcome(address, undefined);
  }

  onMessage(from: string, message: CheckedMembershipMessage): void {
    if (this.#isStopped) return;
    this.#links.touch(from);
    switch (message.kind) {
      case 'join':
        return this.#onJoin(from);
      case 'shuffle':
        return this.#onShuffle(from, message.body.entries);
      case 'shuffleReply':
        return this.#onShuffleReply(from, message.body.entries);
      case 'leave':
        return this.#onLeave(from);
      default:
        // HyParView's active-view messages mean nothing here.
        this.#ctx.countDrop(`cyclon-ignored-${message.kind}`);
    }
  }

  /** Never touches the view: a closed connection is not a Cyclon failure. */
  onLinkDown(peerId: string, _reason: LinkCloseReason): void {
    if (this.#isStopped) return;
    this.#links.onLinkDown(peerId);
    this.#expectingJoinReply.delete(peerId);
    const pending = this.#pending;
    if (pending?.isSent && pending.target.id === peerId) this.#timeoutPending('link closed before the reply');
  }

  // --- queries --------------------------------------------------------------------------

  isDataPeer(peerId: string): boolean {
    return !this.#isStopped && this.#ctx.isLinked(peerId);
  }

  dataPeers(): readonly string[] {
    return this.#view.ids();
  }

  /** A view entry's data: on its open link, or queued while one dial to it is in flight. */
  sendData(peerId: string, envelope: Envelope): boolean {
    const entry = this.#view.get(peerId);
    if (!entry || this.#isStopped) return false;
    return this.#links.send(entry.info, envelope);
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

  snapshot(): CyclonSnapshot {
    return {
      entries: this.#view.entries().map(({ info, data }) => ({ id: info.id, age: data.age })),
      queueLengths: this.#links.queueLengths(),
    };
  }

  // --- dials ----------------------------------------------------------------------------

  #onDialOutcome(address: Address, peerId: string | undefined): void {
    if (this.#isStopped) return;
    const purpose = this.#dials.settle(address);
    if (purpose?.kind === 'reach') {
      this.#links.onDialOutcome(address, peerId);
      this.#maybeSendPendingShuffle(address);
    } else if (purpose?.kind === 'join') {
      this.#onJoinDialed(address, peerId, purpose.isWalk);
    }
  }

  // --- the round ------------------------------------------------------------------------

  #onRound(): void {
    if (this.#state !== 'running') return;
    if (this.#pending) this.#timeoutPending('no reply before the next round');
    for (const { data } of this.#view.entries()) data.age = Math.min(data.age + 1, MAX_AGE);
    this.#links.onRound();
    this.#startShuffle();
    this.#repair.maybeHeal();
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
    const pending: PendingShuffle = {
      target: oldest.info,
      entries,
      sent: new Set(others.map((e) => e.info.id)),
      isSent: false,
      timer: new Timer(this.#ctx.clock, () => {
        if (this.#pending === pending) this.#timeoutPending('no reply in time');
      }),
    };
    this.#pending = pending;
    const reach = this.#links.reach(oldest.info);
    if (reach === 'linked') this.#sendShuffle(pending);
    else if (reach === 'refused') this.#timeoutPending('target unreachable');
  }

  /** A reach settled: the Shuffle waiting on that address goes out, or its target is unreachable. */
  #maybeSendPendingShuffle(address: Address): void {
    const pending = this.#pending;
    if (!pending || pending.isSent || addressKey(pending.target) !== addressKey(address)) return;
    if (this.#ctx.isLinked(pending.target.id)) this.#sendShuffle(pending);
    else this.#timeoutPending('target unreachable');
  }

  #sendShuffle(pending: PendingShuffle): void {
    const { target, entries } = pending;
    const shuffle = { origin: this.#ctx.self, entries, ttl: 0 };
    if (!this.#ctx.send(target.id, { shuffle })) return this.#timeoutPending('target unreachable');
    this.#counters.shuffles++;
    this.#links.touch(target.id);
    pending.isSent = true;
    pending.timer.start(this.#config.shortLivedIdleMs);
  }

  /** Q did not answer: it simply stays out of the view (the paper's only failure detection). */
  #timeoutPending(why: string): void {
    const pending = this.#pending;
    if (!pending) return;
    pending.timer.stop();
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
  #onJoin(from: string): void {
    this.#counters.joins++;
    const reply = this.#view.randomEntries(this.#ctx.random, this.#config.maxEntriesPerMessage, from);
    this.#ctx.send(from, { shuffleReply: { entries: reply.map(toEntry) } });
    const peer = this.#links.peerOf(from);
    if (peer) this.#admit(peer);
  }

  /** Q's side of a shuffle: answer on the same link, then merge, replacing what we answered. */
  #onShuffle(from: string, entries: readonly CheckedPeerEntry[]): void {
    this.#counters.shufflesReceived++;
    const reply = this.#view.randomEntries(this.#ctx.random, this.#config.cyclonShuffleLength, from);
    if (this.#ctx.send(from, { shuffleReply: { entries: reply.map(toEntry) } }))
      this.#counters.shuffleReplies++;
    this.#merge(from, entries, new Set(reply.map((entry) => entry.info.id)));
  }

  #onShuffleReply(from: string, entries: readonly CheckedPeerEntry[]): void {
    if (this.#expectingJoinReply.delete(from)) {
      this.#counters.shuffleRepliesReceived++;
      return this.#merge(from, entries, new Set());
    }
    const pending = this.#pending;
    // One reply per Shuffle, from its target: unsolicited entries could flood the view.
    if (!pending?.isSent || pending.target.id !== from) {
      return this.#ctx.countDrop('shuffleReply-unsolicited');
    }
    pending.timer.stop();
    this.#pending = undefined;
    this.#counters.shuffleRepliesReceived++;
    this.#merge(from, entries, pending.sent);
  }

  /** A graceful exit (docs/protocol.md section 6): the one way out of the view besides shuffles. */
  #onLeave(from: string): void {
    this.#counters.leavesReceived++;
    this.#removeEntry(from, 'leave');
    this.#links.forget(from);
    this.#ctx.disconnect(from);
  }

  // --- the view -------------------------------------------------------------------------

  /**
   * The paper's merge: never self, nothing already present, empty slots first, then in place
   * of the entries in `sentIds`; the rest is discarded. Received entries keep their ages; the
   * sender's own entry is replaced by the NodeInfo it authenticated with.
   */
  #merge(from: string, entries: readonly CheckedPeerEntry[], sentIds: ReadonlySet<string>): void {
    const sender = this.#links.peerOf(from);
    const ages = new Map<string, number>();
    const nodes = entries.map((entry) => {
      const node = sender && entry.node.id === from ? sender : entry.node;
      if (!ages.has(node.id)) ages.set(node.id, Math.min(entry.age, MAX_AGE));
      return node;
    });
    const before = new Map(this.#view.entries().map((entry) => [entry.info.id, entry.info]));
    mergeEntries(nodes, {
      passive: this.#view,
      selfId: this.#ctx.self.id,
      isActive: () => false,
      sentIds,
      random: this.#ctx.random,
      evictUnsent: false,
      fresh: (node) => ({ age: ages.get(node.id) ?? 0 }),
      onRefused: (reason) => {
        if (reason === 'unreachable') this.#ctx.countDrop(`entry-${reason}`);
        this.#counters.entriesRefused++;
      },
    });
    // An entry evicted and re-added by the same merge stays up: no event churn.
    for (const [id, info] of before) if (!this.#view.has(id)) this.#ctx.peerDown(info, 'evicted');
    for (const info of this.#view.infos()) if (!before.has(info.id)) this.#ctx.peerUp(info);
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
    if (this.#view.add(info, { age: 0 }) === 'added') this.#ctx.peerUp(info);
  }

  #removeEntry(id: string, reason: PeerDownReason): void {
    const entry = this.#view.remove(id);
    if (entry) this.#ctx.peerDown(entry.info, reason);
  }

  // --- joining --------------------------------------------------------------------------

  /** One attempt of the rejoin loop: a walk over the seeds, in order, until one takes the Join. */
  #beginSeedWalk(): AttemptOutcome | 'pending' {
    const seed = this.#contacts.begin();
    if (!seed) return 'idle';
    this.#dials.dial(seed, { kind: 'join', isWalk: true });
    return 'pending';
  }

  #onJoinDialed(address: Address, peerId: string | undefined, isWalk: boolean): void {
    const isJoined = peerId !== undefined && this.#sendJoin(address, peerId);
    if (!isWalk) {
      if (!isJoined) this.#log.warn({ seed: formatAddress(address) }, 'contact unreachable');
      return;
    }
    if (isJoined) {
      this.#contacts.end();
      return this.#repair.finish('success');
    }
    const next = this.#contacts.next();
    if (next) this.#dials.dial(next, { kind: 'join', isWalk: true });
    else this.#repair.finish('failure');
  }

  /** Sends Join to the peer a seed's address reached and puts it in the view; its reply fills the rest. */
  #sendJoin(seed: Address, peerId: string): boolean {
    const peer = this.#links.peerOf(peerId);
    if (!peer || peerId === this.#ctx.self.id || !this.#ctx.send(peerId, { join: {} })) return false;
    this.#counters.joinsSent++;
    this.#links.touch(peerId);
    this.#expectingJoinReply.add(peerId);
    this.#admit(peer);
    this.#log.debug({ ...peerFields(peer), seed: formatAddress(seed) }, 'join sent');
    return this.#view.has(peerId);
  }
}

function toEntry({ info, data }: ViewEntry<CyclonEntry>): PeerEntry {
  return { node: info, age: data.age };
}

export const createCyclon: MembershipFactory = (context) => new Cyclon(context);
