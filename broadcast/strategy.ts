/**
 * The extension point for broadcast forwarding (docs/protocol.md section 5): a strategy decides
 * which data peers receive a broadcast copy, and may speak the per-link control messages IHave,
 * Graft and Prune. The router keeps everything that must not differ between strategies: decoding,
 * validation, signatures, the seen cache, TTL and hop accounting, delivery, routes and direct
 * messages. A strategy therefore never sees an unverified or duplicate-but-new message, and it
 * never re-encodes a payload: it hands out the `Routed` copy the router prepared.
 *
 * Adding a strategy is one new file in this folder plus one line in `registry.ts`.
 *
 * Callbacks run synchronously on the node's event loop and must not block or throw; timers go
 * through `context.clock` and must all be cancelled by `stop()`.
 */
import type { NodeConfig } from '../config.js';
import type { IdList, Routed } from '../proto/messages.js';
import type { Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';
import type { Logger } from '../utils/logger.js';

/** The per-link control messages of Plumtree-like strategies. */
export type ControlKind = 'ihave' | 'graft' | 'prune';
export type ControlBody = IdList | Record<string, never>;

/** Identifies one message network-wide: the dedup key is (origin id, message id). */
export interface MessageRef {
  /** `messageKey(originId, id)`, the key of the router's seen cache. */
  readonly key: string;
  readonly originId: string;
  readonly id: string;
}

/** A broadcast the router accepted (or originated) and that the strategy may push on. */
export interface BroadcastMessage extends MessageRef {
  /**
   * The copy to send, TTL already decremented and hops incremented (for an own message: TTL
   * `config.ttl`, hops 1). Undefined when the TTL is exhausted: the strategy must not push the
   * message (nor announce it), but may still update its state, e.g. cancel a Graft timer.
   */
  readonly next: Routed | undefined;
}

/** What the router offers a strategy. */
export interface BroadcastContext {
  readonly selfId: string;
  readonly config: NodeConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /** The ids of the current forwarding set, from the membership strategy. */
  dataPeers(): readonly string[];
  /**
   * Sends one Routed copy to a data peer; the router counts and observes it. The copy is encoded
   * once, whatever the number of peers it goes to, when the same `routed` object is passed for
   * each, one after the other within the same input (as a loop over the peers does). False when
   * the link refused it.
   */
  sendRouted(peerId: string, message: MessageRef, routed: Routed): boolean;
  /** Sends one control message to a data peer; the router observes it. False when the link refused it. */
  sendControl(peerId: string, kind: ControlKind, body: ControlBody): boolean;
  /** Whether the router has already accepted or originated this message (it is in the seen cache). */
  hasSeen(originId: string, id: string): boolean;
}

export interface BroadcastStrategy {
  readonly name: string;
  /**
   * The first valid copy of a message (`from` is the neighbour it came from), or a message this
   * node originated (`from` undefined). Push `message.next` to the chosen peers, never to `from`.
   */
  onMessage(message: BroadcastMessage, from: string | undefined): void;
  /**
   * A later copy of an accepted message, with the same payload bytes and the signature verified
   * with them (never another, so the strategy may cache it for Graft answers), that can travel
   * further than the copy already forwarded (docs/protocol.md section 5: a short TTL on an early long
   * path must not cut off nodes behind this one). Never delivered again; push it on as in
   * `onMessage`.
   */
  onReforward(message: BroadcastMessage, from: string): void;
  /** A copy of an already accepted message that brings nothing new (a redundant path). */
  onDuplicate(message: MessageRef, from: string): void;
  /**
   * A control message from a data peer, already checked by the router for its list limits
   * (`idListProblem`). Returns false when the strategy does not speak that message, which the
   * router counts as a drop.
   */
  onControl(fromPeerId: string, kind: ControlKind, body: ControlBody): boolean;
  /** A peer entered the data set. */
  onPeerUp(peerId: string): void;
  /** A peer left the data set; forget every state about it. */
  onPeerDown(peerId: string): void;
  /** Cancels every timer. Idempotent; no callback runs afterwards. */
  stop(): void;
  /** The strategy's own counters, merged into the router's `stats()`; names must not clash. */
  stats(): Record<string, number>;
}

export type BroadcastFactory = (context: BroadcastContext) => BroadcastStrategy;

/**
 * The seen-cache key of a message. The length prefix makes the pair unambiguous whatever
 * characters an (unvalidated) origin id or message id contains.
 *
 * Built with `join`, which copies into one flat string: a `+` or template concatenation is kept
 * by V8 as a tree of its pieces, and the ids protobufjs decodes are such trees already (8
 * characters, then 1, at a time), so a key of a 21-character id cost about 400 bytes of heap
 * instead of 100, held for as long as the seen cache remembers the message.
 */
export function messageKey(originId: string, id: string): string {
  return [originId.length, originId, id].join(':');
}
