/**
 * The data plane (docs/protocol.md section 5): originates, checks, deduplicates, delivers and
 * forwards `Routed` messages, learns routes, and answers direct Texts with Receipts. It never
 * touches a socket: the node hands it authenticated data peers and their messages, so it runs
 * unchanged over the in-memory mesh of the tests and the lab.
 *
 * Which neighbours get a broadcast is the job of a `BroadcastStrategy` (flood, gossip, plumtree);
 * everything a strategy must not change lives here, in this order for every copy received:
 *
 *   cap TTL, check hops -> decode -> seen? (same bytes and more TTL: forward again; else duplicate)
 *   -> validate payload -> verify signature (bad: punish the neighbour) -> origin over its text
 *   rate? (drop, remembered as seen) -> mark seen -> learn route -> deliver if for this node -> forward while TTL lasts (direct: next hop or flood; broadcast:
 *   the strategy)
 *
 * Seen-cache invariant: an entry must outlive every copy of its message still in flight, or a
 * late copy would be delivered twice. Honest relays forward at once, and a copy crosses at most
 * `maxTtl` links, so the copies of a message die within `maxTtl` link delays (milliseconds to
 * seconds), far below `seenCacheTtlMs` (10 minutes by default). The cache must also be large
 * enough for every message of that window: `seenCacheSize` >= messages per second across the
 * mesh x the lifetime of copies. A neighbour that replays a genuine message after its entry
 * expired gets it delivered again; TTL alone cannot prevent that, since each relay may reset it.
 *
 * Callbacks of `RouterContext` are called synchronously and must not throw.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { customRandom, urlAlphabet } from 'nanoid';
import type { NodeConfig } from './config.js';
import type { Identity } from './crypto/identity.js';
import type { SignatureChecker } from './crypto/signatures.js';
import type { DataPeer } from './membership/strategy.js';
import { encodePayload, decodePayload, type IdList, type NodeInfo, type Payload } from './proto/messages.js';
import { uint64ToNumber } from './proto/uint64.js';
import type { Routed } from './proto/messages.js';
import { createBroadcastStrategy } from './broadcast/registry.js';
import {
  CONTROL_PROBLEMS,
  LOBBY,
  MAX_ROOM_BYTES,
  MAX_TEXT_BYTES,
  NODE_ID,
  PAYLOAD_PROBLEMS,
  idListProblem,
  payloadProblem,
  type DropReason,
} from './router-rules.js';
import {
  bump,
  messageKey,
  type BroadcastStrategy,
  type ControlBody,
  type ControlKind,
  type MessageRef,
} from './broadcast/strategy.js';
import type { Clock, Scheduled } from './utils/clock.js';
import type { Random } from './utils/random.js';
import type { Logger } from './utils/logger.js';
import { KeyedRate } from './utils/keyed-rate.js';
import { FifoCache } from './utils/fifo-cache.js';
import { lruOptions } from './utils/lru.js';
import { TokenBucket } from './utils/token-bucket.js';

// The limits of routed input, re-exported for the node.
export {
  LOBBY,
  MAX_ROOM_BYTES,
  MAX_TEXT_BYTES,
  idListProblem,
  isIdListWithinLimit,
  payloadProblem,
} from './router-rules.js';

export interface RouterContext {
  /** Signs own messages. */
  readonly identity: Identity;
  /** Own NodeInfo; goes into `payload.origin`. */
  readonly self: NodeInfo;
  readonly config: NodeConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /** Checks origins' signatures (keys cached; the lab shares one across its nodes). */
  readonly signatures: SignatureChecker;
  /** The current forwarding set, from the membership strategy. */
  dataPeers(): DataPeer[];
  /** A message for this node: a broadcast to a joined room, or a direct Text to it. */
  deliver(message: DeliveredMessage): void;
  /** A Receipt for one of this node's direct Texts. */
  receipt(event: ReceiptEvent): void;
  /** No Receipt within `receiptTimeoutMs`. */
  receiptMissing(event: { messageId: string; to: string }): void;
  /** A neighbour relayed a bad signature: the node disconnects and bans it. */
  punish(peerId: string, reason: string): void;
  /** Optional hook for the lab's measurements. */
  observe?(event: RouterObservation): void;
}

export interface DeliveredMessage {
  id: string;
  from: NodeInfo;
  /** This node's id for a direct Text, null for a broadcast. */
  to: string | null;
  /** The room of a broadcast ('lobby' for an empty one), null for a direct Text. */
  room: string | null;
  text: string;
  /** Links the delivered copy crossed. */
  hops: number;
  /** This node's clock minus the origin's `sent_at_ms`: skewed clocks skew it, even below 0. */
  latencyMs: number;
  sentAtMs: number;
}

export interface ReceiptEvent {
  messageId: string;
  from: NodeInfo;
  hops: number;
}

/** For the lab. `originId` and `id` are '' for a copy dropped before its payload was decoded. */
export type RouterObservation =
  | { type: 'receive'; originId: string; id: string; hops: number; duplicate: boolean; fromPeer: string }
  | { type: 'send'; originId: string; id: string; toPeer: string }
  | { type: 'control'; kind: ControlKind; toPeer: string };

const SIGNATURE_CONTEXT = Buffer.from('overlay-v1-msg');
const NANOID_CHARS = 21;

interface SeenEntry {
  /** The first 128 bits of the payload's SHA-256, as a 16-character string: 32 bytes of heap,
   *  where a Buffer costs about 250 (an ArrayBuffer, its backing store and a view). */
  readonly hash: string;
  /** Highest TTL the message was forwarded with; 0 when it was not forwarded. */
  forwardedTtl: number;
}

interface Route {
  readonly via: string;
  readonly hops: number;
  readonly learnedAtMs: number;
}

/** A copy received, with TTL capped and hops checked. */
interface Arrival {
  readonly from: DataPeer;
  readonly payload: Payload;
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly ttl: number;
  readonly hops: number;
  readonly ref: MessageRef;
}

type Content = { text: { body: string } } | { receipt: { messageId: string } };

export class Router {
  readonly #context: RouterContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #strategy: BroadcastStrategy;
  readonly #seen: FifoCache<SeenEntry>;
  readonly #routes: LRUCache<string, Route>;
  readonly #pendingReceipts = new Map<string, { to: string; timer: Scheduled }>();
  readonly #rooms = new Set<string>([LOBBY]);
  readonly #newId: () => string;
  readonly #counters: Record<string, number> = {};
  /** Texts accepted per origin. Relays allow twice the burst that an origin allows itself, so
   *  network jitter bunching an honest sender's messages never pushes them over. */
  readonly #originRate: KeyedRate;
  readonly #ownRate: TokenBucket;
  #stopped = false;

  constructor(context: RouterContext) {
    this.#context = context;
    this.#config = context.config;
    this.#log = context.log.child({ component: 'router' });
    const { clock } = context;
    this.#seen = new FifoCache({
      entries: this.#config.seenCacheSize,
      ttlMs: this.#config.seenCacheTtlMs,
      clock,
    });
    // A route is forgotten when its origin has been silent as long as its messages are remembered.
    this.#routes = new LRUCache(
      lruOptions({ entries: this.#config.routeCacheSize, ttlMs: this.#config.seenCacheTtlMs, clock }),
    );
    // nanoid's alphabet and length, drawn from the injected source so that a seeded run replays.
    const { originTextsPerSecond, originTextsBurst, routeCacheSize } = this.#config;
    this.#originRate = new KeyedRate(clock, originTextsPerSecond, 2 * originTextsBurst, routeCacheSize);
    this.#ownRate = new TokenBucket(clock, originTextsPerSecond, originTextsBurst);
    this.#newId = customRandom(urlAlphabet, NANOID_CHARS, (size) => context.random.bytes(size));
    this.#initCounters();
    this.#strategy = createBroadcastStrategy(this.#config.router, {
      selfId: context.self.id,
      config: this.#config,
      clock: context.clock,
      random: context.random,
      log: context.log.child({ component: `broadcast-${this.#config.router}` }),
      dataPeers: () => context.dataPeers(),
      sendRouted: (peer, ref, routed) => this.#sendRouted(peer, ref, routed),
      sendControl: (peer, kind, body) => this.#sendControl(peer, kind, body),
      hasSeen: (originId, id) => this.#seen.has(messageKey(originId, id)),
    });
  }

  /** Broadcasts a Text to a room (default 'lobby'); returns the message id. */
  broadcast(text: string, room: string = LOBBY): string {
    checkText(text);
    if (Buffer.byteLength(room) > MAX_ROOM_BYTES) {
      throw new RangeError(`room is over ${MAX_ROOM_BYTES} bytes`);
    }
    this.#takeOwnRate();
    return this.#originate('', room, { text: { body: text } });
  }

  /** Sends a direct Text to a node id and waits `receiptTimeoutMs` for its Receipt; returns the message id. */
  send(to: string, text: string): string {
    if (!NODE_ID.test(to)) throw new RangeError(`'${to}' is not a node id (16 lowercase hex)`);
    if (to === this.#context.self.id) throw new RangeError('cannot send a direct message to this node');
    checkText(text);
    this.#takeOwnRate();
    const id = this.#originate(to, '', { text: { body: text } });
    const timer = this.#context.clock.schedule(this.#config.receiptTimeoutMs, () => {
      this.#pendingReceipts.delete(id);
      bump(this.#counters, 'receiptTimeouts');
      this.#context.receiptMissing({ messageId: id, to });
    });
    this.#pendingReceipts.set(id, { to, timer });
    return id;
  }

  /** Refuses a text over the rate the relays would drop it at, so that the user learns it. */
  #takeOwnRate(): void {
    if (!this.#ownRate.tryTake()) {
      const { originTextsPerSecond, originTextsBurst } = this.#config;
      throw new RangeError(
        `over ${originTextsPerSecond} messages per second (burst ${originTextsBurst}): wait a moment`,
      );
    }
  }

  joinRoom(room: string): void {
    this.#rooms.add(room === '' ? LOBBY : room);
  }

  leaveRoom(room: string): void {
    this.#rooms.delete(room === '' ? LOBBY : room);
  }

  rooms(): string[] {
    return [...this.#rooms];
  }

  /** A Routed message from a data peer. Never throws. */
  onRouted(from: DataPeer, routed: Routed): void {
    if (this.#stopped) return;
    // hops 0 is as meaningless as TTL 0: the copy crossed at least the link it came over.
    const hops = Math.max(routed.hops, 1);
    if (hops > this.#config.maxTtl) {
      this.#observeReceive('', '', hops, false, from);
      return this.#drop('hopsExceeded', from);
    }
    const decoded = decodePayload(routed.payload);
    if (!decoded.ok) {
      // Counted, not punished: decoders of other languages differ at the edges (invalid UTF-8,
      // packed encodings), and only a signature proves what an honest relay could not forward.
      this.#observeReceive('', '', hops, false, from);
      return this.#drop('undecodable', from);
    }
    const payload = decoded.value;
    const originId = payload.origin?.id ?? '';
    const ref = { key: messageKey(originId, payload.id), originId, id: payload.id };
    // TTL 0 counts as 1; a TTL over the cap is lowered to it.
    const ttl = Math.min(Math.max(routed.ttl, 1), this.#config.maxTtl);
    const arrival = { from, payload, bytes: routed.payload, signature: routed.signature, ttl, hops, ref };
    const seen = this.#seen.get(ref.key);
    this.#observeReceive(originId, payload.id, hops, seen !== undefined, from);
    if (seen) this.#onSeenCopy(arrival, seen);
    else this.#onFirstCopy(arrival);
  }

  /** An IHave, Graft or Prune from a data peer. Never throws. */
  onControl(from: DataPeer, kind: ControlKind, body: IdList | Record<string, never>): void {
    if (this.#stopped) return;
    if (kind !== 'prune') {
      const problem = idListProblem(body as IdList, this.#config.maxIdsPerMessage);
      if (problem) return this.#drop(problem, from);
    }
    if (!this.#strategy.onControl(from, kind, body as ControlBody)) this.#drop('controlUnsupported', from);
  }

  onPeerUp(peer: DataPeer): void {
    if (!this.#stopped) this.#strategy.onPeerUp(peer);
  }

  onPeerDown(peerId: string): void {
    // Collected first: deleting from an lru-cache while iterating it is not safe.
    const dead = [...this.#routes.entries()].filter(([, route]) => route.via === peerId);
    for (const [originId] of dead) this.#routes.delete(originId);
    if (!this.#stopped) this.#strategy.onPeerDown(peerId);
  }

  routes(): Array<{ originId: string; via: string; hops: number }> {
    return [...this.#routes.entries()].map(([originId, { via, hops }]) => ({ originId, via, hops }));
  }

  /**
   * Every counter, each drop by reason (`drop.<reason>`), gauges, and the strategy's counters.
   * `copiesSent` counts every Routed sent, `forwarded` those of other origins (relays, Graft answers).
   */
  stats(): Record<string, number> {
    return {
      ...this.#counters,
      routesKnown: this.routes().length,
      seenEntries: this.#seen.size,
      pendingReceipts: this.#pendingReceipts.size,
      ...this.#strategy.stats(),
    };
  }

  /** Cancels every timer; later input is ignored and sending throws. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const { timer } of this.#pendingReceipts.values()) timer.cancel();
    this.#pendingReceipts.clear();
    this.#strategy.stop();
  }

  #initCounters(): void {
    const names = [
      'originated',
      'delivered',
      'forwarded',
      'copiesSent',
      'duplicates',
      'reforwarded',
      'ttlExpired',
      'hopsExceeded',
      'badSignature',
      'originRate',
      'invalidPayload',
      'controlDropped',
      'receiptsSent',
      'receiptsReceived',
      'receiptsUnmatched',
      'receiptTimeouts',
      'directRouted',
      'directFlooded',
      'ownUnseen',
    ];
    for (const name of names) this.#counters[name] = 0;
    for (const reason of [
      ...PAYLOAD_PROBLEMS,
      ...CONTROL_PROBLEMS,
      'hopsExceeded',
      'badSignature',
      'originRate',
    ]) {
      this.#counters[`drop.${reason}`] = 0;
    }
  }

  /** Signs and sends a new message; the payload is encoded once, here, and never again. */
  #originate(to: string, room: string, content: Content): string {
    if (this.#stopped) throw new Error('router is stopped');
    const { self, identity, clock } = this.#context;
    const id = this.#newId();
    const bytes = encodePayload({
      id,
      origin: self,
      to,
      room,
      sentAtMs: BigInt(Math.max(0, Math.floor(clock.now()))),
      ...content,
    });
    const signature = identity.sign(Buffer.concat([SIGNATURE_CONTEXT, bytes]));
    const routed: Routed = { payload: bytes, signature, ttl: this.#config.ttl, hops: 1 };
    const ref = { key: messageKey(self.id, id), originId: self.id, id };
    // Seen as forwarded with the full TTL, so that no echo is ever forwarded again by its origin.
    this.#seen.set(ref.key, { hash: payloadHash(bytes), forwardedTtl: this.#config.ttl });
    if ('text' in content) bump(this.#counters, 'originated');
    if (to === '') this.#strategy.onMessage({ ...ref, next: routed }, undefined);
    else this.#forwardDirect(ref, routed, to, undefined);
    return id;
  }

  /** A copy of a message already accepted (or originated): forward again if it goes further. */
  #onSeenCopy(arrival: Arrival, seen: SeenEntry): void {
    const { from, payload, ref } = arrival;
    if (payloadHash(arrival.bytes) !== seen.hash) {
      // Same key, other bytes: a forgery or a reused id. Never checked, never delivered.
      return this.#onDuplicate(arrival);
    }
    // The bytes are those already verified, so this copy is authentic and may teach a route.
    this.#learnRoute(ref.originId, from.id, arrival.hops);
    const next = this.#nextCopy(arrival);
    if (!this.#isForSelf(payload) && next && next.ttl > seen.forwardedTtl) {
      bump(this.#counters, 'reforwarded');
      seen.forwardedTtl = next.ttl;
      if (payload.to === '') this.#strategy.onReforward({ ...ref, next }, from.id);
      else this.#forwardDirect(ref, next, payload.to, from.id);
      return;
    }
    this.#onDuplicate(arrival);
  }

  /** Only broadcasts tell the strategy: a flooded direct message says nothing about its tree. */
  #onDuplicate({ payload, ref, from }: Arrival): void {
    bump(this.#counters, 'duplicates');
    if (payload.to === '') this.#strategy.onDuplicate(ref, from.id);
  }

  #onFirstCopy(arrival: Arrival): void {
    const { from, payload, ref } = arrival;
    const problem = payloadProblem(payload);
    if (problem) return this.#drop(problem, from);
    const origin = payload.origin as NodeInfo;
    if (this.#config.verifySignatures && !this.#isSignatureValid(origin, arrival)) {
      this.#drop('badSignature', from);
      // An honest relay never forwards what it did not verify: the neighbour is the culprit.
      return this.#context.punish(from.id, `bad signature on message ${ref.id} of origin ${origin.id}`);
    }
    if (payload.text != null && origin.id !== this.#context.self.id && !this.#originRate.tryTake(origin.id)) {
      // Remembered with an infinite TTL forwarded, so that no later copy revives it. The relay is
      // not punished: its own bucket for this origin may have refilled a moment before ours.
      this.#seen.set(ref.key, { hash: payloadHash(arrival.bytes), forwardedTtl: Number.POSITIVE_INFINITY });
      return this.#drop('originRate', from);
    }
    const entry: SeenEntry = { hash: payloadHash(arrival.bytes), forwardedTtl: 0 };
    this.#seen.set(ref.key, entry);
    this.#learnRoute(origin.id, from.id, arrival.hops);
    if (origin.id === this.#context.self.id) {
      // A genuine message of this node it no longer remembers (restart, eviction): not news to it.
      bump(this.#counters, 'ownUnseen');
    } else if (this.#isForSelf(payload)) {
      return this.#onDirectForSelf(arrival, origin);
    } else if (payload.to === '' && this.#rooms.has(payload.room || LOBBY)) {
      this.#deliver(arrival, origin, null, payload.room || LOBBY);
    }
    const next = this.#nextCopy(arrival);
    if (!next) bump(this.#counters, 'ttlExpired');
    entry.forwardedTtl = next?.ttl ?? 0;
    if (payload.to === '') this.#strategy.onMessage({ ...ref, next }, from.id);
    else if (next) this.#forwardDirect(ref, next, payload.to, from.id);
  }

  /** A direct message at its destination: deliver a Text and answer it, match a Receipt. Not forwarded. */
  #onDirectForSelf(arrival: Arrival, origin: NodeInfo): void {
    const { payload } = arrival;
    if (payload.text != null) {
      this.#deliver(arrival, origin, this.#context.self.id, null);
      this.#originate(origin.id, '', { receipt: { messageId: payload.id } });
      bump(this.#counters, 'receiptsSent');
      return;
    }
    const messageId = payload.receipt?.messageId ?? '';
    const pending = this.#pendingReceipts.get(messageId);
    // Only the destination itself may confirm: anyone can sign a Receipt naming our message id.
    if (!pending || pending.to !== origin.id) {
      bump(this.#counters, 'receiptsUnmatched');
      return;
    }
    pending.timer.cancel();
    this.#pendingReceipts.delete(messageId);
    bump(this.#counters, 'receiptsReceived');
    this.#context.receipt({ messageId, from: origin, hops: arrival.hops });
  }

  #deliver(arrival: Arrival, origin: NodeInfo, to: string | null, room: string | null): void {
    const { payload, hops } = arrival;
    bump(this.#counters, 'delivered');
    const sentAtMs = uint64ToNumber(payload.sentAtMs);
    const latencyMs = this.#context.clock.now() - sentAtMs;
    const text = payload.text?.body ?? '';
    this.#context.deliver({
      id: payload.id,
      from: origin,
      to,
      room,
      text,
      hops,
      latencyMs,
      sentAtMs,
    });
  }

  /** The copy to send on (same bytes, one TTL less, one hop more), or undefined once TTL 1 arrived. */
  #nextCopy(arrival: Arrival): Routed | undefined {
    const { bytes, signature, ttl, hops } = arrival;
    return ttl > 1 ? { payload: bytes, signature, ttl: ttl - 1, hops: hops + 1 } : undefined;
  }

  #isForSelf(payload: Payload): boolean {
    return payload.to === this.#context.self.id;
  }

  /**
   * A direct message goes to its destination when it is a neighbour, else to the learned next
   * hop, else (no route, or the route points back to the sender) it floods like a broadcast.
   */
  #forwardDirect(ref: MessageRef, routed: Routed, to: string, from: string | undefined): void {
    const peers = this.#context.dataPeers();
    const route = this.#routes.get(to);
    const hop = peers.find((peer) => peer.id === to) ?? peers.find((peer) => peer.id === route?.via);
    if (hop && hop.id !== from && this.#sendRouted(hop, ref, routed)) {
      bump(this.#counters, 'directRouted');
      return;
    }
    bump(this.#counters, 'directFlooded');
    for (const peer of peers) if (peer.id !== from) this.#sendRouted(peer, ref, routed);
  }

  /**
   * Keeps, per origin, the shortest route among fresh ones: a shorter path replaces the known
   * one, news through the same neighbour refreshes it, and a route not confirmed within a receipt
   * timeout (the time a sender waits before deciding a route failed) yields to any newer one.
   */
  #learnRoute(originId: string, via: string, hops: number): void {
    if (originId === this.#context.self.id) return;
    const now = this.#context.clock.now();
    const known = this.#routes.get(originId);
    const isStale = known !== undefined && now - known.learnedAtMs > this.#config.receiptTimeoutMs;
    if (!known || known.via === via || hops < known.hops || isStale) {
      this.#routes.set(originId, { via, hops, learnedAtMs: now });
    }
  }

  #isSignatureValid(origin: NodeInfo, arrival: Arrival): boolean {
    return this.#context.signatures.verify(origin.publicKey, signedBytesOf(arrival.bytes), arrival.signature);
  }

  #sendRouted(peer: DataPeer, ref: MessageRef, routed: Routed): boolean {
    if (!peer.send({ routed })) return false;
    bump(this.#counters, 'copiesSent');
    if (ref.originId !== this.#context.self.id) bump(this.#counters, 'forwarded');
    this.#context.observe?.({ type: 'send', originId: ref.originId, id: ref.id, toPeer: peer.id });
    return true;
  }

  #sendControl(peer: DataPeer, kind: ControlKind, body: ControlBody): boolean {
    const envelope =
      kind === 'prune'
        ? { prune: {} }
        : kind === 'ihave'
          ? { ihave: body as IdList }
          : { graft: body as IdList };
    if (!peer.send(envelope)) return false;
    this.#context.observe?.({ type: 'control', kind, toPeer: peer.id });
    return true;
  }

  #observeReceive(originId: string, id: string, hops: number, duplicate: boolean, from: DataPeer): void {
    this.#context.observe?.({ type: 'receive', originId, id, hops, duplicate, fromPeer: from.id });
  }

  #drop(reason: DropReason, from: DataPeer): void {
    bump(this.#counters, `drop.${reason}`);
    if (reason === 'hopsExceeded' || reason === 'badSignature' || reason === 'originRate')
      bump(this.#counters, reason);
    else if (PAYLOAD_PROBLEMS.includes(reason)) bump(this.#counters, 'invalidPayload');
    else bump(this.#counters, 'controlDropped');
    this.#log.debug({ peer: from.id, reason }, 'dropped routed input');
  }
}

/** 128 bits of SHA-256: a forger needs a second preimage, 2^128 work, to pass as a seen copy. */
function payloadHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest().toString('latin1', 0, 16);
}

/**
 * Context || payload for one synchronous check, in a Buffer reused message after message (the
 * largest payload checked so far, at most a frame): a fresh one per message was a payload-sized
 * Buffer outside the V8 heap, garbage until the next collection. Valid until the next call.
 */
let signedScratch = Buffer.allocUnsafeSlow(0);
function signedBytesOf(payload: Uint8Array): Buffer {
  const length = SIGNATURE_CONTEXT.length + payload.length;
  if (signedScratch.length < length) {
    signedScratch = Buffer.allocUnsafeSlow(Math.max(length, 1024));
    SIGNATURE_CONTEXT.copy(signedScratch);
  }
  signedScratch.set(payload, SIGNATURE_CONTEXT.length);
  return signedScratch.subarray(0, length);
}

function checkText(text: string): void {
  if (Buffer.byteLength(text) > MAX_TEXT_BYTES) throw new RangeError(`text is over ${MAX_TEXT_BYTES} bytes`);
}
