/**
 * The data plane (docs/protocol.md section 5): originates, checks, deduplicates, delivers and
 * forwards `Routed` messages, learns routes, and answers direct Texts with Receipts. It never
 * touches a socket: the node hands it the messages of authenticated data peers, by peer id, and
 * sends what it decides to send, so it runs unchanged over the in-memory mesh of the tests and
 * the lab. Each Routed copy is encoded once, and the same bytes go to every peer it goes to.
 *
 * Which neighbours get a broadcast is the job of a `BroadcastStrategy` (flood, gossip, plumtree);
 * everything a strategy must not change lives here, in this order for every copy received:
 *
 *   cap TTL, check hops -> decode -> seen? (same payload and signature, more TTL: forward again;
 *   same payload, other signature: never forwarded, a bad one punishes; else duplicate)
 *   -> validate payload -> sent_at_ms in the window? -> verify signature -> origin over its text
 *   rate? (drop, remembered as seen) -> mark seen -> learn route -> deliver if for this node
 *   -> forward while TTL lasts (direct: next hop or flood; broadcast: the strategy)
 *
 * Each refusal and what it costs the neighbour that sent the copy (punished, or merely dropped)
 * is one line of `ROUTED_RULES` in router-rules.ts.
 *
 * What the seen cache remembers, and the window of `sent_at_ms` that keeps replays out, are
 * stated with their invariants in seen-cache.ts; how routes resist hijacking, in route-table.ts.
 *
 * Callbacks of `RouterContext` are called synchronously and must not throw.
 */
import { LRUCache } from 'lru-cache';
import { customRandom, urlAlphabet } from 'nanoid';
import type { NodeConfig } from './config.js';
import type { Identity } from './crypto/identity.js';
import type { SignatureChecker } from './crypto/signatures.js';
import {
  encodeEnvelope,
  encodePayload,
  type Envelope,
  type IdList,
  type NodeInfo,
  type Payload,
} from './proto/messages.js';
import type { Routed } from './proto/messages.js';
import { createBroadcastStrategy } from './broadcast/registry.js';
import { readEveryCopy, type PayloadReader } from './proto/payload-reader.js';
import { RouteTable } from './route-table.js';
import { SeenCache, type SeenEntry } from './seen-cache.js';
import {
  CONTROL_PROBLEMS,
  LOBBY,
  MAX_ROOM_BYTES,
  MAX_TEXT_BYTES,
  NODE_ID,
  PAYLOAD_PROBLEMS,
  ROUTED_RULES,
  SENT_AT_PROBLEMS,
  idListProblem,
  payloadProblem,
  sentAtMsOf,
  sentAtProblem,
  type DropReason,
  type RoutedProblem,
} from './router-rules.js';
import {
  messageKey,
  type BroadcastStrategy,
  type ControlBody,
  type ControlKind,
  type MessageRef,
} from './broadcast/strategy.js';
import type { Clock, Scheduled } from './utils/clock.js';
import { Counters } from './utils/counters.js';
import type { Random } from './utils/random.js';
import type { Logger } from './utils/logger.js';
import { KeyedRate } from './utils/keyed-rate.js';
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
  ROUTED_RULES,
  type RoutedProblem,
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
  /**
   * Checks origins' signatures (keys cached; the lab shares one across its nodes). Benchmarks
   * that measure the cost of checking inject `uncheckedSignatures`: no setting turns checks off.
   */
  readonly signatures: SignatureChecker;
  /**
   * Decodes and digests copies (proto/payload-reader.ts). Default: every copy afresh, as a node
   * must; the simulator reads each bytes object once.
   */
  readonly payloads?: PayloadReader;
  /** The ids of the current forwarding set, from the membership strategy. */
  dataPeers(): readonly string[];
  /**
   * Sends an envelope to a data peer; false when its link refused it. A Routed copy comes as one
   * `OutgoingEnvelope` for all the peers it goes to, so that writing its `bytes` on every link
   * encodes it once.
   */
  send(peerId: string, out: OutgoingEnvelope): boolean;
  /** A message for this node: a broadcast to a joined room, or a direct Text to it. */
  deliver(message: DeliveredMessage): void;
  /** A Receipt for one of this node's direct Texts. */
  receipt(event: ReceiptEvent): void;
  /** No Receipt within `receiptTimeoutMs`. */
  receiptMissing(event: { messageId: string; to: string }): void;
  /**
   * A neighbour sent a Routed that no honest relay forwards (a `punish` rule of `ROUTED_RULES`,
   * a bad signature among them): the node closes that link with `reason` and refuses the peer.
   */
  punish(peerId: string, reason: string, problem: RoutedProblem): void;
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

/** A direct Text of this node waiting for its Receipt. */
interface PendingReceipt {
  readonly to: string;
  readonly ref: MessageRef;
  readonly routed: Routed;
  /** The neighbour it was sent to along a learned route; undefined once flooded. */
  via: string | undefined;
  readonly timer: Scheduled;
  /** Fires at half the receipt timeout when it was sent along a route: then it floods. */
  readonly fallback: Scheduled | undefined;
}

/** A copy received, with TTL capped and hops checked. */
interface Arrival {
  /** The data peer it came from. */
  readonly from: string;
  readonly payload: Payload;
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly ttl: number;
  readonly hops: number;
  readonly ref: MessageRef;
}

type Content = { text: { body: string } } | { receipt: { messageId: string } };

interface Originated {
  readonly id: string;
  readonly ref: MessageRef;
  readonly routed: Routed;
  readonly via: string | undefined;
}

/**
 * An envelope to send, and its bytes, encoded on first read only: where the membership sends
 * data its own way (`sendData`), from the envelope, nothing is encoded here.
 */
export class OutgoingEnvelope {
  #bytes: Uint8Array | undefined;

  constructor(readonly envelope: Envelope) {}

  /** `encodeEnvelope(envelope)`, the same bytes object at every read. */
  get bytes(): Uint8Array {
    this.#bytes ??= encodeEnvelope(this.envelope);
    return this.#bytes;
  }
}

export class Router {
  readonly #context: RouterContext;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  readonly #strategy: BroadcastStrategy;
  readonly #seen: SeenCache;
  readonly #payloads: PayloadReader;
  readonly #routes: RouteTable;
  /**
   * Direct Texts of others this node sent along a learned route, by message key. Made at the
   * first: a node off every route never needs one, and an empty cache costs 2 KB.
   */
  #relayedTexts: LRUCache<string, { to: string; via: string }> | undefined;
  readonly #pendingReceipts = new Map<string, PendingReceipt>();
  readonly #rooms = new Set<string>([LOBBY]);
  readonly #newId: () => string;
  readonly #counters = routerCounters();
  /** Texts accepted per origin. Relays allow twice the burst that an origin allows itself, so
   *  network jitter bunching an honest sender's messages never pushes them over. */
  readonly #originRate: KeyedRate;
  readonly #ownRate: TokenBucket;
  /** The last copy sent, as sent (see `#outgoing`). */
  #lastCopy: { readonly routed: Routed; readonly out: OutgoingEnvelope } | undefined;
  #stopped = false;

  constructor(context: RouterContext) {
    this.#context = context;
    this.#config = context.config;
    this.#payloads = context.payloads ?? readEveryCopy;
    this.#log = context.log.child({ component: 'router' });
    const { clock } = context;
    const { seenCacheSize, seenCacheTtlMs, maxMessageAgeMs, maxClockSkewMs } = this.#config;
    this.#seen = new SeenCache({
      entries: seenCacheSize,
      ttlMs: seenCacheTtlMs,
      maxMessageAgeMs,
      maxClockSkewMs,
      clock,
      reader: this.#payloads,
    });
    // A route is forgotten when its origin has been silent as long as its messages are remembered.
    const { routeCacheSize, receiptTimeoutMs } = this.#config;
    this.#routes = new RouteTable({
      selfId: context.self.id,
      entries: routeCacheSize,
      ttlMs: seenCacheTtlMs,
      staleMs: receiptTimeoutMs,
      clock,
    });
    // nanoid's alphabet and length, drawn from the injected source so that a seeded run replays.
    const { originTextsPerSecond, originTextsBurst } = this.#config;
    this.#originRate = new KeyedRate(clock, originTextsPerSecond, 2 * originTextsBurst, routeCacheSize);
    this.#ownRate = new TokenBucket(clock, originTextsPerSecond, originTextsBurst);
    this.#newId = customRandom(urlAlphabet, NANOID_CHARS, (size) => context.random.bytes(size));
    this.#strategy = createBroadcastStrategy(this.#config.router, {
      selfId: context.self.id,
      config: this.#config,
      clock: context.clock,
      random: context.random,
      log: context.log.child({ component: `broadcast-${this.#config.router}` }),
      dataPeers: () => context.dataPeers(),
      sendRouted: (peerId, ref, routed) => this.#sendRouted(peerId, ref, routed),
      sendControl: (peerId, kind, body) => this.#sendControl(peerId, kind, body),
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
    return this.#originate('', room, { text: { body: text } }).id;
  }

  /** Sends a direct Text to a node id and waits `receiptTimeoutMs` for its Receipt; returns the message id. */
  send(to: string, text: string): string {
    if (!NODE_ID.test(to)) throw new RangeError(`'${to}' is not a node id (16 lowercase hex)`);
    if (to === this.#context.self.id) throw new RangeError('cannot send a direct message to this node');
    checkText(text);
    this.#takeOwnRate();
    const { id, ref, routed, via } = this.#originate(to, '', { text: { body: text } });
    const { clock } = this.#context;
    const timeoutMs = this.#config.receiptTimeoutMs;
    const timer = clock.schedule(timeoutMs, () => {
      this.#pendingReceipts.get(id)?.fallback?.cancel();
      this.#pendingReceipts.delete(id);
      this.#counters.increment('receiptTimeouts');
      this.#context.receiptMissing({ messageId: id, to });
    });
    const fallback =
      via === undefined ? undefined : clock.schedule(timeoutMs / 2, () => this.#onRouteSilent(id));
    this.#pendingReceipts.set(id, { to, ref, routed, via, timer, fallback });
    return id;
  }

  /**
   * Half the receipt timeout passed without a Receipt for a Text sent along a learned route: the
   * route may be a hijacker's claim (hops are not signed). It is forgotten, its neighbour is no
   * longer believed about that destination, and the same copy floods to every other neighbour.
   */
  #onRouteSilent(messageId: string): void {
    const pending = this.#pendingReceipts.get(messageId);
    if (!pending?.via) return;
    this.#counters.increment('routeFallbacks');
    this.#routes.fail(pending.to, pending.via);
    const failed = pending.via;
    pending.via = undefined;
    this.#counters.increment('directFlooded');
    for (const peerId of this.#context.dataPeers()) {
      if (peerId !== failed) this.#sendRouted(peerId, pending.ref, pending.routed);
    }
    this.#forgetEncoded();
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
  onRouted(from: string, routed: Routed): void {
    if (this.#stopped) return;
    // hops 0 is as meaningless as TTL 0: the copy crossed at least the link it came over.
    const hops = Math.max(routed.hops, 1);
    if (hops > this.#config.maxTtl) {
      this.#observeReceive('', '', hops, false, from);
      return this.#refuse('hopsExceeded', from);
    }
    const decoded = this.#payloads.decode(routed.payload);
    if (!decoded.ok) {
      this.#observeReceive('', '', hops, false, from);
      return this.#refuse('undecodable', from);
    }
    const payload = decoded.value;
    const originId = payload.origin?.id ?? '';
    const ref = { key: this.#payloads.key(payload), originId, id: payload.id };
    // TTL 0 counts as 1; a TTL over the cap is lowered to it.
    const ttl = Math.min(Math.max(routed.ttl, 1), this.#config.maxTtl);
    const arrival = { from, payload, bytes: routed.payload, signature: routed.signature, ttl, hops, ref };
    const seen = this.#seen.get(ref.key);
    this.#observeReceive(originId, payload.id, hops, seen !== undefined, from);
    if (seen) this.#onSeenCopy(arrival, seen);
    else this.#onFirstCopy(arrival);
    this.#forgetEncoded();
  }

  /** An IHave, Graft or Prune from a data peer. Never throws. */
  onControl(from: string, kind: ControlKind, body: IdList | Record<string, never>): void {
    if (this.#stopped) return;
    if (kind !== 'prune') {
      const problem = idListProblem(body as IdList, this.#config.maxIdsPerMessage);
      if (problem) return this.#drop(problem, from);
    }
    if (!this.#strategy.onControl(from, kind, body as ControlBody)) this.#drop('controlUnsupported', from);
    this.#forgetEncoded();
  }

  onPeerUp(peerId: string): void {
    if (!this.#stopped) this.#strategy.onPeerUp(peerId);
  }

  onPeerDown(peerId: string): void {
    this.#routes.forgetVia(peerId);
    if (!this.#stopped) this.#strategy.onPeerDown(peerId);
  }

  routes(): Array<{ originId: string; via: string; hops: number }> {
    return this.#routes.entries().map(([originId, { via, hops }]) => ({ originId, via, hops }));
  }

  /**
   * Every counter, each drop by reason (`drop.<reason>`), gauges, and the strategy's counters.
   * `copiesSent` counts every Routed sent, `forwarded` those of other origins (relays, Graft answers).
   */
  stats(): Record<string, number> {
    return {
      ...this.#counters.snapshot(),
      routesKnown: this.routes().length,
      routesConfirmed: this.#routes.entries().filter(([, route]) => route.isConfirmed).length,
      seenEntries: this.#seen.size,
      // How far back a message may be dated now; 0 or less: the window is closed by a flood.
      sentAtWindowMs: this.#context.clock.now() - this.#seen.sentAtWindow().oldestMs,
      pendingReceipts: this.#pendingReceipts.size,
      ...this.#strategy.stats(),
    };
  }

  /** Cancels every timer; later input is ignored and sending throws. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const { timer, fallback } of this.#pendingReceipts.values()) {
      timer.cancel();
      fallback?.cancel();
    }
    this.#pendingReceipts.clear();
    this.#strategy.stop();
  }

  /**
   * Signs and sends a new message; the payload is encoded once, here, and never again. `via`: the
   * neighbour a direct message went to along a learned route.
   */
  #originate(to: string, room: string, content: Content): Originated {
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
    this.#seen.remember(ref.key, bytes, signature, this.#config.ttl);
    if ('text' in content) this.#counters.increment('originated');
    let via: string | undefined;
    if (to === '') this.#strategy.onMessage({ ...ref, next: routed }, undefined);
    else via = this.#forwardDirect(ref, routed, to, undefined);
    this.#forgetEncoded();
    return { id, ref, routed, via };
  }

  /** A copy of a message already accepted (or originated): forward again if it goes further. */
  #onSeenCopy(arrival: Arrival, seen: SeenEntry): void {
    const { from, payload, ref } = arrival;
    const match = this.#seen.compare(seen, arrival.bytes, arrival.signature);
    if (match === 'otherSignature') return this.#onOtherSignature(arrival);
    // Same key, other bytes: a forgery or a reused id. Never checked, never delivered.
    if (match === 'otherBytes') return this.#onDuplicate(arrival);
    // The bytes are those already verified, so this copy is authentic and may teach a route.
    this.#routes.learn(ref.originId, from, arrival.hops);
    // Most copies are plain duplicates: a new copy is made only when this one goes further than
    // any forwarded before (its next TTL, arrival.ttl - 1, above the highest sent on).
    const next = arrival.ttl - 1 > seen.forwardedTtl ? this.#nextCopy(arrival) : undefined;
    if (!this.#isForSelf(payload) && next) {
      this.#counters.increment('reforwarded');
      seen.forwardedTtl = next.ttl;
      if (payload.to === '') this.#strategy.onReforward({ ...ref, next }, from);
      else this.#forwardDirect(ref, next, payload.to, from);
      return;
    }
    this.#onDuplicate(arrival);
  }

  /**
   * The bytes already verified under another signature. Forwarding it would have honest
   * neighbours ban this node should it be bad, so it is never forwarded: checked, a bad one
   * punishes its sender like any bad signature, and a valid one (an origin that signed twice
   * with random nonces) is a mere duplicate.
   */
  #onOtherSignature(arrival: Arrival): void {
    const origin = arrival.payload.origin as NodeInfo;
    if (this.#isSignatureValid(origin, arrival)) this.#onDuplicate(arrival);
    else this.#refuse('badSignature', arrival.from, arrival.ref);
  }

  /** Only broadcasts tell the strategy: a flooded direct message says nothing about its tree. */
  #onDuplicate({ payload, ref, from }: Arrival): void {
    this.#counters.increment('duplicates');
    if (payload.to === '') this.#strategy.onDuplicate(ref, from);
  }

  #onFirstCopy(arrival: Arrival): void {
    const { from, payload, ref } = arrival;
    const problem = payloadProblem(payload);
    if (problem) return this.#refuse(problem, from, ref);
    const outside = sentAtProblem(payload.sentAtMs, this.#seen.sentAtWindow());
    if (outside) return this.#refuse(outside, from, ref);
    const origin = payload.origin as NodeInfo;
    if (!this.#isSignatureValid(origin, arrival)) return this.#refuse('badSignature', from, ref);
    if (payload.text != null && origin.id !== this.#context.self.id && !this.#originRate.tryTake(origin.id)) {
      // Remembered with an infinite TTL forwarded, so that no later copy revives it.
      this.#seen.remember(ref.key, arrival.bytes, arrival.signature, Number.POSITIVE_INFINITY);
      return this.#refuse('originRate', from, ref);
    }
    const entry = this.#seen.remember(ref.key, arrival.bytes, arrival.signature, 0);
    this.#routes.learn(origin.id, from, arrival.hops);
    if (payload.receipt != null) this.#maybeConfirmByReceipt(payload, origin);
    if (origin.id === this.#context.self.id) {
      // A genuine message of this node it no longer remembers (restart, eviction): not news to it.
      this.#counters.increment('ownUnseen');
    } else if (this.#isForSelf(payload)) {
      return this.#onDirectForSelf(arrival, origin);
    } else if (payload.to === '' && this.#rooms.has(payload.room || LOBBY)) {
      this.#deliver(arrival, origin, null, payload.room || LOBBY);
    }
    const next = this.#nextCopy(arrival);
    if (!next) this.#counters.increment('ttlExpired');
    entry.forwardedTtl = next?.ttl ?? 0;
    if (payload.to === '') this.#strategy.onMessage({ ...ref, next }, from);
    else if (next) {
      const via = this.#forwardDirect(ref, next, payload.to, from);
      if (via !== undefined && payload.text != null) this.#relayed().set(ref.key, { to: payload.to, via });
    }
  }

  /**
   * A Receipt, signed by its origin, for a Text this node routed: the route it took to that
   * origin works. At the Text's sender, the pending receipt does the same.
   */
  #maybeConfirmByReceipt(payload: Payload, origin: NodeInfo): void {
    const messageId = payload.receipt?.messageId ?? '';
    const sent = this.#isForSelf(payload)
      ? this.#pendingReceipts.get(messageId)
      : this.#relayedTexts?.get(messageKey(payload.to, messageId));
    // Only the destination itself may confirm: anyone can sign a Receipt naming a message id.
    if (sent?.via !== undefined && sent.to === origin.id) this.#routes.confirm(origin.id, sent.via);
  }

  /** A direct message at its destination: deliver a Text and answer it, match a Receipt. Not forwarded. */
  #onDirectForSelf(arrival: Arrival, origin: NodeInfo): void {
    const { payload } = arrival;
    if (payload.text != null) {
      this.#deliver(arrival, origin, this.#context.self.id, null);
      this.#originate(origin.id, '', { receipt: { messageId: payload.id } });
      this.#counters.increment('receiptsSent');
      return;
    }
    const messageId = payload.receipt?.messageId ?? '';
    const pending = this.#pendingReceipts.get(messageId);
    // Only the destination itself may confirm: anyone can sign a Receipt naming our message id.
    if (!pending || pending.to !== origin.id) {
      this.#counters.increment('receiptsUnmatched');
      return;
    }
    pending.timer.cancel();
    pending.fallback?.cancel();
    this.#pendingReceipts.delete(messageId);
    this.#counters.increment('receiptsReceived');
    this.#context.receipt({ messageId, from: origin, hops: arrival.hops });
  }

  #deliver(arrival: Arrival, origin: NodeInfo, to: string | null, room: string | null): void {
    const { payload, hops } = arrival;
    this.#counters.increment('delivered');
    const sentAtMs = sentAtMsOf(payload.sentAtMs);
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

  #relayed(): LRUCache<string, { to: string; via: string }> {
    const { routeCacheSize, receiptTimeoutMs } = this.#config;
    this.#relayedTexts ??= new LRUCache(
      lruOptions({ entries: routeCacheSize, ttlMs: receiptTimeoutMs, clock: this.#context.clock }),
    );
    return this.#relayedTexts;
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
   * Returns the next hop when it was a learned route (see route-table.ts).
   */
  #forwardDirect(ref: MessageRef, routed: Routed, to: string, from: string | undefined): string | undefined {
    const peers = this.#context.dataPeers();
    const isNeighbour = peers.includes(to);
    const via = this.#routes.get(to)?.via;
    const hop = isNeighbour ? to : via !== undefined && peers.includes(via) ? via : undefined;
    if (hop !== undefined && hop !== from && this.#sendRouted(hop, ref, routed)) {
      this.#counters.increment('directRouted');
      return isNeighbour ? undefined : hop;
    }
    this.#counters.increment('directFlooded');
    for (const peerId of peers) if (peerId !== from) this.#sendRouted(peerId, ref, routed);
    return undefined;
  }

  #isSignatureValid(origin: NodeInfo, arrival: Arrival): boolean {
    return this.#context.signatures.verify(origin.publicKey, signedBytesOf(arrival.bytes), arrival.signature);
  }

  #sendRouted(peerId: string, ref: MessageRef, routed: Routed): boolean {
    if (!this.#context.send(peerId, this.#outgoing(routed))) return false;
    this.#counters.increment('copiesSent');
    if (ref.originId !== this.#context.self.id) this.#counters.increment('forwarded');
    this.#context.observe?.({ type: 'send', originId: ref.originId, id: ref.id, toPeer: peerId });
    return true;
  }

  /**
   * The envelope of a copy, one for all the peers it goes to, so that it is encoded once.
   * Remembering the last copy is enough: a copy goes to all its peers within one input (one loop
   * of the strategy or of `#forwardDirect`), and a copy is never changed once made (`#nextCopy`
   * makes a new one per TTL and hops), so the same object always stands for the same bytes.
   */
  #outgoing(routed: Routed): OutgoingEnvelope {
    if (this.#lastCopy?.routed !== routed) this.#lastCopy = { routed, out: new OutgoingEnvelope({ routed }) };
    return this.#lastCopy.out;
  }

  /**
   * Called at the end of every input that may send a copy. Encoded bytes are a slice of Node's
   * shared 8 KiB allocation pool (protobufjs allocates them with `Buffer.allocUnsafe`): kept
   * until the next message, they would pin a whole slab per node.
   */
  #forgetEncoded(): void {
    this.#lastCopy = undefined;
  }

  #sendControl(peerId: string, kind: ControlKind, body: ControlBody): boolean {
    const envelope =
      kind === 'prune'
        ? { prune: {} }
        : kind === 'ihave'
          ? { ihave: body as IdList }
          : { graft: body as IdList };
    if (!this.#context.send(peerId, new OutgoingEnvelope(envelope))) return false;
    this.#context.observe?.({ type: 'control', kind, toPeer: peerId });
    return true;
  }

  #observeReceive(originId: string, id: string, hops: number, duplicate: boolean, from: string): void {
    this.#context.observe?.({ type: 'receive', originId, id, hops, duplicate, fromPeer: from });
  }

  /** A Routed refused: dropped and counted, and its sender punished where `ROUTED_RULES` says so. */
  #refuse(reason: RoutedProblem, from: string, ref?: MessageRef): void {
    this.#drop(reason, from);
    if (ROUTED_RULES[reason] !== 'punish') return;
    const what = ref ? `message ${ref.id} of origin ${ref.originId || '(none)'}` : 'a routed message';
    this.#context.punish(from, `${reason} on ${what}`, reason);
  }

  #drop(reason: DropReason, from: string): void {
    this.#counters.increment(`drop.${reason}`);
    if (reason === 'hopsExceeded' || reason === 'badSignature' || reason === 'originRate')
      this.#counters.increment(reason);
    else if (PAYLOAD_PROBLEMS.includes(reason)) this.#counters.increment('invalidPayload');
    else if (SENT_AT_PROBLEMS.includes(reason)) this.#counters.increment('outsideWindow');
    else this.#counters.increment('controlDropped');
    this.#log.debug({ peer: from, reason }, 'dropped routed input');
  }
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

/** The router's counters, each drop by reason (`drop.<reason>`) among them. */
const COUNTER_NAMES = [
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
  'outsideWindow',
  'routeFallbacks',
] as const;

type RouterCounter = (typeof COUNTER_NAMES)[number] | `drop.${DropReason}`;

/** Every counter at 0, so `stats()` lists each drop reason before the first drop. */
function routerCounters(): Counters<RouterCounter> {
  const drops: DropReason[] = [
    ...PAYLOAD_PROBLEMS,
    ...CONTROL_PROBLEMS,
    ...SENT_AT_PROBLEMS,
    'hopsExceeded',
    'badSignature',
    'originRate',
  ];
  return new Counters<RouterCounter>([...COUNTER_NAMES, ...drops.map((reason) => `drop.${reason}` as const)]);
}
