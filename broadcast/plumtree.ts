/**
 * Plumtree, epidemic broadcast trees (Leitão, Pereira, Rodrigues, SRDS 2007).
 *
 * Every data peer is either eager (gets full copies) or lazy (gets only IHave announcements).
 * Links start eager, so the first broadcasts flood; each redundant copy prunes the link it came
 * over, until the eager links form a spanning tree and a broadcast costs one copy per node.
 * Lazy links keep the tree honest: a node that hears of a message (IHave) but does not receive
 * it within `plumtreeGraftTimeoutMs` grafts it from the announcer, which also turns that link
 * eager, and so repairs the tree after a link or node fails.
 *
 * ```
 *   A (eager to B and C)         B                      C
 *   |-- Routed m1 -------------->|-- Routed m1 -------->|   C already has m1 from A:
 *   |                            |<------------- Prune -|   B-C becomes lazy both ways
 *   |-- Routed m2 -------------->|-- IHave m2 (batched)->|  C has m2 from A: IHave ignored
 *   X link A-C dies
 *   |-- Routed m3 -------------->|-- IHave m3 ---------->|  C lacks m3: timer starts
 *                                |<------- Graft m3 -----|  timer expired: B-C eager again
 *                                |-- Routed m3 --------->|  delivered; the tree is repaired
 * ```
 *
 * One deviation from the paper, for broadcasts that overlap (several origins at once, a busy
 * chat): a duplicate prunes its link only if that link has not brought a first copy within
 * `plumtreePruneGraceMs`. The paper decides each prune on one message, as if it were alone; two
 * messages in flight then prune the tree each of the other needs (node C prunes F for m1 while
 * m2 reaches D through F and C, and D prunes its own last other link), nodes are left with no
 * eager path, Grafts a second late take over, and at one broadcast every 50 ms the tree never
 * forms again (RMR 0.65, 32% of deliveries by Graft, on 100 nodes with 5-44 ms links). With the
 * grace: RMR 0.23 and no Graft; one broadcast at a time, nothing changes.
 *
 * Only the lazy set is stored: every data peer not in it is eager. A peer that comes up is
 * therefore eager without ceremony, and a peer the membership forgot to report is still served.
 */
import { LRUCache } from 'lru-cache';
import type { IdList, Routed } from '../proto/messages.js';
import { Timer, type Scheduled } from '../utils/clock.js';
import { Counters } from '../utils/counters.js';
import { lruOptions } from '../utils/lru.js';
import {
  messageKey,
  type BroadcastContext,
  type BroadcastMessage,
  type BroadcastStrategy,
  type ControlBody,
  type ControlKind,
  type MessageRef,
} from './strategy.js';

/** What this node remembers of a message it accepted or originated. */
interface Cached {
  readonly ref: MessageRef;
  /** The copy as this node pushes it, TTL and hops stepped: what a Graft gets back (none once TTL ran out). */
  routed: Routed | undefined;
  /** The peer the first copy came from: this node's parent in the tree of that message. */
  readonly parent: string | undefined;
  /** Every peer a copy came from. */
  readonly senders: Set<string>;
}

/** A message announced by IHave and not received yet. */
interface Missing {
  readonly ref: MessageRef;
  /** Peers that announced it, in order of announcement: the first one is grafted first. */
  readonly announcers: string[];
  timer: Scheduled;
}

export function createPlumtree(context: BroadcastContext): BroadcastStrategy {
  return new Plumtree(context);
}

class Plumtree implements BroadcastStrategy {
  readonly name = 'plumtree';
  readonly #context: BroadcastContext;
  readonly #lazy = new Set<string>();
  /** When each data peer last brought the first copy of a message (see plumtreePruneGraceMs). */
  readonly #firstCopyAt = new Map<string, number>();
  readonly #cache: LRUCache<string, Cached>;
  readonly #missing = new Map<string, Missing>();
  /** IHave entries waiting for the next flush, per lazy peer. */
  readonly #queues = new Map<string, IdList>();
  readonly #flushTimer: Timer;
  #stopped = false;
  readonly #counters = new Counters([
    'ihaveSent',
    'ihaveIdsSent',
    'ihaveReceived',
    'ihaveIgnored',
    'graftsSent',
    'graftsReceived',
    'graftAnswers',
    'graftMisses',
    'prunesSent',
    'prunesReceived',
    'prunesSpared',
  ]);

  constructor(context: BroadcastContext) {
    this.#context = context;
    const { plumtreeCacheSize, seenCacheTtlMs } = context.config;
    // A Graft for a message older than the seen cache could not be told from a new one anyway.
    this.#cache = new LRUCache<string, Cached>(
      lruOptions({ entries: plumtreeCacheSize, ttlMs: seenCacheTtlMs, clock: context.clock }),
    );
    this.#flushTimer = new Timer(context.clock, () => this.#flushAll());
  }

  onMessage(message: BroadcastMessage, from: string | undefined): void {
    if (this.#stopped) return;
    this.#forgetMissing(message.key);
    // The paper: whoever delivered the first copy is on the tree, so the link becomes eager.
    if (from !== undefined) {
      this.#lazy.delete(from);
      this.#firstCopyAt.set(from, this.#context.clock.now());
    }
    const senders = new Set(from === undefined ? [] : [from]);
    this.#cache.set(message.key, { ref: refOf(message), routed: message.next, parent: from, senders });
    if (message.next) this.#push(message, message.next, [from]);
  }

  /**
   * The reforward rule (TTL) is not in the paper, whose nodes push a message once. Adapted so it
   * cannot cut the tree: the copy goes neither back to the sender nor to the parent, which both
   * have the message, and a peer's second copy is never taken for a redundant path (below).
   */
  onReforward(message: BroadcastMessage, from: string): void {
    if (this.#stopped || !message.next) return;
    const cached = this.#cached(message);
    cached.senders.add(from);
    // The copy with more TTL is the better answer to a later Graft.
    cached.routed = message.next;
    this.#push(message, message.next, [from, cached.parent]);
  }

  onDuplicate(message: MessageRef, from: string): void {
    if (this.#stopped) return;
    const senders = this.#cache.get(message.key)?.senders;
    // A peer's second copy is its reforward: its first copy already told whether the link is on
    // the tree, and pruning now could cut the tree.
    if (!this.#isDataPeer(from) || senders?.has(from)) return;
    senders?.add(from);
    if (this.#isRecentTreeLink(from)) {
      this.#counters.increment('prunesSpared');
      return;
    }
    // A redundant copy means the link closes a cycle of the eager graph: cut it on both sides.
    this.#lazy.add(from);
    if (this.#context.sendControl(from, 'prune', {})) this.#counters.increment('prunesSent');
  }

  onControl(from: string, kind: ControlKind, body: ControlBody): boolean {
    if (this.#stopped) return true;
    if (kind === 'prune') {
      this.#counters.increment('prunesReceived');
      this.#lazy.add(from);
    } else if (kind === 'ihave') {
      this.#onIHave(from, body as IdList);
    } else {
      this.#onGraft(from, body as IdList);
    }
    return true;
  }

  onPeerUp(peerId: string): void {
    this.#lazy.delete(peerId);
  }

  onPeerDown(peerId: string): void {
    this.#lazy.delete(peerId);
    this.#firstCopyAt.delete(peerId);
    this.#queues.delete(peerId);
    for (const missing of this.#missing.values()) {
      const index = missing.announcers.indexOf(peerId);
      if (index >= 0) missing.announcers.splice(index, 1);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#flushTimer.stop();
    for (const missing of this.#missing.values()) missing.timer.cancel();
    this.#missing.clear();
    this.#queues.clear();
  }

  stats(): Record<string, number> {
    const peers = this.#context.dataPeers();
    const lazy = peers.filter((peerId) => this.#lazy.has(peerId)).length;
    return {
      ...this.#counters.snapshot(),
      eagerPeers: peers.length - lazy,
      lazyPeers: lazy,
      missingTracked: this.#missing.size,
      cachedMessages: this.#cache.size,
    };
  }

  /** Eager peers get the copy now, lazy peers an announcement at the next flush. */
  #push(ref: MessageRef, routed: Routed, skip: ReadonlyArray<string | undefined>): void {
    for (const peerId of this.#context.dataPeers()) {
      if (skip.includes(peerId)) continue;
      if (this.#lazy.has(peerId)) this.#enqueue(peerId, ref);
      else this.#context.sendRouted(peerId, ref, routed);
    }
  }

  #onIHave(from: string, list: IdList): void {
    this.#counters.increment('ihaveReceived');
    const { plumtreeCacheSize, plumtreeGraftTimeoutMs } = this.#context.config;
    list.ids.forEach((id, i) => {
      const originId = list.origins[i] ?? '';
      if (this.#context.hasSeen(originId, id)) return;
      const key = messageKey(originId, id);
      let missing = this.#missing.get(key);
      if (!missing) {
        // Bounded like the cache: a peer announcing ids that never come cannot grow it further.
        if (this.#missing.size >= plumtreeCacheSize) {
          this.#counters.increment('ihaveIgnored');
          return;
        }
        const timer = this.#context.clock.schedule(plumtreeGraftTimeoutMs, () => this.#onGraftTimer(key));
        missing = { ref: { key, originId, id }, announcers: [], timer };
        this.#missing.set(key, missing);
      }
      if (!missing.announcers.includes(from)) missing.announcers.push(from);
    });
  }

  /** The message did not come in time: graft it from the next announcer still connected. */
  #onGraftTimer(key: string): void {
    const missing = this.#missing.get(key);
    if (this.#stopped || !missing) return;
    let announcer = missing.announcers.shift();
    while (announcer !== undefined && !this.#isDataPeer(announcer)) announcer = missing.announcers.shift();
    if (announcer === undefined) {
      // Nobody left to ask; a later IHave starts over.
      this.#missing.delete(key);
      return;
    }
    this.#lazy.delete(announcer);
    const body: IdList = { ids: [missing.ref.id], origins: [missing.ref.originId] };
    if (this.#context.sendControl(announcer, 'graft', body)) this.#counters.increment('graftsSent');
    // Should that answer be lost too, the next announcer is asked after another timeout.
    missing.timer = this.#context.clock.schedule(this.#context.config.plumtreeGraftTimeoutMs, () =>
      this.#onGraftTimer(key),
    );
  }

  #onGraft(from: string, list: IdList): void {
    this.#counters.increment('graftsReceived');
    this.#lazy.delete(from);
    list.ids.forEach((id, i) => {
      const cached = this.#cache.get(messageKey(list.origins[i] ?? '', id));
      if (!cached?.routed) {
        this.#counters.increment('graftMisses');
        return;
      }
      if (this.#context.sendRouted(from, cached.ref, cached.routed)) this.#counters.increment('graftAnswers');
    });
  }

  /**
   * Whether this peer brought the first copy of a message within plumtreePruneGraceMs: then the
   * link is on the tree of a broadcast still in flight, whatever this duplicate says.
   */
  #isRecentTreeLink(peerId: string): boolean {
    const at = this.#firstCopyAt.get(peerId);
    return at !== undefined && this.#context.clock.now() - at < this.#context.config.plumtreePruneGraceMs;
  }

  /** The cache entry of a message, recreated if it was evicted. */
  #cached(message: MessageRef): Cached {
    let cached = this.#cache.get(message.key);
    if (!cached) {
      cached = { ref: refOf(message), routed: undefined, parent: undefined, senders: new Set() };
      this.#cache.set(message.key, cached);
    }
    return cached;
  }

  #forgetMissing(key: string): void {
    this.#missing.get(key)?.timer.cancel();
    this.#missing.delete(key);
  }

  #enqueue(peerId: string, ref: MessageRef): void {
    let queue = this.#queues.get(peerId);
    if (!queue) {
      queue = { ids: [], origins: [] };
      this.#queues.set(peerId, queue);
    }
    queue.ids.push(ref.id);
    queue.origins.push(ref.originId);
    // A full list goes out at once, so no IHave ever exceeds maxIdsPerMessage.
    if (queue.ids.length >= this.#context.config.maxIdsPerMessage) this.#flushPeer(peerId);
    else this.#flushTimer.maybeStart(this.#context.config.plumtreeLazyFlushMs);
  }

  #flushAll(): void {
    for (const peerId of [...this.#queues.keys()]) this.#flushPeer(peerId);
  }

  #flushPeer(peerId: string): void {
    const queue = this.#queues.get(peerId);
    this.#queues.delete(peerId);
    if (!queue || !this.#isDataPeer(peerId)) return;
    if (this.#context.sendControl(peerId, 'ihave', queue)) {
      this.#counters.increment('ihaveSent');
      this.#counters.increment('ihaveIdsSent', queue.ids.length);
    }
  }

  #isDataPeer(peerId: string): boolean {
    return this.#context.dataPeers().includes(peerId);
  }
}

/** Keeps only the reference: the cache must not pin the message object the router built. */
function refOf(message: MessageRef): MessageRef {
  return { key: message.key, originId: message.originId, id: message.id };
}
