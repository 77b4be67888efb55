/**
 * Tier 2 of the tests (one component's rules, no sockets): the `static` membership driven as a
 * state machine (test/helpers/strategy-driver.ts) under a SimClock and a seeded Random, its
 * invariants checked after every input and every timer. Nodes running it over real links are in
 * node.test.ts, duplicate-connection.test.ts and the hardening tests.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { createStatic } from '../membership/static.js';
import { envelopeKind, type NodeInfo } from '../proto/messages.js';
import { DriverNet } from './helpers/driver-net.js';
import { addressOfNode, makeNode, msg } from './helpers/membership-inputs.js';
import { StrategyDriver, type Output, expectBalancedPeerEvents } from './helpers/strategy-driver.js';

const CONFIG: Partial<NodeConfig> = { retryBaseBackoffMs: 100, retryMaxBackoffMs: 800 };

/**
 * After every step: the data peers are the active view, each on an open link; the peers reported
 * up and not down since are exactly the data peers; nothing is ever passive; and a sweep dials
 * one contact at a time.
 */
function checkStatic(driver: StrategyDriver, net: DriverNet, up: Set<string>, seen: WeakSet<Output>): void {
  const s = driver.strategy;
  expectBalancedPeerEvents(driver.outputs, up, seen);
  const { active, passive } = s.views();
  const data = [...s.dataPeers()].sort();
  expect(passive).toEqual([]);
  expect(active.map((info) => info.id).sort()).toEqual(data);
  expect([...up].sort()).toEqual(data);
  expect(s.stats().active).toBe(data.length);
  for (const id of data) expect(driver.linked.has(id), `data peer ${id} without a link`).toBe(true);
  expect(net.inFlight).toBeLessThanOrEqual(1);
}

function setup(seed = 3) {
  const up = new Set<string>();
  const seen = new WeakSet<Output>();
  const holder: { driver?: StrategyDriver; net?: DriverNet } = {};
  const driver = new StrategyDriver(createStatic, {
    self: makeNode(1),
    config: CONFIG,
    seed,
    check: () => checkStatic(holder.driver as StrategyDriver, holder.net as DriverNet, up, seen),
  });
  const net = new DriverNet(driver);
  Object.assign(holder, { driver, net });
  return { driver, net, s: driver.strategy };
}

const kindsSent = (driver: StrategyDriver, to: NodeInfo): string[] => driver.sends(to.id).map(envelopeKind);
const ofType = <T extends Output['type']>(
  driver: StrategyDriver,
  type: T,
): Array<Extract<Output, { type: T }>> =>
  driver.outputs.filter((o): o is Extract<Output, { type: T }> => o.type === type);
const upIds = (driver: StrategyDriver): string[] => ofType(driver, 'up').map((o) => o.peer.id);
const downs = (driver: StrategyDriver): Array<{ id: string; reason: string }> =>
  ofType(driver, 'down').map((o) => ({ id: o.peerId, reason: o.reason }));
const isClosed = (driver: StrategyDriver, peer: NodeInfo): boolean =>
  ofType(driver, 'disconnect').some((o) => o.peerId === peer.id);

describe('contacts', () => {
  it('dials every seed in turn, sends each Join, and keeps each as a neighbour', () => {
    const { driver, net, s } = setup();
    const seeds = [makeNode(2), makeNode(3), makeNode(4)];
    net.answerWith(seeds);
    driver.start(seeds.map(addressOfNode));
    // One dial at a time (the check): the second only once the first answered.
    expect(net.dialled()).toEqual([addressOfNode(seeds[0] as NodeInfo)]);
    net.answerAll();
    expect(net.dialled()).toEqual(seeds.map(addressOfNode));
    for (const seed of seeds) expect(kindsSent(driver, seed)).toEqual(['join']);
    expect(upIds(driver)).toEqual(seeds.map((seed) => seed.id));
    expect(s.stats()).toMatchObject({ joinsSent: 3, healingAttempts: 3, active: 3 });
    // Nothing is missing: no more dials, whatever time passes.
    net.run(10_000);
    expect(net.dials).toHaveLength(3);
  });

  it('a contact that does not answer is retried with a jittered backoff, doubling up to the cap', () => {
    const { driver, net, s } = setup();
    const contact = makeNode(2);
    driver.start([addressOfNode(contact)]);
    net.run(6000);
    const times = net.dials.map((dial) => dial.atMs);
    const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
    // Backoffs 100, 200, 400, 800, 800...: each drawn within [half, all] of its step.
    expect(gaps.slice(0, 4).map((gap, i) => gap >= 50 * 2 ** i && gap <= 100 * 2 ** i)).toEqual(
      Array(4).fill(true),
    );
    expect(Math.max(...gaps)).toBeLessThanOrEqual(800);
    expect(gaps.slice(4).every((gap) => gap >= 400)).toBe(true);

    net.answerWith([contact]);
    net.run(1000);
    expect(s.dataPeers()).toEqual([contact.id]);
    const dials = net.dials.length;
    net.run(10_000);
    expect(net.dials).toHaveLength(dials);
  });

  it('/connect adds a contact, dialled and joined at once', () => {
    const { driver, net, s } = setup();
    const [seed, other] = [makeNode(2), makeNode(3)];
    net.answerWith([seed, other]);
    driver.start([addressOfNode(seed)]);
    net.answerAll();
    driver.step((st) => st.join(addressOfNode(other)));
    net.answerAll();
    expect(kindsSent(driver, other)).toEqual(['join']);
    expect([...s.dataPeers()].sort()).toEqual([seed.id, other.id].sort());
  });

  it('a lost link to a contact is redialled; a lost peer that is no contact is not', () => {
    const { driver, net, s } = setup();
    const [seed, stranger] = [makeNode(2), makeNode(3)];
    net.answerWith([seed]);
    driver.start([addressOfNode(seed)]);
    net.answerAll();
    driver.linkUp(stranger);
    driver.message(stranger.id, msg('join', {}));
    expect(s.stats().joins).toBe(1);

    driver.linkDown(seed.id, 'timeout');
    driver.linkDown(stranger.id, 'error');
    expect(downs(driver)).toEqual([
      { id: seed.id, reason: 'timeout' },
      { id: stranger.id, reason: 'error' },
    ]);
    expect(s.stats().failuresDetected).toBe(2);
    net.run(5000);
    expect(net.dialled()).toEqual([addressOfNode(seed), addressOfNode(seed)]);
    expect(s.dataPeers()).toEqual([seed.id]);
  });
});

describe('messages', () => {
  it('accepts every Join and Neighbor, replying to a Neighbor before peer-up', () => {
    const { driver, s } = setup();
    const [a, b] = [makeNode(2), makeNode(3)];
    for (const peer of [a, b]) driver.linkUp(peer);
    driver.message(a.id, msg('join', {}));
    driver.message(a.id, msg('join', {}));
    driver.message(b.id, msg('neighbor', { highPriority: false }));
    driver.message(b.id, msg('neighbor', { highPriority: true }));
    expect(upIds(driver)).toEqual([a.id, b.id]);
    const replyAt = driver.outputs.findIndex((o) => o.type === 'send' && o.to === b.id);
    const upAt = driver.outputs.findIndex((o) => o.type === 'up' && o.peer.id === b.id);
    expect(replyAt).toBeLessThan(upAt);
    expect(driver.sends(b.id)).toEqual([
      { neighborReply: { accepted: true } },
      { neighborReply: { accepted: true } },
    ]);
    expect(s.stats()).toMatchObject({ joins: 2, active: 2 });
  });

  it('Leave and Disconnect drop the neighbour and close the link; a contact that left is redialled', () => {
    const { driver, net, s } = setup();
    const [seed, other] = [makeNode(2), makeNode(3)];
    net.answerWith([seed]);
    driver.start([addressOfNode(seed)]);
    net.answerAll();
    driver.linkUp(other);
    driver.message(other.id, msg('join', {}));

    driver.message(seed.id, msg('leave', {}));
    driver.message(other.id, msg('disconnect', { alive: true }));
    expect(downs(driver)).toEqual([
      { id: seed.id, reason: 'leave' },
      { id: other.id, reason: 'disconnect' },
    ]);
    expect([isClosed(driver, seed), isClosed(driver, other)]).toEqual([true, true]);
    expect(s.stats()).toMatchObject({ leavesReceived: 1, active: 0 });
    net.answerAll();
    expect(net.dialled()).toEqual([addressOfNode(seed), addressOfNode(seed)]);
    expect(s.dataPeers()).toEqual([seed.id]);
  });

  it('Leave from a peer that is no neighbour changes nothing', () => {
    const { driver } = setup();
    const peer = makeNode(2);
    driver.linkUp(peer);
    driver.message(peer.id, msg('leave', {}));
    expect(downs(driver)).toEqual([]);
    expect(isClosed(driver, peer)).toBe(false);
  });

  it('ignores and counts what it does not use: Shuffle, ShuffleReply, ForwardJoin, NeighborReply', () => {
    const { driver, s } = setup();
    const peer = makeNode(2);
    driver.linkUp(peer);
    driver.message(peer.id, msg('shuffleReply', { entries: [] }));
    driver.message(peer.id, msg('forwardJoin', { node: makeNode(3), ttl: 3 }));
    driver.message(peer.id, msg('neighborReply', { accepted: true }));
    driver.message(peer.id, msg('shuffle', { origin: makeNode(3), entries: [], ttl: 1 }));
    expect(ofType(driver, 'drop').map((o) => o.reason)).toEqual([
      'static-ignored-shuffleReply',
      'static-ignored-forwardJoin',
      'static-ignored-neighborReply',
      'static-ignored-shuffle',
    ]);
    expect(s.dataPeers()).toEqual([]);
    expect(driver.sends()).toEqual([]);
  });

  it('a link that replaces a neighbour’s takes its place without churn', () => {
    const { driver, s } = setup();
    const peer = makeNode(2);
    driver.linkUp(peer);
    driver.message(peer.id, msg('join', {}));
    driver.take();
    driver.linkUp(peer, 'dialer', true);
    expect(s.dataPeers()).toEqual([peer.id]);
    expect(driver.take()).toEqual([]);
  });
});

describe('stop', () => {
  it('sends Leave to every neighbour, cancels every timer, and later inputs are no-ops', () => {
    const { driver, net, s } = setup();
    const [seed, dead, other] = [makeNode(2), makeNode(3), makeNode(4)];
    net.answerWith([seed]);
    driver.start([addressOfNode(seed), addressOfNode(dead)]);
    net.answerAll();
    driver.linkUp(other);
    driver.message(other.id, msg('neighbor', { highPriority: false }));
    driver.take();
    driver.step((st) => st.stop());

    expect(kindsSent(driver, seed)).toEqual(['leave']);
    expect(kindsSent(driver, other)).toEqual(['leave']);
    expect(driver.clock.pendingCount).toBe(0);
    driver.take();
    const late = makeNode(5);
    driver.linkUp(late);
    driver.message(late.id, msg('join', {}));
    driver.message(late.id, msg('neighbor', { highPriority: true }));
    driver.step((st) => st.join(addressOfNode(late)));
    net.run(10_000);
    expect(driver.take()).toEqual([]);
    expect(net.dials).toHaveLength(2);
    expect(s.dataPeers()).not.toContain(late.id);
  });
});
