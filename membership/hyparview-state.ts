/**
 * What the parts of the HyParView strategy share: the data of each view's entries, the
 * counters `stats()` reports, and the narrow access the Shuffle exchange has to the strategy.
 */
import type { NodeInfo } from '../proto/messages.js';
import type { MembershipContext, PeerLink } from './legacy-strategy.js';
import type { View } from './view.js';

export interface ActivePeer {
  /** The one link the peer is reached by; `isDataLink` compares link objects with it. */
  link: PeerLink;
}

export interface PassivePeer {
  /** Failed dials in a row; the entry is dropped at `passiveMaxFailures`. */
  failures: number;
}

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
  isStopped(): boolean;
  isDataLink(link: PeerLink): boolean;
  /** Whether the passive view holds all it may of the node's address prefix. */
  isPassiveCrowded(node: NodeInfo): boolean;
  /** When the node reported `link` ready, if it did (a link that replaced another was not). */
  linkOpenedAt(link: PeerLink): number | undefined;
  /** Closes a link that is neither active nor awaiting a NeighborReply. */
  maybeCloseShortLived(link: PeerLink): void;
  /** New passive entries arrived: a chance to repair the active view. */
  onPassiveGrew(): void;
  /** Runs work whose failure is logged, never rethrown. */
  background(work: Promise<void>, what: string): void;
}
