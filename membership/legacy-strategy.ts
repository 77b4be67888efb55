/**
 * The membership interface before strategies became synchronous state machines: callbacks on
 * link objects and a `connect` that returns a promise. Strategies not yet converted implement it,
 * and `legacy.ts` adapts them to the synchronous interface of `strategy.ts`.
 *
 * The extension point for membership: a strategy decides which peers a node keeps connections
 * to and which it may forward routed messages to. The node owns sockets and the handshake;
 * a strategy sees only authenticated `PeerLink`s and the membership messages of
 * docs/protocol.md section 4. The router sees only `dataPeers()`.
 *
 * Callbacks are called synchronously from the node's event loop and must not block; they may
 * start asynchronous work (a `connect`) and must catch its failures.
 */
import type { Address, NodeConfig } from '../config.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import type { Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';
import type { Logger } from '../utils/logger.js';
import type { ErrorCodeName } from '../proto/messages.js';

export {
  DOWN_REASONS,
  type LinkCloseReason,
  type MembershipKind,
  type MembershipMessage,
  type PeerDownReason,
  type Views,
} from './strategy.js';
import type { LinkCloseReason, MembershipMessage, PeerDownReason, Views } from './strategy.js';

/** An authenticated, sealed connection to one peer. */
export interface PeerLink {
  /** The peer's verified NodeInfo (its announced address may be a wildcard resolved by the node). */
  readonly peer: NodeInfo;
  /** Same as peer.id. */
  readonly id: string;
  /** Who dialled: 'dialer' means this node opened the connection. */
  readonly role: 'dialer' | 'listener';
  /**
   * The transport's connection, where the node exposes it: `remote.host` is the host the peer
   * really connects from, which its announced address (in `peer`) only claims.
   */
  readonly connection?: { readonly remote: Address };
  readonly isOpen: boolean;
  /** Seals and sends; returns false (and sends nothing) once the link is closing. */
  send(envelope: Envelope): boolean;
  /** Flushes what is queued, then closes; with a code, a ProtocolError is sent first. */
  close(code?: ErrorCodeName, reason?: string): void;
}

/** Something the router may send to: an open link, or (Cyclon) a peer reached on demand. */
export interface DataPeer {
  readonly id: string;
  send(envelope: Envelope): boolean;
}

/** What the node offers a strategy. */
export interface MembershipContext {
  readonly self: NodeInfo;
  readonly config: NodeConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /**
   * Dials `address` and completes the handshake. Resolves to the authoritative link to the
   * peer found there (an existing link wins a duplicate), or undefined on any failure, which
   * the node has already logged. Never rejects. Rate-limited per address by the node.
   */
  connect(address: Address): Promise<PeerLink | undefined>;
  /** The open link to a peer, if any. */
  linkTo(peerId: string): PeerLink | undefined;
  /** Reports that a peer entered the strategy's active set (emits `peer:up`). */
  peerUp(link: PeerLink): void;
  /** Reports that a peer left the active set (emits `peer:down`). */
  peerDown(peer: NodeInfo, reason: PeerDownReason): void;
  /** Counts a dropped or refused input by reason, for `stats()`. */
  countDrop(reason: string): void;
}

export interface MembershipStrategy {
  readonly name: string;
  /** Joins the mesh through the seeds (tried in order), and starts periodic rounds. */
  start(seeds: readonly Address[]): void;
  /** Joins through one more contact now (the CLI's /connect), and keeps it as a seed. */
  join(contact: Address): void;
  /** Stops timers and sends Leave to every peer of the active set (flushing is the node's job). */
  stop(): void;
  /** A new authenticated link, inbound or outbound; it is short-lived until the strategy claims it. */
  onLinkReady(link: PeerLink): void;
  /** A membership message on a link. */
  onMessage(link: PeerLink, message: MembershipMessage): void;
  /** A link closed (not called for a link replaced by a duplicate: see onLinkReplaced). */
  onLinkClosed(link: PeerLink, reason: LinkCloseReason): void;
  /** `next` won a duplicate-connection contest against `previous`, which is closing. */
  onLinkReplaced(previous: PeerLink, next: PeerLink): void;
  /** Whether this link may carry routed data (Routed, IHave, Graft, Prune). */
  isDataLink(link: PeerLink): boolean;
  /** Peers the router may forward to now. */
  dataPeers(): DataPeer[];
  views(): Views;
  /** Counters: joins, shuffles, evictions, failures detected, healing attempts, ... */
  stats(): Record<string, number>;
}

export type MembershipFactory = (context: MembershipContext) => MembershipStrategy;
