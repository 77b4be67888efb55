/**
 * The extension point for membership: a strategy decides which peers a node keeps connections
 * to and which it may forward routed messages to. It is a synchronous state machine: the node
 * feeds it inputs (a link up or down, a dial's outcome, a membership message from a peer id, a
 * command), and it answers through the context's outputs (send to a peer id, dial an address,
 * disconnect a peer, report a peer up or down). Timers go through the injected clock, chance
 * through the injected random source. A strategy never awaits, never holds a connection object,
 * and can be driven in a unit test by a context that records its outputs.
 *
 * The node owns sockets, the handshake, duplicate connections and the idle close of links that
 * are not data links (docs/protocol.md sections 3 and 4).
 */
import type { Address, NodeConfig } from '../config.js';
import type {
  EnvelopeBodies,
  Envelope,
  ErrorCodeName,
  ForwardJoin,
  NodeInfo,
  PeerEntry,
  Shuffle,
  ShuffleReply,
} from '../proto/messages.js';
import type { Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';
import type { Logger } from '../utils/logger.js';

/** Why a peer left the active view, as reported in `peer-down` events. */
export type PeerDownReason = 'leave' | 'disconnect' | 'evicted' | 'closed' | 'timeout' | 'error';

/** Why a link closed, as the node saw it. */
export type LinkCloseReason = 'closed' | 'timeout' | 'error' | 'leave' | 'local';

/** How a closed link is reported in `peer-down` when it takes a peer out of a view. */
export const DOWN_REASONS: Readonly<Record<LinkCloseReason, PeerDownReason>> = Object.freeze({
  closed: 'closed',
  timeout: 'timeout',
  error: 'error',
  leave: 'leave',
  local: 'closed',
});

/** The membership messages a strategy handles. */
export type MembershipKind =
  'join' | 'forwardJoin' | 'neighbor' | 'neighborReply' | 'disconnect' | 'shuffle' | 'shuffleReply' | 'leave';
export type MembershipMessage = {
  [K in MembershipKind]: { kind: K; body: EnvelopeBodies[K] };
}[MembershipKind];

/** A gossip entry whose NodeInfo is present and valid. */
export interface CheckedPeerEntry extends PeerEntry {
  node: NodeInfo;
}

type CheckedBodies = Omit<EnvelopeBodies, 'forwardJoin' | 'shuffle' | 'shuffleReply'> & {
  forwardJoin: Omit<ForwardJoin, 'node'> & { node: NodeInfo };
  shuffle: Omit<Shuffle, 'origin' | 'entries'> & { origin: NodeInfo; entries: CheckedPeerEntry[] };
  shuffleReply: Omit<ShuffleReply, 'entries'> & { entries: CheckedPeerEntry[] };
};

declare const checked: unique symbol;

/**
 * A membership message as a strategy gets it: it passed `checkMembershipMessage`
 * (link/membership-rules.ts) where it entered the node, and only that check makes one. Every
 * NodeInfo it carries (a ForwardJoin's node, a Shuffle's origin, each entry) is present and
 * valid, and a Shuffle or ShuffleReply carries at most `maxEntriesPerMessage` entries, so no
 * strategy judges them again.
 */
export type CheckedMembershipMessage = {
  [K in MembershipKind]: { kind: K; body: CheckedBodies[K] };
}[MembershipKind] & { readonly [checked]: true };

/** Both views, for `/peers`, the `peers` JSON event and the lab. */
export interface Views {
  active: NodeInfo[];
  passive: NodeInfo[];
}

/** An authenticated link as a strategy learns of it: facts about it, nothing to act on. */
export interface LinkUp {
  /** The peer's verified NodeInfo, its address resolved by the node (no wildcard host). */
  readonly peer: NodeInfo;
  /** Who dialled: 'dialer' means this node opened the connection. */
  readonly role: 'dialer' | 'listener';
  /** The host the peer really connects from, which its announced address only claims. */
  readonly remoteHost: string;
  /**
   * The link takes the place of an earlier one to the same peer (a duplicate connection that
   * won, or a restarted peer). The earlier link closes without `onLinkDown`.
   */
  readonly replaces: boolean;
}

/** What the node offers a strategy: its identity, its injected sources, and its outputs. */
export interface MembershipContext {
  readonly self: NodeInfo;
  readonly config: NodeConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /** Sends on the open link to a peer. False (nothing sent) when there is none or it is closing. */
  send(peerId: string, envelope: Envelope): boolean;
  /**
   * Dials an address and completes the handshake. Exactly one outcome comes back for each call,
   * never during the call itself: `onDialed` with the peer found there (a new link is reported
   * by `onLinkUp` first; an existing link to that peer may answer instead), or `onDialFailed`.
   * The node limits dials per address and logs failures.
   */
  dial(address: Address): void;
  /** Closes the link to a peer after what is queued on it; with a code, ProtocolError first. */
  disconnect(peerId: string, code?: ErrorCodeName, reason?: string): void;
  /** Whether an open link to the peer exists. */
  isLinked(peerId: string): boolean;
  /** Reports that a peer entered the strategy's data set (emits `peer:up`). */
  peerUp(peer: NodeInfo): void;
  /** Reports that a peer left the data set (emits `peer:down`). */
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
  /** Stops timers and sends Leave to every peer of the data set (flushing is the node's job). */
  stop(): void;
  /** A new authenticated link; it is short-lived (closed by the node when idle) until it is a data link. */
  onLinkUp(link: LinkUp): void;
  /** The dial to `address` reached `peerId` (see `MembershipContext.dial`). */
  onDialed(address: Address, peerId: string): void;
  /** The dial to `address` reached no node. */
  onDialFailed(address: Address): void;
  /** A membership message from a linked peer, already validated by the node. */
  onMessage(from: string, message: CheckedMembershipMessage): void;
  /** The link to a peer closed (not called for a link another replaced: see `LinkUp.replaces`). */
  onLinkDown(peerId: string, reason: LinkCloseReason): void;
  /** Whether the link to this peer may carry routed data (Routed, IHave, Graft, Prune). */
  isDataPeer(peerId: string): boolean;
  /** Peers the router may forward to now. */
  dataPeers(): readonly string[];
  /**
   * Sends routed data to a data peer. Optional: by default the node sends on the open link. A
   * strategy whose data peers are addresses rather than links (Cyclon) dials and queues here.
   */
  sendData?(peerId: string, envelope: Envelope): boolean;
  views(): Views;
  /** Counters: joins, shuffles, evictions, failures detected, healing attempts, ... */
  stats(): Record<string, number>;
}

export type MembershipFactory = (context: MembershipContext) => MembershipStrategy;
