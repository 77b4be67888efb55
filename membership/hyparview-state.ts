/**
 * What the parts of the HyParView strategy share: the facts kept about each open link (the
 * active view's entries hold those of their peer's link), the data of passive entries, the
 * counters `stats()` reports, and the narrow access the Shuffle exchange has to the strategy.
 */
import type { Address } from '../config.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import type { MembershipContext } from './strategy.js';
import type { View } from './view.js';

/**
 * One open link as the node reported it (`onLinkUp`). A link that replaces another gets a new
 * object, so what is kept per link object (a Join taken, a Shuffle allowance) starts afresh.
 */
export interface LinkFacts {
  readonly peer: NodeInfo;
  /** Who dialled: 'dialer' means this node opened the connection. */
  readonly role: 'dialer' | 'listener';
  /** The host the peer really connects from (the prefix rules count it, not the announced one). */
  readonly remoteHost: string;
  /** When the node reported the link (a ShuffleReply must come on a connection newer than its Shuffle). */
  readonly openedAtMs: number;
  /** A Join came on this link: a second one is a duplicate. */
  hasJoined: boolean;
}

/** An active neighbour: the facts of the one link it is reached by. */
export type ActivePeer = LinkFacts;

export interface PassivePeer {
  /** Failed dials in a row; the entry is dropped at `passiveMaxFailures`. */
  failures: number;
}

/** Why a dial was made; its outcome goes back to that purpose (PendingDials). */
export type DialPurpose =
  | { kind: 'seed' }
  | { kind: 'contact' }
  | { kind: 'passive'; info: NodeInfo }
  | { kind: 'walkEnd'; node: NodeInfo }
  | { kind: 'shuffleReply'; origin: NodeInfo; entries: PeerEntry[] };

export const COUNTERS = [
  'joins',
  'joinsSent',
  'forwardJoins',
  'neighborRequests',
  'neighborAccepted',
  'neighborRefused',
  'neighborRequestsSent',
  'neighborAcceptedByPeer',
  'neighborRefusedByPeer',
  'disconnectsReceived',
  'shufflesSent',
  'shufflesReceived',
  'shufflesForwarded',
  'shuffleReplies',
  'shuffleRepliesReceived',
  'shuffleRepliesLimited',
  'evictions',
  'admissionsLimited',
  'failuresDetected',
  'healingAttempts',
  'passiveDropped',
  'leavesReceived',
  'entriesRefused',
] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counters = Record<Counter, number>;

export function newCounters(): Counters {
  return Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Counters;
}

/** The strategy as the Shuffle exchange sees it. */
export interface ShuffleHost {
  readonly context: MembershipContext;
  readonly active: View<ActivePeer>;
  readonly passive: View<PassivePeer>;
  readonly counters: Counters;
  /** The facts of the open link to a peer, if any. */
  linkOf(peerId: string): LinkFacts | undefined;
  /** Whether the passive view holds all it may of the node's address prefix. */
  isPassiveCrowded(node: NodeInfo): boolean;
  /** Dials for a ShuffleReply; the outcome comes back to `ShuffleExchange.onOriginDialed`. */
  dial(address: Address, purpose: Extract<DialPurpose, { kind: 'shuffleReply' }>): void;
  /** Closes the link to a peer that is neither active nor awaiting a NeighborReply. */
  maybeCloseShortLived(peerId: string): void;
  /** New passive entries arrived: a chance to repair the active view. */
  onPassiveGrew(): void;
}
