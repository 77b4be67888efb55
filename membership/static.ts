/**
 * `static` membership: the topology is exactly the links the node is told to make. Every seed
 * is dialled and joined, every Join is accepted, and nothing is gossiped. Tests and the lab use
 * it to build a line, a tree or two cliques by hand; a chat between two terminals can use it
 * to keep exactly the links typed with /connect.
 *
 * A lost link to a seed is redialled with backoff (docs/protocol.md section 4, Retry): a node never
 * gives up on its contacts. A repair attempt is a sweep that dials the contacts not linked, one
 * at a time; it fails when one of them did not answer.
 */
import { formatAddress, type Address } from '../config.js';
import type { NodeInfo } from '../proto/messages.js';
import { PendingDials } from './pending-dials.js';
import { RepairLoop, type AttemptOutcome } from './repair-loop.js';
import {
  DOWN_REASONS,
  type LinkCloseReason,
  type LinkUp,
  type MembershipContext,
  type MembershipFactory,
  type CheckedMembershipMessage,
  type MembershipStrategy,
  type PeerDownReason,
  type Views,
} from './strategy.js';

/** A contact to keep a link to, with the id found at its address once known. */
interface Contact {
  address: Address;
  id?: string;
}

export class StaticMembership implements MembershipStrategy {
  readonly name = 'static';
  readonly #ctx: MembershipContext;
  /** The neighbours: the contacts reached, and every peer that sent Join or Neighbor. */
  readonly #active = new Map<string, NodeInfo>();
  /** The NodeInfo of every peer with an open link, from its LinkUp: as many as the node's links. */
  readonly #linked = new Map<string, NodeInfo>();
  /** Contacts by address. */
  readonly #contacts = new Map<string, Contact>();
  readonly #repair: RepairLoop;
  readonly #dials: PendingDials<Contact>;
  /** The sweep under way: the contacts it has still to dial, and whether one did not answer. */
  #sweep: { rest: Contact[]; failed: boolean } | undefined;
  readonly #counters = { joins: 0, joinsSent: 0, failuresDetected: 0, healingAttempts: 0, leavesReceived: 0 };
  #stopped = false;

  constructor(context: MembershipContext) {
    this.#ctx = context;
    this.#dials = new PendingDials(context);
    this.#repair = new RepairLoop({
      clock: context.clock,
      random: context.random,
      baseBackoffMs: context.config.retryBaseBackoffMs,
      maxBackoffMs: context.config.retryMaxBackoffMs,
      shouldHeal: () => !this.#stopped && this.#missingContacts().length > 0,
      attempt: () => this.#attempt(),
    });
  }

  start(seeds: readonly Address[]): void {
    for (const address of seeds) this.#contacts.set(formatAddress(address), { address });
    this.#repair.maybeHeal();
  }

  join(contact: Address): void {
    if (this.#stopped) return;
    this.#contacts.set(formatAddress(contact), { address: contact });
    this.#repair.maybeHeal();
  }

  stop(): void {
    this.#stopped = true;
    this.#repair.stop();
    this.#dials.clear();
    this.#sweep = undefined;
    for (const id of this.#active.keys()) this.#ctx.send(id, { leave: {} });
  }

  onLinkUp({ peer, replaces }: LinkUp): void {
    this.#linked.set(peer.id, peer);
    // The winner of a duplicate contest takes the loser's place, without churn.
    if (replaces && this.#active.has(peer.id)) this.#active.set(peer.id, peer);
  }

  onDialed(address: Address, peerId: string): void {
    const contact = this.#dials.settle(address);
    if (!contact || this.#stopped || !this.#sweep) return;
    contact.id = peerId;
    const peer = this.#linked.get(peerId);
    if (!peer) this.#sweep.failed = true;
    else if (!this.#active.has(peerId)) {
      this.#ctx.send(peerId, { join: {} });
      this.#counters.joinsSent++;
      this.#activate(peer);
    }
    this.#dialNext();
  }

  onDialFailed(address: Address): void {
    const contact = this.#dials.settle(address);
    if (!contact || this.#stopped || !this.#sweep) return;
    this.#sweep.failed = true;
    this.#ctx.log.warn({ address: formatAddress(address) }, 'contact unreachable, will retry');
    this.#dialNext();
  }

  onMessage(from: string, message: CheckedMembershipMessage): void {
    const peer = this.#linked.get(from);
    if (this.#stopped || !peer) return;
    switch (message.kind) {
      case 'join':
        this.#counters.joins++;
        return this.#activate(peer);
      case 'neighbor':
        this.#ctx.send(from, { neighborReply: { accepted: true } });
        return this.#activate(peer);
      case 'leave':
        this.#counters.leavesReceived++;
        return this.#drop(from, 'leave', true);
      case 'disconnect':
        return this.#drop(from, 'disconnect', true);
      default:
        this.#ctx.countDrop(`static-ignored-${message.kind}`);
    }
  }

  onLinkDown(peerId: string, reason: LinkCloseReason): void {
    this.#linked.delete(peerId);
    if (!this.#active.has(peerId)) return;
    this.#counters.failuresDetected++;
    this.#drop(peerId, DOWN_REASONS[reason], false);
  }

  isDataPeer(peerId: string): boolean {
    return this.#active.has(peerId);
  }

  dataPeers(): readonly string[] {
    return [...this.#active.keys()];
  }

  views(): Views {
    return { active: [...this.#active.values()], passive: [] };
  }

  stats(): Record<string, number> {
    return { ...this.#counters, active: this.#active.size };
  }

  #activate(peer: NodeInfo): void {
    if (this.#active.has(peer.id)) return;
    this.#active.set(peer.id, peer);
    this.#ctx.peerUp(peer);
  }

  #drop(peerId: string, reason: PeerDownReason, close: boolean): void {
    const peer = this.#active.get(peerId);
    if (!peer) return;
    this.#active.delete(peerId);
    this.#ctx.peerDown(peer, reason);
    if (close) this.#ctx.disconnect(peerId);
    this.#repair.maybeHeal();
  }

  #missingContacts(): Contact[] {
    return [...this.#contacts.values()].filter((c) => c.id === undefined || !this.#active.has(c.id));
  }

  /** A sweep over the contacts not linked: the first is dialled now, the others in turn. */
  #attempt(): AttemptOutcome | 'pending' {
    const missing = this.#missingContacts();
    if (missing.length === 0) return 'idle';
    this.#sweep = { rest: missing, failed: false };
    this.#dialNext();
    return 'pending';
  }

  /** Dials the sweep's next contact, or ends the sweep when none is left. */
  #dialNext(): void {
    const sweep = this.#sweep;
    if (!sweep) return;
    const next = sweep.rest.shift();
    if (next) {
      this.#counters.healingAttempts++;
      return this.#dials.dial(next.address, next);
    }
    this.#sweep = undefined;
    this.#repair.finish(sweep.failed ? 'failure' : 'success');
  }
}

export const createStatic: MembershipFactory = (context) => new StaticMembership(context);
