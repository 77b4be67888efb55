/**
 * What a message from a link may do, and which part of the core it is for: membership messages
 * go to the membership strategy, routed data (Routed, IHave, Graft, Prune) to the router, and
 * only from a data link. Per-link budgets are charged here, before any strategy sees the
 * message, so every strategy gets the same limits.
 *
 * A message that arrives on a link we already closed (it drains) was sent before the peer saw
 * our close: on a link that lost a duplicate contest it is handled as if it came on the winner,
 * the same authenticated peer; a Routed from a peer that was a neighbour until just now is kept
 * (its sender counted on it arriving); everything else is moot and dropped quietly.
 */
import { isWildcardHost, type NodeConfig } from '../config.js';
import type { CheckedMembershipMessage, MembershipStrategy } from '../membership/strategy.js';
import { isMembershipMessage } from '../peer-table.js';
import type { IdList, Message, NodeInfo } from '../proto/messages.js';
import type { Router } from '../router.js';
import type { Clock } from '../utils/clock.js';
import type { Connections } from './connections.js';
import { FormerNeighbours } from './former-neighbours.js';
import { exchangeEntries } from './link-budget.js';
import {
  INVALID_ENTRY_COUNTER,
  MEMBERSHIP_RULES,
  checkMembershipMessage,
  type MembershipProblem,
} from './membership-rules.js';
import type { Link } from './link.js';

export interface InboundOptions {
  config: NodeConfig;
  clock: Clock;
  connections: Connections;
  membership: MembershipStrategy;
  router: Router;
  count: (key: string, by?: number) => void;
}

export class Inbound {
  readonly #options: InboundOptions;
  /** Peers that left the data set lately: what they sent before they knew is still taken. */
  readonly #formerNeighbours: FormerNeighbours;

  constructor(options: InboundOptions) {
    this.#options = options;
    this.#formerNeighbours = new FormerNeighbours(options.clock, options.config.linkDrainMs);
  }

  onMessage(link: Link, message: Message): void {
    if (link.isClosed) return this.#onDrained(link, message);
    const { connections, membership, router, count } = this.#options;
    const isData = connections.isDataLink(link);
    if (!isData) connections.touch(link);
    if (isMembershipMessage(message)) {
      const verdict = checkMembershipMessage(message, this.#options.config.maxEntriesPerMessage);
      if (!verdict.ok) return this.#refuse(link, verdict.problem, verdict.counter, verdict.detail);
      if (verdict.invalidEntries > 0) count(`drop.${INVALID_ENTRY_COUNTER}`, verdict.invalidEntries);
      // The budget is charged for what the peer sent, invalid entries included.
      if (!connections.charge(link, 'exchange', exchangeEntries(message))) return;
      resolveOwnEntries(link, verdict.message);
      return membership.onMessage(link.id, verdict.message);
    }
    if (!isData) {
      count(`drop.${message.kind}-from-non-neighbour`);
      return link.close('PROTOCOL', `${message.kind} from a connection outside the active view`);
    }
    switch (message.kind) {
      case 'routed':
        if (!connections.charge(link, 'routed', 1)) return;
        return router.onRouted(link.id, message.body);
      case 'ihave':
      case 'graft':
        return this.#onIdList(link, message.kind, message.body);
      case 'prune':
        return router.onControl(link.id, 'prune', {});
      default:
        link.close('PROTOCOL', `unexpected ${message.kind}`);
    }
  }

  /** Drops and counts a membership message that broke a rule, and closes the link if the rule says so. */
  #refuse(link: Link, problem: MembershipProblem, counter: string, detail: string): void {
    this.#options.count(`drop.${counter}`);
    const action = MEMBERSHIP_RULES[problem];
    if (action !== 'drop') link.close(action.close, detail);
  }

  /** A peer left the data set: what it sent before it knew is still taken for `linkDrainMs`. */
  notePeerDown(peerId: string): void {
    this.#formerNeighbours.note(peerId);
  }

  #onDrained(link: Link, message: Message): void {
    const { connections, router, count } = this.#options;
    const current = connections.linkOf(link.id);
    if (current && current !== link && current.isOpen) return this.onMessage(current, message);
    if (message.kind !== 'routed' || !this.#formerNeighbours.has(link.id)) {
      return count(`drop.${message.kind}-after-close`);
    }
    if (!connections.charge(link, 'routed', 1)) return;
    count('drainedRouted');
    router.onRouted(link.id, message.body);
  }

  #onIdList(link: Link, kind: 'ihave' | 'graft', list: IdList): void {
    const { config, connections, router, count } = this.#options;
    if (list.ids.length > config.maxIdsPerMessage || list.origins.length > config.maxIdsPerMessage) {
      count(`drop.${kind}-over-limit`);
      return connections.refuse(
        link,
        'id-list-limit',
        `${kind} with more than ${config.maxIdsPerMessage} ids`,
      );
    }
    if (kind === 'graft' && !connections.charge(link, 'graft', list.ids.length)) return;
    router.onControl(link.id, kind, list);
  }
}

/**
 * Gossip carries a node's own NodeInfo as it announces it, wildcard included: the entry of the
 * sender itself gets the address its link resolved, so no wildcard travels further.
 */
function resolveOwnEntries(link: Link, message: CheckedMembershipMessage): void {
  for (const info of nodeInfosIn(message)) {
    if (info.id === link.id && isWildcardHost(info.host)) {
      info.host = link.peer.host;
      info.port = link.peer.port;
    }
  }
}

/** The NodeInfos a membership message carries, where the sender's own entry may be. */
function nodeInfosIn(message: CheckedMembershipMessage): NodeInfo[] {
  switch (message.kind) {
    case 'shuffle':
      return [message.body.origin, ...message.body.entries.map((entry) => entry.node)];
    case 'shuffleReply':
      return message.body.entries.map((entry) => entry.node);
    case 'forwardJoin':
      return [message.body.node];
    default:
      return [];
  }
}
