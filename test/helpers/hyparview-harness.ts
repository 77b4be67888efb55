/**
 * One HyParView strategy under the StrategyDriver, with the node's side played as the node plays
 * it: each dial gets its one outcome later (`pump`), from the answer the test chose; a link the
 * strategy closes stops being linked at once and is reported down later (`pump`). After every
 * input and every timer the invariants are checked: views bounded, never self, no duplicates,
 * active and passive disjoint, no port-0 node in passive, every active peer linked (or its close
 * not yet reported), peer-up and peer-down balanced (each active peer up once, no one else).
 */
import { expect } from 'vitest';
import type { Address, NodeConfig } from '../../config.js';
import { createHyParView } from '../../membership/hyparview.js';
import type { MembershipKind, MembershipMessage, MembershipStrategy } from '../../membership/strategy.js';
import { envelopeKind, type EnvelopeBodies, type EnvelopeKind, type NodeInfo } from '../../proto/messages.js';
import { captureLogger, makeNode, viewProblems, type LogLine } from './membership-inputs.js';
import { StrategyDriver, type Output } from './strategy-driver.js';

/** What a dial to an address reaches: a node, nobody (undefined), or nothing yet ('hold'). */
export type DialAnswer = (address: Address) => NodeInfo | undefined | 'hold';

export class HyParViewHarness {
  readonly d: StrategyDriver;
  readonly self: NodeInfo;
  readonly lines: LogLine[];
  readonly config: NodeConfig;
  /** Every dial the strategy made, with the virtual time it made it. */
  readonly dials: Address[] = [];
  readonly dialTimes: number[] = [];
  /** The peer each answered dial reached, in order. */
  readonly made: NodeInfo[] = [];
  /** Default: nobody answers. */
  answer: DialAnswer = () => undefined;
  readonly #unanswered: Address[] = [];
  readonly #closing: string[] = [];
  /** Per peer, the index in `outputs` from which `sent` looks (set by `clearSent`, `link`). */
  readonly #sentFrom = new Map<string, number>();
  readonly #linkedAt = new Map<string, number>();
  #isStopped = false;

  constructor(overrides: Partial<NodeConfig>, seed = 7) {
    this.self = makeNode(1);
    const captured = captureLogger();
    this.lines = captured.lines;
    this.d = new StrategyDriver(
      (context) =>
        createHyParView({
          ...context,
          log: captured.log,
          dial: (address) => {
            this.dials.push(address);
            this.dialTimes.push(context.clock.now());
            this.#unanswered.push(address);
            context.dial(address);
          },
          disconnect: (peerId, code, reason) => {
            context.disconnect(peerId, code, reason);
            // The node's link is closing: no more sends, and its close is reported later.
            if (this.d.linked.delete(peerId)) this.#closing.push(peerId);
          },
        }),
      { self: this.self, config: overrides, seed, check: (strategy) => this.#check(strategy) },
    );
    this.config = this.d.context.config;
  }

  get hv(): MembershipStrategy {
    return this.d.strategy;
  }

  // --- inputs ---------------------------------------------------------------------------

  start(seeds: readonly Address[] = []): void {
    this.d.start(seeds);
  }

  stop(): void {
    this.#isStopped = true;
    this.d.step((s) => s.stop());
  }

  /**
   * A link to `peer` comes up (replacing an open one when there is one), from `remoteHost`
   * (by default the host the peer announces).
   */
  link(peer: NodeInfo, role: 'dialer' | 'listener' = 'listener', remoteHost = peer.host): NodeInfo {
    const replaces = this.d.linked.has(peer.id);
    this.#linkedAt.set(peer.id, this.d.outputs.length);
    this.d.linked.add(peer.id);
    this.d.step((s) => s.onLinkUp({ peer, role, remoteHost, replaces }));
    return peer;
  }

  /** A link that replaces the open one to the same peer (a duplicate that won, a restart). */
  replace(peer: NodeInfo, role: 'dialer' | 'listener' = 'listener'): void {
    this.#linkedAt.set(peer.id, this.d.outputs.length);
    this.d.linkUp(peer, role, true);
  }

  message<K extends MembershipKind>(
    from: NodeInfo | string,
    kind: K,
    body: Extract<MembershipMessage, { kind: K }>['body'],
  ): void {
    this.d.message(typeof from === 'string' ? from : from.id, { kind, body } as MembershipMessage);
  }

  linkDown(peer: NodeInfo | string, reason: Parameters<StrategyDriver['linkDown']>[1] = 'closed'): void {
    this.d.linkDown(typeof peer === 'string' ? peer : peer.id, reason);
  }

  /** Node n links up and asks (high priority) for a slot; what it was sent is cleared. */
  neighbour(n: number | NodeInfo): NodeInfo {
    const peer = typeof n === 'number' ? makeNode(n) : n;
    this.link(peer);
    this.message(peer, 'neighbor', { highPriority: true });
    this.clearSent(peer.id);
    return peer;
  }

  /** Node n enters the passive view: it becomes a neighbour, then leaves it alive. */
  passivePeer(n: number): NodeInfo {
    const peer = this.neighbour(n);
    this.message(peer, 'disconnect', { alive: true });
    this.deliverCloses();
    return peer;
  }

  /** Answers dials to each node's address with a link to it (dialer side); returns `made`. */
  answerWith(nodes: readonly NodeInfo[]): NodeInfo[] {
    this.answer = (address) => nodes.find((n) => n.host === address.host && n.port === address.port);
    return this.made;
  }

  /** What the node does between inputs: answers the dials made and reports the links closed. */
  pump(): void {
    for (;;) {
      const hadCloses = this.deliverCloses();
      const pending = this.#unanswered.splice(0);
      const held: Address[] = [];
      for (const address of pending) {
        const answer = this.answer(address);
        if (answer === 'hold') {
          held.push(address);
        } else if (answer) {
          this.made.push(answer);
          if (!this.d.linked.has(answer.id)) this.#linkedAt.set(answer.id, this.d.outputs.length);
          this.d.dialed(address, answer);
        } else {
          this.d.dialFailed(address);
        }
      }
      this.#unanswered.unshift(...held);
      if (!hadCloses && held.length === pending.length) return;
    }
  }

  /** Reports the links the strategy closed as down ('local'); true when there were any. */
  deliverCloses(): boolean {
    const closing = this.#closing.splice(0);
    for (const peerId of closing) if (!this.d.linked.has(peerId)) this.d.linkDown(peerId, 'local');
    return closing.length > 0;
  }

  /** Fires every timer due in the next `ms`, one instant at a time, pumping before each. */
  run(ms: number): void {
    const target = this.d.clock.now() + ms;
    for (;;) {
      this.pump();
      const due = this.d.clock.nextDue();
      if (due === undefined || due > target) break;
      this.d.advance(due - this.d.clock.now());
    }
    this.d.advance(target - this.d.clock.now());
  }

  /** Fires the timers of the next due instant; false when none is left. */
  stepTimer(): boolean {
    const due = this.d.clock.nextDue();
    if (due === undefined) return false;
    this.d.advance(due - this.d.clock.now());
    this.pump();
    return true;
  }

  // --- outputs --------------------------------------------------------------------------

  clearSent(peerId: string): void {
    this.#sentFrom.set(peerId, this.d.outputs.length);
  }

  #sendsTo(peerId: string): Array<Extract<Output, { type: 'send' }>> {
    const from = this.#sentFrom.get(peerId) ?? 0;
    return this.d.outputs
      .slice(from)
      .filter((o): o is Extract<Output, { type: 'send' }> => o.type === 'send' && o.to === peerId);
  }

  /** Kinds of the envelopes sent to a peer (since `clearSent`). */
  kinds(peer: NodeInfo | string): EnvelopeKind[] {
    return this.#sendsTo(typeof peer === 'string' ? peer : peer.id).map((o) => envelopeKind(o.envelope));
  }

  /** Bodies of the envelopes of one kind sent to a peer (since `clearSent`). */
  sent<K extends EnvelopeKind>(peer: NodeInfo | string, kind: K): Array<EnvelopeBodies[K]> {
    return this.#sendsTo(typeof peer === 'string' ? peer : peer.id)
      .filter((o) => envelopeKind(o.envelope) === kind)
      .map((o) => (o.envelope as Record<string, unknown>)[kind] as EnvelopeBodies[K]);
  }

  /** The close of the peer's latest link, if the strategy closed it. */
  closeOf(peer: NodeInfo | string): Extract<Output, { type: 'disconnect' }> | undefined {
    const id = typeof peer === 'string' ? peer : peer.id;
    return this.d.outputs
      .slice(this.#linkedAt.get(id) ?? 0)
      .find((o): o is Extract<Output, { type: 'disconnect' }> => o.type === 'disconnect' && o.peerId === id);
  }

  isClosed(peer: NodeInfo | string): boolean {
    return this.closeOf(peer) !== undefined;
  }

  ups(): string[] {
    return this.d.outputs.flatMap((o) => (o.type === 'up' ? [o.peer.id] : []));
  }

  /** The index in `outputs` of the first output matching, -1 if none. */
  indexOf(match: (output: Output) => boolean): number {
    return this.d.outputs.findIndex(match);
  }

  downs(): Array<{ id: string; reason: string }> {
    return this.d.outputs.flatMap((o) => (o.type === 'down' ? [{ id: o.peerId, reason: o.reason }] : []));
  }

  drops(reason: string): number {
    return this.d.outputs.filter((o) => o.type === 'drop' && o.reason === reason).length;
  }

  // --- invariants -----------------------------------------------------------------------

  #check(strategy: MembershipStrategy): void {
    const views = strategy.views();
    expect(viewProblems(views, this.self.id, this.config)).toEqual([]);
    const active = views.active.map((info) => info.id);
    const unlinked = active.filter((id) => !this.d.linked.has(id) && !this.#closing.includes(id));
    expect(unlinked, 'active peers without a link').toEqual([]);
    expect([...active].sort()).toEqual([...strategy.dataPeers()].sort());
    if (this.#isStopped) return;
    const balance = new Map<string, number>();
    for (const o of this.d.outputs) {
      if (o.type === 'up') balance.set(o.peer.id, (balance.get(o.peer.id) ?? 0) + 1);
      if (o.type === 'down') balance.set(o.peerId, (balance.get(o.peerId) ?? 0) - 1);
    }
    const up = [...balance].filter(([, n]) => n !== 0);
    expect(
      up.every(([, n]) => n === 1),
      'each peer up at most once',
    ).toBe(true);
    expect(up.map(([id]) => id).sort(), 'peers up are the active peers').toEqual([...active].sort());
  }
}
