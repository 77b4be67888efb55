/**
 * `static` membership: the topology is exactly the links the node is told to make. Every seed
 * is dialled and joined, every Join is accepted, and nothing is gossiped. Tests and the lab use
 * it to build a line, a tree or two cliques by hand; a chat between two terminals can use it
 * to keep exactly the links typed with /connect.
 *
 * A lost link to a seed is redialled with backoff (docs/protocol.md section 4, Retry): a node never
 * gives up on its contacts.
 */
import type { Address } from '../config.js';
import { formatAddress } from '../config.js';
import type { NodeInfo } from '../proto/messages.js';
import { Healer } from './healing.js';
import {
  DOWN_REASONS,
  type DataPeer,
  type LinkCloseReason,
  type MembershipContext,
  type MembershipMessage,
  type MembershipStrategy,
  type PeerDownReason,
  type PeerLink,
  type Views,
} from './legacy-strategy.js';

export class StaticMembership implements MembershipStrategy {
  readonly name = 'static';
  readonly #active = new Map<string, PeerLink>();
  /** Contacts to keep a link to, by address, with the id found there once known. */
  readonly #contacts = new Map<string, { address: Address; id?: string }>();
  readonly #healer: Healer;
  readonly #counters = { joins: 0, joinsSent: 0, failuresDetected: 0, healingAttempts: 0, leavesReceived: 0 };
  #stopped = false;

  constructor(private readonly context: MembershipContext) {
    this.#healer = new Healer({
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
    this.#healer.maybeHeal();
  }

  join(contact: Address): void {
    if (this.#stopped) return;
    this.#contacts.set(formatAddress(contact), { address: contact });
    this.#healer.maybeHeal();
  }

  stop(): void {
    this.#stopped = true;
    this.#healer.stop();
    for (const link of this.#active.values()) link.send({ leave: {} });
  }

  onLinkReady(): void {}

  onMessage(link: PeerLink, message: MembershipMessage): void {
    if (this.#stopped) return;
    switch (message.kind) {
      case 'join':
        this.#counters.joins++;
        return this.#activate(link);
      case 'neighbor':
        link.send({ neighborReply: { accepted: true } });
        return this.#activate(link);
      case 'leave':
        this.#counters.leavesReceived++;
        return this.#drop(link, 'leave', true);
      case 'disconnect':
        return this.#drop(link, 'disconnect', true);
      default:
        this.context.countDrop(`static-ignored-${message.kind}`);
    }
  }

  onLinkClosed(link: PeerLink, reason: LinkCloseReason): void {
    if (this.#active.get(link.id) !== link) return;
    this.#counters.failuresDetected++;
    this.#drop(link, DOWN_REASONS[reason], false);
  }

  onLinkReplaced(previous: PeerLink, next: PeerLink): void {
    if (this.#active.get(previous.id) === previous) this.#active.set(next.id, next);
  }

  isDataLink(link: PeerLink): boolean {
    return this.#active.get(link.id) === link;
  }

  dataPeers(): DataPeer[] {
    return [...this.#active.values()];
  }

  views(): Views {
    return { active: [...this.#active.values()].map((link) => link.peer), passive: [] };
  }

  stats(): Record<string, number> {
    return { ...this.#counters, active: this.#active.size };
  }

  #activate(link: PeerLink): void {
    if (this.#active.get(link.id) === link) return;
    this.#active.set(link.id, link);
    this.context.peerUp(link);
  }

  #drop(link: PeerLink, reason: PeerDownReason, close: boolean): void {
    if (this.#active.get(link.id) !== link) return;
    this.#active.delete(link.id);
    this.context.peerDown(link.peer as NodeInfo, reason);
    if (close) link.close();
    this.#healer.maybeHeal();
  }

  #missingContacts(): Array<{ address: Address; id?: string }> {
    return [...this.#contacts.values()].filter((c) => c.id === undefined || !this.#active.has(c.id));
  }

  async #attempt(): Promise<'success' | 'failure' | 'idle'> {
    const missing = this.#missingContacts();
    if (missing.length === 0) return 'idle';
    let failed = false;
    for (const contact of missing) {
      this.#counters.healingAttempts++;
      const link = await this.context.connect(contact.address);
      if (this.#stopped) return 'idle';
      if (!link) {
        failed = true;
        this.context.log.warn({ address: formatAddress(contact.address) }, 'contact unreachable, will retry');
        continue;
      }
      contact.id = link.id;
      if (this.#active.get(link.id) === link) continue;
      link.send({ join: {} });
      this.#counters.joinsSent++;
      this.#activate(link);
    }
    return failed ? 'failure' : 'success';
  }
}

export const createStatic = (context: MembershipContext): MembershipStrategy => new StaticMembership(context);
