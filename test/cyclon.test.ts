/**
 * Tier 2 of the tests (one component's rules, no sockets): Cyclon rule by rule, driven as the
 * node drives it (links up and down, dial outcomes, messages by peer id) by a StrategyDriver with
 * a SimClock and a seeded Random, its invariants checked after every input and every timer. Then
 * real Nodes over the memory transport under the simulated clock: 40 nodes joining through one
 * seed, and the faithful weakness, dead entries lingering after half the nodes crash at once.
 *
 * Settings are small and pairwise distinct (view 5, shuffle length 3, entry limit 8, idle 500,
 * round 1000) so that a swapped setting fails a test. Tests that do not call start() see each
 * message rule alone: no round timer, no rejoin loop.
 */
import { describe, expect, it } from 'vitest';
import { formatAddress, type Address, type NodeConfig } from '../config.js';
import { createCyclon, Cyclon, MAX_AGE, MAX_QUEUED } from '../membership/cyclon.js';
import type { MembershipStrategy } from '../membership/strategy.js';
import {
  envelopeKind,
  type Envelope,
  type EnvelopeBodies,
  type EnvelopeKind,
  type NodeInfo,
  type PeerEntry,
} from '../proto/messages.js';
import { addressOfNode, makeNode, msg } from './helpers/membership-inputs.js';
import { SimNodes, addressOf, type SimNode } from './helpers/sim-nodes.js';
import { StrategyDriver, type Output } from './helpers/strategy-driver.js';

const SMALL: Partial<NodeConfig> = {
  cyclonViewSize: 5,
  cyclonShuffleLength: 3,
  maxEntriesPerMessage: 8,
  shuffleIntervalMs: 1000,
  shortLivedIdleMs: 500,
  retryBaseBackoffMs: 100,
  retryMaxBackoffMs: 1600,
};

/**
 * The invariants of every step: the view bounded, never self, no duplicate, ages within the
 * uint32 range, every queue bounded, and the data peers exactly the view.
 */
function invariants(self: NodeInfo, viewSize: number): (strategy: MembershipStrategy) => void {
  return (strategy) => {
    const { entries, queueLengths } = (strategy as Cyclon).snapshot();
    const ids = entries.map((entry) => entry.id);
    if (ids.length > viewSize) throw new Error(`view of ${ids.length} > ${viewSize}`);
    if (ids.includes(self.id)) throw new Error('self in the view');
    if (new Set(ids).size !== ids.length) throw new Error('duplicate in the view');
    for (const { id, age } of entries) {
      if (!Number.isInteger(age) || age < 0 || age > MAX_AGE) throw new Error(`age ${age} of ${id}`);
    }
    if (queueLengths.some((length) => length > MAX_QUEUED)) throw new Error('queue over its bound');
    if (strategy.dataPeers().join() !== ids.join()) throw new Error('data peers differ from the view');
  };
}

/**
 * A driver plus the node's side of dials: every dial is stamped with its virtual time and, unless
 * `isHolding`, answered right after the input that made it, by `reachable` (a node listening at
 * the address) or as a failure.
 */
class Harness {
  readonly d: StrategyDriver;
  readonly cy: Cyclon;
  readonly dials: Address[] = [];
  readonly dialTimes: number[] = [];
  reachable: NodeInfo[] = [];
  isHolding = false;
  readonly #held: Address[] = [];
  #seen = 0;

  constructor(
    readonly self: NodeInfo,
    readonly config: Partial<NodeConfig>,
    seed: number,
  ) {
    const viewSize = config.cyclonViewSize ?? 35;
    this.d = new StrategyDriver(createCyclon, { self, config, seed, check: invariants(self, viewSize) });
    this.cy = this.d.strategy as Cyclon;
  }

  /** Stamps the dials made since the last call, and answers them (or holds them). */
  answer(): void {
    for (;;) {
      const dials = this.d.outputs.filter((o): o is Extract<Output, { type: 'dial' }> => o.type === 'dial');
      if (this.#seen >= dials.length) return;
      const { address } = dials[this.#seen++] as { address: Address };
      this.dials.push(address);
      this.dialTimes.push(this.d.clock.now());
      this.#held.push(address);
      if (!this.isHolding) this.release();
    }
  }

  /** Answers every held dial: a node of `reachable` at its address, else a failure. */
  release(): void {
    for (const address of this.#held.splice(0)) {
      const node = this.reachable.find((n) => formatAddress(addressOfNode(n)) === formatAddress(address));
      if (node) this.d.dialed(address, node);
      else this.d.dialFailed(address);
    }
  }

  /** Fires every timer due in the next `ms`, answering dials between them. */
  run(ms: number): void {
    const until = this.d.clock.now() + ms;
    for (;;) {
      this.answer();
      const due = this.d.clock.nextDue();
      if (due === undefined || due > until) break;
      this.d.advance(due - this.d.clock.now());
    }
    this.d.advance(until - this.d.clock.now());
  }

  /** Runs timers (answering dials) until `predicate` holds; fails after `limitMs`. */
  until(predicate: () => boolean, limitMs = 5000): void {
    const deadline = this.d.clock.now() + limitMs;
    for (;;) {
      this.answer();
      if (predicate()) return;
      const due = this.d.clock.nextDue();
      if (due === undefined || due > deadline) throw new Error('condition never held');
      this.d.advance(due - this.d.clock.now());
    }
  }

  start(seeds: readonly Address[] = []): void {
    this.d.start(seeds);
    this.answer();
  }

  stop(): void {
    this.d.step((s) => s.stop());
  }

  sendData(to: NodeInfo, envelope: Envelope): boolean {
    let result = false;
    this.d.step((s) => (result = s.sendData?.(to.id, envelope) ?? false));
    this.answer();
    return result;
  }

  kinds(to: NodeInfo): EnvelopeKind[] {
    return this.d.sends(to.id).map(envelopeKind);
  }

  /** The bodies of every envelope of one kind sent to a peer. */
  sentOf<K extends EnvelopeKind>(to: NodeInfo, kind: K): Array<EnvelopeBodies[K]> {
    return this.d
      .sends(to.id)
      .filter((envelope) => envelopeKind(envelope) === kind)
      .map((envelope) => (envelope as Record<K, EnvelopeBodies[K]>)[kind]);
  }

  ups(): string[] {
    return this.d.outputs.flatMap((o) => (o.type === 'up' ? [o.peer.id] : []));
  }

  downs(): Array<{ id: string; reason: string }> {
    return this.d.outputs.flatMap((o) => (o.type === 'down' ? [{ id: o.peerId, reason: o.reason }] : []));
  }

  disconnects(): Array<{ id: string; code: string | undefined }> {
    return this.d.outputs.flatMap((o) => (o.type === 'disconnect' ? [{ id: o.peerId, code: o.code }] : []));
  }

  dropCount(reason: string): number {
    return this.d.outputs.filter((o) => o.type === 'drop' && o.reason === reason).length;
  }
}

function setup(overrides: Partial<NodeConfig> = {}, seed = 7) {
  const self = makeNode(1);
  const h = new Harness(self, { ...SMALL, ...overrides }, seed);
  return { self, h, d: h.d, cy: h.cy };
}

const ids = (infos: readonly NodeInfo[]): string[] => infos.map((info) => info.id).sort();
const viewIds = (cy: Cyclon): string[] => ids(cy.views().active);
const aged = (node: NodeInfo, age: number): PeerEntry => ({ node, age });
const entriesOf = (...nodes: NodeInfo[]): PeerEntry[] => nodes.map((node) => aged(node, 0));
const ageOf = (cy: Cyclon, node: NodeInfo): number | undefined =>
  cy.snapshot().entries.find((entry) => entry.id === node.id)?.age;

/**
 * Fills a view through a Shuffle from node 90 on a link closed right after (so that it is not
 * one of the links the strategy keeps). Into an empty view nothing is answered nor replaced.
 */
function fill(d: StrategyDriver, entries: PeerEntry[]): void {
  const from = makeNode(90);
  d.linkUp(from);
  d.message(from.id, msg('shuffle', { origin: from, entries, ttl: 0 }));
  d.linkDown(from.id, 'local');
}

const ping = (nonce: number): Envelope => ({ ping: { nonce: BigInt(nonce) } });

describe('join', () => {
  it('the seed adds the joiner at age 0 and answers with entries of its view, never the joiner', () => {
    const { h, d, cy } = setup();
    fill(d, entriesOf(makeNode(2), makeNode(3)));
    const joiner = makeNode(4);
    d.linkUp(joiner);
    d.message(joiner.id, msg('join', {}));

    expect(viewIds(cy)).toEqual(ids([makeNode(2), makeNode(3), makeNode(4)]));
    expect(ageOf(cy, joiner)).toBe(0);
    expect(h.ups().at(-1)).toBe(joiner.id);
    const [reply] = h.sentOf(joiner, 'shuffleReply');
    expect(ids(reply?.entries.map((e) => e.node as NodeInfo) ?? [])).toEqual(ids([makeNode(2), makeNode(3)]));
    expect(cy.stats().joins).toBe(1);

    // A node whose view emptied rejoins on the same link: it is answered again.
    d.message(joiner.id, msg('join', {}));
    expect(h.sentOf(joiner, 'shuffleReply')).toHaveLength(2);
    expect(cy.views().active).toHaveLength(3);
  });

  it('a full seed evicts its oldest entry for the joiner', () => {
    const { h, d, cy } = setup();
    fill(d, [
      aged(makeNode(2), 4),
      aged(makeNode(3), 9),
      aged(makeNode(4), 1),
      aged(makeNode(5), 0),
      aged(makeNode(6), 2),
    ]);
    d.linkUp(makeNode(7));
    d.message(makeNode(7).id, msg('join', {}));
    expect(viewIds(cy)).not.toContain(makeNode(3).id);
    expect(viewIds(cy)).toContain(makeNode(7).id);
    expect(h.downs()).toEqual([{ id: makeNode(3).id, reason: 'evicted' }]);
    expect(cy.stats().evictions).toBe(1);
  });

  it('the joiner dials its seed, sends Join, keeps the seed and merges its answer', () => {
    const { h, d, cy } = setup();
    const seed = makeNode(2);
    h.reachable = [seed];
    h.start([addressOfNode(seed)]);
    expect(h.dials).toEqual([addressOfNode(seed)]);
    expect(h.kinds(seed)).toEqual(['join']);
    expect(viewIds(cy)).toEqual([seed.id]);

    d.message(seed.id, msg('shuffleReply', { entries: [aged(makeNode(3), 2), aged(makeNode(4), 5)] }));
    expect(viewIds(cy)).toEqual(ids([seed, makeNode(3), makeNode(4)]));
    // Received ages are kept.
    expect([ageOf(cy, makeNode(3)), ageOf(cy, makeNode(4))]).toEqual([2, 5]);
    expect(cy.stats()).toMatchObject({ joinsSent: 1, shuffleRepliesReceived: 1 });
    h.stop();
  });

  it('rejoins through the seeds with backoff only while the view is empty', () => {
    const { h, d, cy } = setup();
    const seed = makeNode(2);
    h.start([addressOfNode(seed)]);
    h.run(3000);
    const failed = h.dials.length;
    expect(failed).toBeGreaterThan(3);
    expect(failed).toBeLessThan(15);

    h.reachable = [seed];
    h.until(() => cy.views().active.length > 0);
    fill(d, entriesOf(makeNode(3), makeNode(4), makeNode(5)));
    // Rounds go on (each removes one entry), but while the view is not empty nobody rejoins.
    h.run(1600);
    expect(h.sentOf(seed, 'join')).toHaveLength(1);
    expect(d.sends().filter((envelope) => envelopeKind(envelope) === 'join')).toHaveLength(1);
    h.stop();
  });

  it('walks the seeds in order: a seed that fails or is this node is followed by the next', () => {
    const { self, h, cy } = setup();
    const [dead, seed] = [makeNode(2), makeNode(3)];
    h.reachable = [self, seed];
    h.start([addressOfNode(dead), addressOfNode(self), addressOfNode(seed)]);
    expect(h.dials).toEqual([addressOfNode(dead), addressOfNode(self), addressOfNode(seed)]);
    expect(viewIds(cy)).toEqual([seed.id]);
    expect(h.kinds(seed)).toEqual(['join']);
    expect(cy.stats().joinsSent).toBe(1);
    h.stop();
  });

  it('join(contact) dials the contact at once and keeps it as a seed', () => {
    const { h, cy } = setup();
    const contact = makeNode(2);
    h.start([]);
    h.reachable = [contact];
    h.d.step((s) => s.join(addressOfNode(contact)));
    h.answer();
    expect(h.kinds(contact)).toEqual(['join']);
    expect(viewIds(cy)).toEqual([contact.id]);
    h.stop();
  });
});

describe('the round (the initiator)', () => {
  it('ages every entry, removes the oldest and sends it self (age 0) plus length-1 others, ttl 0', () => {
    const { h, d, self, cy } = setup();
    const [a, b, c, e, f] = [makeNode(2), makeNode(3), makeNode(4), makeNode(5), makeNode(6)];
    fill(d, [aged(a, 3), aged(b, 1), aged(c, 0), aged(e, 2), aged(f, 1)]);
    h.reachable = [a];
    h.start([]);
    h.run(1250);

    expect(h.dials).toEqual([addressOfNode(a)]);
    expect(viewIds(cy)).toEqual(ids([b, c, e, f]));
    expect(h.downs()).toEqual([{ id: a.id, reason: 'evicted' }]);
    const shuffle = h.sentOf(a, 'shuffle')[0];
    expect(shuffle?.ttl).toBe(0);
    expect(shuffle?.origin).toEqual(self);
    expect(shuffle?.entries[0]).toEqual({ node: self, age: 0 });
    const others = shuffle?.entries.slice(1) ?? [];
    expect(others).toHaveLength(2);
    const agesBefore = new Map([b, c, e, f].map((info, i) => [info.id, [1, 0, 2, 1][i]]));
    for (const entry of others) expect(entry.age).toBe((agesBefore.get(entry.node?.id ?? '') as number) + 1);
    expect(cy.stats().shuffles).toBe(1);
    h.stop();
  });

  it('runs every shuffleIntervalMs, jittered by +-25%', () => {
    const { h, d } = setup({ cyclonViewSize: 30 });
    fill(d, entriesOf(...Array.from({ length: 8 }, (_, i) => makeNode(i + 2))));
    h.start([]);
    h.run(20_000);
    const gaps = h.dialTimes.map((time, i) => time - (h.dialTimes[i - 1] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(750);
      expect(gap).toBeLessThanOrEqual(1250);
    }
    h.stop();
  });

  it('merges the reply: never self nor present, empty slot first, then in place of the sent entries', () => {
    const { h, d, self, cy } = setup();
    const old = [2, 3, 4, 5, 6].map((n) => makeNode(n));
    fill(d, [aged(old[0] as NodeInfo, 9), ...entriesOf(...old.slice(1))]);
    h.reachable = [old[0] as NodeInfo];
    h.start([]);
    h.run(1250);
    const target = old[0] as NodeInfo;
    const sent = (h.sentOf(target, 'shuffle')[0]?.entries.slice(1) ?? []).map((e) => e.node as NodeInfo);
    const kept = old.slice(1).filter((info) => !sent.some((s) => s.id === info.id));
    const fresh = [20, 21, 22, 23].map((n) => makeNode(n));
    const entries = [aged(self, 0), aged(kept[0] as NodeInfo, 0), ...fresh.map((n, i) => aged(n, 10 + i))];
    d.message(target.id, msg('shuffleReply', { entries }));

    // 4 entries left after the oldest went: 1 empty slot + 2 sent = room for 3 of the 4 new.
    expect(viewIds(cy)).toEqual(ids([...kept, ...fresh.slice(0, 3)]));
    expect(
      h
        .downs()
        .map((down) => down.id)
        .sort(),
    ).toEqual(ids([target, ...sent]));
    expect(cy.stats()).toMatchObject({ shuffleRepliesReceived: 1, shuffleTimeouts: 0 });
    expect(cy.dataPeers()).toContain(fresh[0]?.id);
    // Received ages are kept: the next round picks the oldest received entry.
    h.reachable = [];
    h.run(1250);
    expect(h.dials.at(-1)).toEqual(addressOfNode(fresh[2] as NodeInfo));
    h.stop();
  });

  it('an unanswered shuffle leaves the target out: dial failure, no reply in time, link closed', () => {
    const { h, d, cy } = setup();
    const [a, b, c] = [makeNode(2), makeNode(3), makeNode(4)];
    fill(d, [aged(a, 9), aged(b, 5), aged(c, 0)]);
    h.start([]);
    h.run(1250);
    expect(viewIds(cy)).toEqual(ids([b, c]));
    expect(cy.stats().shuffleTimeouts).toBe(1);

    h.reachable = [b];
    h.until(() => h.sentOf(b, 'shuffle').length === 1);
    expect(h.kinds(b)).toEqual(['shuffle']);
    // shortLivedIdleMs after the Shuffle, well before the next round (at least 750 ms away).
    h.run(499);
    expect(cy.stats().shuffleTimeouts).toBe(1);
    h.run(1);
    expect(cy.stats().shuffleTimeouts).toBe(2);
    d.message(b.id, msg('shuffleReply', { entries: entriesOf(makeNode(20)) }));
    expect(h.dropCount('shuffleReply-unsolicited')).toBe(1);
    expect(viewIds(cy)).toEqual([c.id]);

    // The link closes before the reply: no need to wait for the timeout.
    h.reachable = [c];
    h.until(() => h.sentOf(c, 'shuffle').length === 1);
    d.linkDown(c.id, 'closed');
    expect(cy.stats().shuffleTimeouts).toBe(3);
    expect(cy.views().active).toEqual([]);
    h.stop();
  });

  it('a shuffle target already linked gets the Shuffle on its link, without a dial', () => {
    const { h, d, cy } = setup();
    const [a, b] = [makeNode(2), makeNode(3)];
    fill(d, [aged(a, 9), aged(b, 0)]);
    d.linkUp(a);
    h.start([]);
    h.run(1250);
    expect(h.dials).toEqual([]);
    expect(h.kinds(a)).toEqual(['shuffle']);
    expect(cy.stats().shuffles).toBe(1);
    h.stop();
  });
});

describe('the shuffle (the target)', () => {
  it('answers on the same link without dialling, and merges in place of what it answered', () => {
    const { h, d, cy } = setup();
    const old = [2, 3, 4, 5, 6].map((n) => makeNode(n));
    fill(d, entriesOf(...old));
    const from = makeNode(9);
    d.linkUp(from);
    const moved = { ...makeNode(9), host: '10.9.9.9' };
    const fresh = [makeNode(20), makeNode(21)];
    d.message(
      from.id,
      msg('shuffle', { origin: moved, entries: [aged(moved, 0), ...entriesOf(...fresh)], ttl: 0 }),
    );

    expect(h.dials).toEqual([]);
    expect(d.outputs.filter((o) => o.type === 'dial')).toEqual([]);
    const replied = (h.sentOf(from, 'shuffleReply')[0]?.entries ?? []).map((e) => e.node as NodeInfo);
    expect(replied).toHaveLength(3);
    const kept = old.filter((info) => !replied.some((r) => r.id === info.id));
    expect(viewIds(cy)).toEqual(ids([...kept, from, ...fresh]));
    // The sender's own entry is the NodeInfo it authenticated with, not the one it sent.
    expect(cy.views().active.find((info) => info.id === from.id)?.host).toBe('127.0.0.1');
    // fill() was the first Shuffle received; its answer was empty.
    expect(cy.stats()).toMatchObject({ shufflesReceived: 2, shuffleReplies: 2 });
  });

  // An invalid entry (a forged id, no NodeInfo) is removed and counted as entry-invalid where the
  // message enters the node (membership-rules.test.ts): it never reaches the merge.
  it('refuses port-0, self and duplicate entries, and never more than the view holds', () => {
    const { h, d, self, cy } = setup();
    const good = [makeNode(20), makeNode(21)];
    const entries = entriesOf(
      makeNode(23, 0),
      self,
      good[0] as NodeInfo,
      good[0] as NodeInfo,
      good[1] as NodeInfo,
    );
    fill(d, entries);
    expect(viewIds(cy)).toEqual(ids(good));
    expect(h.dropCount('entry-unreachable')).toBe(1);
    fill(d, entriesOf(...[30, 31, 32, 33, 34, 35].map((n) => makeNode(n))));
    expect(cy.views().active).toHaveLength(5);
  });

  // More than maxEntriesPerMessage entries closes the link with LIMIT where the message enters the
  // node, before Cyclon sees it (membership-rules.test.ts; on a node, hardening-protocol.test.ts).

  it('ignores the active-view messages of HyParView, counted by kind', () => {
    const { h, d, cy } = setup();
    const peer = makeNode(2);
    d.linkUp(peer);
    d.message(peer.id, msg('neighbor', { highPriority: true }));
    d.message(peer.id, msg('disconnect', { alive: true }));
    expect(h.dropCount('cyclon-ignored-neighbor')).toBe(1);
    expect(h.dropCount('cyclon-ignored-disconnect')).toBe(1);
    expect(d.sends(peer.id)).toEqual([]);
    expect(cy.views().active).toEqual([]);
  });
});

describe('links and the data plane', () => {
  it('a closed link never removes an entry; a Leave does', () => {
    const { h, d, cy } = setup();
    fill(d, entriesOf(makeNode(2), makeNode(3)));
    d.linkUp(makeNode(2));
    d.linkDown(makeNode(2).id, 'error');
    expect(viewIds(cy)).toEqual(ids([makeNode(2), makeNode(3)]));
    expect(h.downs()).toEqual([]);

    const leaving = makeNode(3);
    d.linkUp(leaving);
    d.message(leaving.id, msg('leave', {}));
    expect(viewIds(cy)).toEqual([makeNode(2).id]);
    expect(h.downs()).toEqual([{ id: leaving.id, reason: 'leave' }]);
    expect(h.disconnects()).toEqual([{ id: leaving.id, code: undefined }]);
  });

  it('every open link is a data link while running (views are not symmetric)', () => {
    const { d, cy } = setup();
    const stranger = makeNode(9);
    d.linkUp(stranger);
    expect(cy.isDataPeer(stranger.id)).toBe(true);
    // Closed, whether or not the node has reported it yet.
    d.linked.delete(stranger.id);
    expect(cy.isDataPeer(stranger.id)).toBe(false);
    d.linkUp(stranger);
    d.linkDown(stranger.id);
    expect(cy.isDataPeer(stranger.id)).toBe(false);
  });

  it('sends on demand: dials once, queues in order, then uses the link; the queue is bounded', () => {
    const { h, d, cy } = setup();
    const peer = makeNode(2);
    fill(d, entriesOf(peer));
    h.reachable = [peer];
    h.isHolding = true;
    const pings = [1, 2, 3].map(ping);
    expect(h.sendData(peer, pings[0] as Envelope)).toBe(true);
    expect(h.sendData(peer, pings[1] as Envelope)).toBe(true);
    expect(d.sends(peer.id)).toEqual([]);
    h.release();
    expect(h.sendData(peer, pings[2] as Envelope)).toBe(true);
    expect(h.dials).toHaveLength(1);
    expect(d.sends(peer.id)).toEqual(pings);
    expect(cy.stats()).toMatchObject({ onDemandDials: 1, onDemandDialFailures: 0, queuedDrops: 0 });

    // A peer that cannot be reached: 64 wait, the rest are dropped, then all are, the entry stays.
    const far = makeNode(3);
    fill(d, entriesOf(far));
    const results = Array.from({ length: 70 }, (_, nonce) => h.sendData(far, ping(nonce)));
    expect(results.filter(Boolean)).toHaveLength(64);
    expect(cy.snapshot().queueLengths).toEqual([64]);
    h.release();
    expect(cy.stats()).toMatchObject({ onDemandDials: 2, onDemandDialFailures: 1, queuedDrops: 70 });
    expect(h.dropCount('on-demand-queue-full')).toBe(6);
    expect(h.dropCount('on-demand-undelivered')).toBe(64);
    expect(cy.snapshot().queueLengths).toEqual([]);
    expect(viewIds(cy)).toContain(far.id);
  });

  it('what was queued for an entry that leaves the view meanwhile still goes out', () => {
    const { h, d, cy } = setup();
    const old = [2, 3, 4, 5, 6].map((n) => makeNode(n));
    const peer = old[0] as NodeInfo;
    fill(d, [aged(peer, 9), ...entriesOf(...old.slice(1))]);
    h.reachable = [peer];
    h.isHolding = true;
    expect(h.sendData(peer, ping(1))).toBe(true);
    // A joiner takes the place of the oldest entry, whose dial is still in flight.
    d.linkUp(makeNode(7));
    d.message(makeNode(7).id, msg('join', {}));
    expect(viewIds(cy)).not.toContain(peer.id);
    expect(h.sendData(peer, ping(2))).toBe(false);
    h.release();
    expect(d.sends(peer.id)).toEqual([ping(1)]);
  });

  it('a Leave from a peer with a queue: the queue went out on its link, later sends fail', () => {
    const { h, d } = setup();
    const peer = makeNode(2);
    fill(d, entriesOf(peer));
    h.reachable = [peer];
    h.isHolding = true;
    expect(h.sendData(peer, ping(1))).toBe(true);
    // The peer's own link comes up before our dial settles: the queue is flushed on it.
    d.linkUp(peer);
    expect(d.sends(peer.id)).toEqual([ping(1)]);
    d.message(peer.id, msg('leave', {}));
    expect(h.sendData(peer, ping(2))).toBe(false);
    h.release();
    expect(d.sends(peer.id)).toEqual([ping(1)]);
  });

  it('a dial that loses a simultaneous-dial contest uses the peer’s own link', () => {
    const { h, d, cy } = setup();
    const peer = makeNode(2);
    fill(d, entriesOf(peer));
    h.isHolding = true;
    expect(h.sendData(peer, ping(3))).toBe(true);
    // The peer dialled us meanwhile and its connection won: ours fails, its link carries the queue.
    d.linkUp(peer, 'listener');
    h.release();
    expect(d.sends(peer.id)).toEqual([ping(3)]);
    expect(cy.stats().onDemandDialFailures).toBe(0);
  });

  it('a node’s open link is used without dialling', () => {
    const { h, d } = setup();
    const peer = makeNode(2);
    fill(d, entriesOf(peer));
    d.linkUp(peer);
    h.sendData(peer, ping(7));
    expect(h.dials).toEqual([]);
    expect(d.sends(peer.id)).toEqual([ping(7)]);
  });

  it('sends only to view entries', () => {
    const { h, d, cy } = setup();
    const stranger = makeNode(9);
    d.linkUp(stranger);
    expect(h.sendData(stranger, ping(1))).toBe(false);
    expect(d.sends(stranger.id)).toEqual([]);
    expect(cy.dataPeers()).toEqual([]);
  });

  it('forged entries all naming one address: it is dialled at most once per round', () => {
    const { h, d, cy } = setup({ cyclonViewSize: 20 });
    const victim = Array.from({ length: 8 }, (_, i) => makeNode(100 + i, 4242));
    fill(d, entriesOf(...victim));
    fill(d, entriesOf(...victim.map((_, i) => makeNode(200 + i, 4242))));
    expect(cy.views().active).toHaveLength(16);
    h.start([]);
    for (let t = 0; t < 6000; t += 100) {
      for (const id of cy.dataPeers()) {
        const peer = cy.views().active.find((info) => info.id === id) as NodeInfo;
        h.sendData(peer, ping(t));
      }
      h.run(100);
    }
    const times = h.dialTimes.filter((_, i) => h.dials[i]?.port === 4242);
    expect(times.length).toBeGreaterThan(1);
    times.slice(1).forEach((time, i) => expect(time - (times[i] as number)).toBeGreaterThanOrEqual(1000));
    expect(cy.stats().dialsLimited).toBeGreaterThan(10);
    h.stop();
  });

  it('closes its own idle links to peers outside the view, and the least used past the cap', () => {
    const { h, d, cy } = setup({ cyclonViewSize: 2 });
    const member = makeNode(2);
    fill(d, entriesOf(member));
    const ours = makeNode(3);
    const theirs = Array.from({ length: 6 }, (_, i) => makeNode(10 + i));
    d.linkUp(member, 'dialer');
    d.advance(1);
    d.linkUp(ours, 'dialer');
    d.advance(1);
    for (const peer of theirs) {
      d.linkUp(peer, 'listener');
      d.advance(1);
    }
    h.start([]);
    h.run(1250);
    const closed = new Set(h.disconnects().map((c) => c.id));
    expect(closed.has(member.id)).toBe(false);
    expect(closed.has(ours.id)).toBe(true);
    // At most 2 * cyclonViewSize = 4 links outside the view: the two used least long ago go.
    expect(theirs.map((peer) => closed.has(peer.id))).toEqual([true, true, false, false, false, false]);
    expect(cy.stats().linksClosed).toBe(3);
    h.stop();
  });

  it('a message in keeps a spare link from the sweep: the least recently used go first', () => {
    const { h, d, cy } = setup({ cyclonViewSize: 2 });
    const theirs = Array.from({ length: 6 }, (_, i) => makeNode(10 + i));
    for (const peer of theirs) {
      d.linkUp(peer, 'listener');
      d.advance(1);
    }
    // The two oldest links carried a message since: the next two are the least recently used.
    for (const peer of theirs.slice(0, 2)) d.message(peer.id, msg('neighbor', { highPriority: false }));
    h.start([]);
    h.run(1250);
    const closed = new Set(h.disconnects().map((c) => c.id));
    expect(theirs.map((peer) => closed.has(peer.id))).toEqual([false, false, true, true, false, false]);
    expect(cy.stats().linksClosed).toBe(2);
    h.stop();
  });
});

describe('stop', () => {
  it('sends Leave on every open link, cancels every timer, and later callbacks are no-ops', () => {
    const { h, d, cy } = setup();
    // The round's Shuffle goes to node 3, which has no link: the links carry nothing before the Leave.
    fill(d, [aged(makeNode(2), 0), aged(makeNode(3), 5)]);
    const links = [makeNode(2), makeNode(9)];
    links.forEach((peer) => d.linkUp(peer));
    h.start([addressOfNode(makeNode(5))]);
    h.run(1250);
    h.stop();
    h.stop();

    for (const peer of links) expect(h.kinds(peer)).toEqual(['leave']);
    expect(d.clock.pendingCount).toBe(0);
    expect(h.sendData(makeNode(2), ping(1))).toBe(false);
    expect(cy.dataPeers()).toEqual([]);
    const count = (type: Output['type']): number => d.outputs.filter((o) => o.type === type).length;
    const before = [count('up'), count('down'), count('dial')];
    const late = makeNode(6);
    d.linkUp(late);
    d.message(late.id, msg('join', {}));
    d.message(late.id, msg('shuffle', { origin: late, entries: entriesOf(makeNode(7)), ttl: 0 }));
    d.linkDown(makeNode(2).id, 'error');
    h.run(10_000);
    expect(d.sends(late.id)).toEqual([]);
    expect(cy.isDataPeer(late.id)).toBe(false);
    expect([count('up'), count('down'), count('dial')]).toEqual(before);
  });
});

describe('simulation over real nodes (memory transport, simulated clock)', () => {
  const CONFIG: Partial<NodeConfig> = {
    membership: 'cyclon',
    cyclonViewSize: 8,
    cyclonShuffleLength: 4,
    shuffleIntervalMs: 1000,
  };
  const ROUND_MS = 1000;

  async function formMesh(seed: number, count: number): Promise<SimNodes> {
    const sim = new SimNodes(seed);
    const contact = await sim.add('node-0', CONFIG);
    const seeds = [addressOf(contact.node)];
    for (let i = 1; i < count; i++) {
      await sim.add(`node-${i}`, { ...CONFIG, seeds });
      await sim.run(100);
    }
    await sim.run(20 * ROUND_MS);
    return sim;
  }

  const viewOf = (n: SimNode): string[] => n.node.peers().active.map((peer) => peer.id);
  const alive = (sim: SimNodes, dead: ReadonlySet<string>): SimNode[] =>
    sim.nodes.filter((n) => !dead.has(n.node.id));

  /** Every broken invariant of a live node's view: bounded, never self, no duplicates. */
  function problems(nodes: readonly SimNode[]): string[] {
    return nodes.flatMap((n) => {
      const view = viewOf(n);
      const found: string[] = [];
      if (view.length > 8) found.push(`${n.host}: view ${view.length}`);
      if (view.includes(n.node.id)) found.push(`${n.host}: self`);
      if (new Set(view).size !== view.length) found.push(`${n.host}: duplicate`);
      return found;
    });
  }

  /** Whether the views, as an undirected graph over the given nodes, connect them all. */
  function isConnected(nodes: readonly SimNode[]): boolean {
    const byId = new Map(nodes.map((n) => [n.node.id, n]));
    const edges = new Map<string, Set<string>>(nodes.map((n) => [n.node.id, new Set()]));
    for (const n of nodes) {
      for (const id of viewOf(n)) {
        if (!byId.has(id)) continue;
        edges.get(n.node.id)?.add(id);
        edges.get(id)?.add(n.node.id);
      }
    }
    const first = nodes[0];
    if (!first) return true;
    const seen = new Set([first.node.id]);
    const queue = [first.node.id];
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const next of edges.get(id) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return seen.size === nodes.length;
  }

  /** The fraction of view entries of live nodes that point at dead nodes. */
  function deadFraction(sim: SimNodes, dead: ReadonlySet<string>): number {
    const entries = alive(sim, dead).flatMap(viewOf);
    return entries.filter((id) => dead.has(id)).length / Math.max(1, entries.length);
  }

  const statSum = (nodes: readonly SimNode[], key: string): number =>
    nodes.reduce((sum, n) => sum + (n.node.stats()[key] ?? 0), 0);

  it('40 nodes joined through one seed: full, bounded views, one component', async () => {
    const sim = await formMesh(1, 40);
    expect(problems(sim.nodes)).toEqual([]);
    expect(isConnected(sim.nodes)).toBe(true);
    const sizes = sim.nodes.map((n) => viewOf(n).length);
    expect(sizes.filter((n) => n === 8).length).toBeGreaterThanOrEqual(36);
    // In-degrees even out: nobody is known by everyone, nobody by no one.
    const inDegree = new Map<string, number>();
    for (const id of sim.nodes.flatMap(viewOf)) inDegree.set(id, (inDegree.get(id) ?? 0) + 1);
    expect(inDegree.size).toBe(40);
    expect(Math.max(...inDegree.values())).toBeLessThan(20);
    expect(statSum(sim.nodes, 'membership.shuffles')).toBeGreaterThan(40 * 15);
    await sim.crashAll();
  });

  it('after half the nodes crash, dead entries linger, then are shuffled out round by round', async () => {
    const sim = await formMesh(2, 40);
    const victims = sim.nodes.filter((_, i) => i % 2 === 1);
    await Promise.all(victims.map((n) => n.node.crash()));
    const dead = new Set(victims.map((n) => n.node.id));
    await sim.run(10);
    // Closed connections remove nothing: about half of every view is now dead.
    const initial = deadFraction(sim, dead);
    expect(initial).toBeGreaterThan(0.35);

    const fractions = [initial];
    for (let round = 0; round < 4; round++) {
      await sim.run(5 * ROUND_MS);
      fractions.push(deadFraction(sim, dead));
    }
    // Round by round, never all at once: each round removes only the oldest entry.
    expect(fractions[1]).toBeGreaterThan(0.1);
    expect(fractions[1]).toBeLessThan(initial);
    expect(fractions[4]).toBeLessThan(initial / 4);
    expect(problems(alive(sim, dead))).toEqual([]);
    expect(statSum(alive(sim, dead), 'membership.shuffleTimeouts')).toBeGreaterThan(20);
    await sim.crashAll();
  });
});
