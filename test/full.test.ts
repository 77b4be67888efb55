/**
 * Tier 2 of the tests (one component's rules, no sockets): the naive `full` membership rule by rule,
 * driven as a state machine (test/helpers/strategy-driver.ts) under a SimClock and a seeded
 * Random, its invariants checked after every input and every timer; then 40 real nodes over the
 * memory transport under the simulated clock.
 *
 * Settings are small and pairwise distinct (degree 2, so 8 inbound; entry limit 4; 12 known;
 * idle 500; round 1000) so that a swapped setting fails a test. Tests that do not call start()
 * see each message rule alone: no gossip round, no repair loop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Address, NodeConfig } from '../config.js';
import { createFull } from '../membership/full.js';
import type { MembershipStrategy } from '../membership/strategy.js';
import {
  envelopeKind,
  type EnvelopeBodies,
  type EnvelopeKind,
  type NodeInfo,
  type PeerEntry,
} from '../proto/messages.js';
import { DriverNet } from './helpers/driver-net.js';
import { addressOfNode, makeNode, msg } from './helpers/membership-inputs.js';
import { SimNodes, type SimNode } from './helpers/sim-nodes.js';
import { StrategyDriver, type Output, expectBalancedPeerEvents } from './helpers/strategy-driver.js';

const SMALL: Partial<NodeConfig> = {
  fullDegree: 2,
  fullMaxKnown: 12,
  maxEntriesPerMessage: 4,
  // Only so that the config validates with a limit of 4 (HyParView's shuffle must fit in it).
  shuffleActive: 1,
  shufflePassive: 2,
  cyclonShuffleLength: 3,
  shuffleIntervalMs: 1000,
  shortLivedIdleMs: 500,
  retryBaseBackoffMs: 100,
  retryMaxBackoffMs: 1600,
};

const ids = (infos: readonly NodeInfo[]): string[] => infos.map((info) => info.id).sort();
const entriesOf = (...nodes: NodeInfo[]): PeerEntry[] => nodes.map((node) => ({ node, age: 0 }));
const range = (from: number, count: number, port?: number): NodeInfo[] =>
  Array.from({ length: count }, (_, i) => makeNode(from + i, port));
const knownIds = (fm: MembershipStrategy): string[] => {
  const { active, passive } = fm.views();
  return ids([...active, ...passive]);
};

/**
 * The invariants of `full`, after every step: bounded views and counts (outbound <= fullDegree,
 * inbound <= 4 * fullDegree, known <= fullMaxKnown, at most 100 listed), never the node itself,
 * never a duplicate, active and listed-known disjoint; the data peers are the active view, each
 * on an open link; and the peers reported up and not down since are exactly the data peers (until stop).
 */
function checkFull(driver: StrategyDriver, up: Set<string>, seen: WeakSet<Output>): void {
  const fm = driver.strategy;
  const { fullDegree, fullMaxKnown } = driver.context.config;
  expectBalancedPeerEvents(driver.outputs, up, seen);
  const { active, passive } = fm.views();
  const stats = fm.stats();
  expect(stats.outbound).toBeLessThanOrEqual(fullDegree);
  expect(stats.inbound).toBeLessThanOrEqual(4 * fullDegree);
  expect(stats.known).toBeLessThanOrEqual(fullMaxKnown);
  expect(passive.length).toBeLessThanOrEqual(100);
  const listed = [...active, ...passive].map((info) => info.id);
  expect(new Set(listed).size).toBe(listed.length);
  expect(listed).not.toContain(driver.context.self.id);
  const data = fm.dataPeers();
  expect([...data].sort()).toEqual(ids(active));
  expect([...up].sort()).toEqual([...data].sort());
  for (const id of data) {
    expect(fm.isDataPeer(id)).toBe(true);
    expect(driver.linked.has(id), `data peer ${id} without a link`).toBe(true);
  }
}

function setup(overrides: Partial<NodeConfig> = {}, seed = 7) {
  const self = makeNode(1);
  const up = new Set<string>();
  const seen = new WeakSet<Output>();
  const holder: { driver?: StrategyDriver } = {};
  const driver = new StrategyDriver(createFull, {
    self,
    config: { ...SMALL, ...overrides },
    seed,
    check: () => checkFull(holder.driver as StrategyDriver, up, seen),
  });
  holder.driver = driver;
  const net = new DriverNet(driver);
  // A stopped strategy has no data peers and reports none down: the node is going away.
  const stop = (): void => driver.step((s) => (s.stop(), up.clear()));
  return { self, driver, net, stop, fm: driver.strategy };
}

type Driver = StrategyDriver;

/** Node n opens a link and asks for (and gets) an inbound place; the outputs so far are cleared. */
function neighbour(driver: Driver, n: number): NodeInfo {
  const peer = makeNode(n);
  driver.linkUp(peer);
  driver.message(peer.id, msg('neighbor', { highPriority: false }));
  driver.take();
  return peer;
}

/** `from` gossips `nodes` in messages of at most 4 entries. */
function gossip(driver: Driver, from: NodeInfo, nodes: NodeInfo[]): void {
  for (let i = 0; i < nodes.length; i += 4) {
    driver.message(from.id, msg('shuffleReply', { entries: entriesOf(...nodes.slice(i, i + 4)) }));
  }
}

/** The envelopes of one kind sent to a peer since the last `take`, as their bodies. */
function sentOf<K extends EnvelopeKind>(driver: Driver, to: NodeInfo, kind: K): Array<EnvelopeBodies[K]> {
  return driver
    .sends(to.id)
    .filter((envelope) => envelopeKind(envelope) === kind)
    .map((envelope) => (envelope as Record<K, EnvelopeBodies[K]>)[kind]);
}

const kindsSent = (driver: Driver, to: NodeInfo): string[] => driver.sends(to.id).map(envelopeKind);

/** Every NodeInfo gossiped to a peer since the last `take`, message by message. */
function gossiped(driver: Driver, to: NodeInfo): NodeInfo[][] {
  return sentOf(driver, to, 'shuffleReply').map((reply) =>
    reply.entries.map((entry) => entry.node as NodeInfo),
  );
}

const outputsOf = <T extends Output['type']>(driver: Driver, type: T): Array<Extract<Output, { type: T }>> =>
  driver.outputs.filter((o): o is Extract<Output, { type: T }> => o.type === type);
const dropCount = (driver: Driver, reason: string): number =>
  outputsOf(driver, 'drop').filter((o) => o.reason === reason).length;
const downs = (driver: Driver): Array<{ id: string; reason: string }> =>
  outputsOf(driver, 'down').map((o) => ({ id: o.peerId, reason: o.reason }));
const disconnectOf = (driver: Driver, peer: NodeInfo) =>
  outputsOf(driver, 'disconnect').find((o) => o.peerId === peer.id);
const nodeAt = (nodes: readonly NodeInfo[], address: Address | undefined): NodeInfo | undefined =>
  nodes.find((n) => n.host === address?.host && n.port === address.port);

describe('joining', () => {
  it('the seed keeps the joiner and gossips itself and all it knows at once, in chunks', () => {
    const { driver, self, fm } = setup();
    const a = neighbour(driver, 2);
    gossip(driver, a, range(10, 5));
    const joiner = makeNode(3);
    driver.linkUp(joiner);
    driver.message(joiner.id, msg('join', {}));

    expect(fm.isDataPeer(joiner.id)).toBe(true);
    expect(outputsOf(driver, 'up').at(-1)?.peer).toEqual(joiner);
    const messages = gossiped(driver, joiner);
    expect(messages.map((m) => m.length)).toEqual([4, 3]);
    expect(ids(messages.flat())).toEqual(ids([self, makeNode(2), ...range(10, 5)]));
    expect(fm.stats()).toMatchObject({ joins: 1, inbound: 2, known: 7 });
  });

  it('a seed without inbound room still gossips, then closes the link', () => {
    const { driver, fm } = setup();
    for (let n = 2; n < 10; n++) neighbour(driver, n);
    const joiner = makeNode(20);
    driver.linkUp(joiner);
    driver.message(joiner.id, msg('join', {}));
    expect(fm.isDataPeer(joiner.id)).toBe(false);
    expect(gossiped(driver, joiner).flat().length).toBeGreaterThan(8);
    // The close comes after the gossip, so that the gossip is flushed first.
    const closeAt = driver.outputs.findIndex((o) => o.type === 'disconnect' && o.peerId === joiner.id);
    const lastGossipAt = driver.outputs.findLastIndex((o) => o.type === 'send' && o.to === joiner.id);
    expect(closeAt).toBeGreaterThan(lastGossipAt);
    expect(driver.linked.has(joiner.id)).toBe(false);
    expect(dropCount(driver, 'join-refused')).toBe(1);
  });

  it('a second Join on the same link is a duplicate; a Join on a link that replaced it is not', () => {
    const { driver, fm } = setup();
    const joiner = makeNode(3);
    driver.linkUp(joiner);
    driver.message(joiner.id, msg('join', {}));
    driver.message(joiner.id, msg('join', {}));
    expect(dropCount(driver, 'join-duplicate')).toBe(1);
    expect(fm.stats().joins).toBe(1);

    driver.linkUp(joiner, 'listener', true);
    driver.message(joiner.id, msg('join', {}));
    expect(dropCount(driver, 'join-duplicate')).toBe(1);
    expect(fm.stats().joins).toBe(2);
    // Still one neighbour, reported up once (the check counts peer-up events).
    expect(ids(fm.views().active)).toEqual([joiner.id]);
  });

  it('the joiner keeps its seed as an outbound neighbour, then dials known nodes up to fullDegree', () => {
    const { driver, net, fm, stop } = setup();
    const seed = makeNode(2);
    const others = range(10, 3);
    net.answerWith([seed, ...others]);
    driver.start([addressOfNode(seed)]);
    net.answerAll();
    expect(net.dialled()).toEqual([addressOfNode(seed)]);
    expect(kindsSent(driver, seed)).toEqual(['join']);
    expect(ids(fm.views().active)).toEqual([seed.id]);

    gossip(driver, seed, others);
    net.answerAll();
    const request = nodeAt(others, net.dialled()[1]) as NodeInfo;
    expect(request).toBeDefined();
    expect(sentOf(driver, request, 'neighbor')).toEqual([{ highPriority: false }]);
    expect(fm.isDataPeer(request.id)).toBe(false);
    driver.message(request.id, msg('neighborReply', { accepted: true }));
    expect(fm.isDataPeer(request.id)).toBe(true);
    expect(fm.stats()).toMatchObject({ outbound: 2, inbound: 0, neighborAcceptedByPeer: 1 });

    // Never more than fullDegree outbound: rounds go by without another request.
    net.run(5000);
    expect(net.dials).toHaveLength(2);
    stop();
  });

  it('a seed that fails is followed by the next one, in order', () => {
    const { driver, net, fm } = setup();
    const [dead, seed] = [makeNode(2), makeNode(3)];
    net.answerWith([seed]);
    driver.start([addressOfNode(dead), addressOfNode(seed)]);
    net.answerAll();
    expect(net.dialled()).toEqual([addressOfNode(dead), addressOfNode(seed)]);
    expect(kindsSent(driver, seed)).toEqual(['join']);
    expect(ids(fm.views().active)).toEqual([seed.id]);
    expect(fm.stats()).toMatchObject({ healingAttempts: 1, joinsSent: 1, healingBackoffMs: 0 });
  });
});

describe('neighbours', () => {
  it('accepts inbound Neighbor requests up to 4 * fullDegree, replying before peer-up', () => {
    const { driver, fm } = setup();
    const peers = range(2, 9);
    for (const peer of peers) {
      driver.linkUp(peer);
      driver.message(peer.id, msg('neighbor', { highPriority: true }));
    }
    // One entry per peer-up: whether that peer had its NeighborReply before it.
    const repliedAtUp = driver.outputs.flatMap((output, at) =>
      output.type === 'up'
        ? [
            driver.outputs
              .slice(0, at)
              .some(
                (o) =>
                  o.type === 'send' &&
                  o.to === output.peer.id &&
                  envelopeKind(o.envelope) === 'neighborReply',
              ),
          ]
        : [],
    );
    expect(repliedAtUp).toEqual(Array(8).fill(true));
    expect(peers.map((peer) => sentOf(driver, peer, 'neighborReply')[0]?.accepted)).toEqual([
      ...Array(8).fill(true),
      false,
    ]);
    const refused = peers[8] as NodeInfo;
    expect(fm.isDataPeer(refused.id)).toBe(false);
    expect(disconnectOf(driver, refused)).toBeUndefined();
    // Refused, yet remembered: the naive design keeps every address it hears of.
    expect(knownIds(fm)).toContain(refused.id);
    expect(fm.stats()).toMatchObject({ neighborAccepted: 8, neighborRefused: 1, inbound: 8 });
  });

  it('a NeighborReply nobody asked for is dropped', () => {
    const { driver, fm } = setup();
    const peer = makeNode(2);
    driver.linkUp(peer);
    driver.message(peer.id, msg('neighborReply', { accepted: true }));
    expect(fm.isDataPeer(peer.id)).toBe(false);
    expect(dropCount(driver, 'neighborReply-unsolicited')).toBe(1);
  });

  it('a failed link drops the neighbour, keeps its address, and another known node is dialled', () => {
    const { driver, net, fm, stop } = setup();
    const a = neighbour(driver, 2);
    const b = makeNode(10);
    gossip(driver, a, [b]);
    net.answerWith([b]);
    driver.start([]);
    net.answerAll();
    expect(net.dialled()).toEqual([addressOfNode(b)]);
    driver.message(b.id, msg('neighborReply', { accepted: true }));
    expect(fm.stats().outbound).toBe(1);

    driver.linkDown(b.id, 'timeout');
    expect(downs(driver)).toEqual([{ id: b.id, reason: 'timeout' }]);
    expect(knownIds(fm)).toContain(b.id);
    expect(fm.stats().failuresDetected).toBe(1);
    // The same address again, once the dial limit (one per address per round) allows it.
    net.run(2500);
    expect(net.dials.length).toBeGreaterThanOrEqual(2);
    stop();
  });

  it('a refused or unanswered Neighbor request closes its link, and the repair backs off', () => {
    const { driver, net, fm, stop } = setup();
    const a = neighbour(driver, 2);
    const [b, c] = [makeNode(10), makeNode(11)];
    gossip(driver, a, [b]);
    net.answerWith([b, c]);
    driver.start([]);
    net.answerAll();
    driver.message(b.id, msg('neighborReply', { accepted: false }));
    expect(disconnectOf(driver, b)).toBeDefined();
    expect(fm.stats()).toMatchObject({ neighborRefusedByPeer: 1, healingBackoffMs: 100 });

    driver.take();
    gossip(driver, a, [c]);
    // Within the round b was dialled in: b may not be dialled again, c is, once.
    net.run(900);
    expect(sentOf(driver, c, 'neighbor')).toHaveLength(1);
    // No answer within shortLivedIdleMs: the request failed, its link is closed.
    expect(disconnectOf(driver, c)).toBeDefined();
    expect(fm.isDataPeer(c.id)).toBe(false);
    expect(fm.stats().healingBackoffMs).toBeGreaterThanOrEqual(200);
    stop();
  });

  it('failed dials keep the address and back off, doubling up to the cap', () => {
    const { driver, net, fm, stop } = setup({ shuffleIntervalMs: 50 });
    gossip(driver, neighbour(driver, 2), range(10, 3));
    driver.start([]);
    net.run(20_000);
    expect(knownIds(fm)).toEqual(ids([makeNode(2), ...range(10, 3)]));
    const times = net.dials.map((dial) => dial.atMs);
    const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
    expect(net.dials.length).toBeGreaterThan(12);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1600);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(800);
    expect(fm.stats().healingBackoffMs).toBe(1600);
    stop();
  });

  it('Disconnect drops the neighbour and keeps the address; Leave forgets it', () => {
    const { driver, fm } = setup();
    const [a, b] = [neighbour(driver, 2), neighbour(driver, 3)];
    driver.message(a.id, msg('disconnect', { alive: false }));
    driver.message(b.id, msg('leave', {}));
    expect(fm.views().active).toEqual([]);
    expect(knownIds(fm)).toEqual([a.id]);
    expect(downs(driver)).toEqual([
      { id: a.id, reason: 'disconnect' },
      { id: b.id, reason: 'leave' },
    ]);
    expect([disconnectOf(driver, a), disconnectOf(driver, b)].every(Boolean)).toBe(true);
  });

  it('a link that replaces a neighbour’s takes its place without churn', () => {
    const { driver, fm } = setup();
    const previous = neighbour(driver, 2);
    driver.linkUp(previous, 'dialer', true);
    expect(fm.isDataPeer(previous.id)).toBe(true);
    expect(fm.dataPeers()).toEqual([previous.id]);
    expect(downs(driver)).toEqual([]);
    expect(outputsOf(driver, 'up')).toEqual([]);
  });

  it('a Neighbor request pending when its link is replaced is answered on the winner', () => {
    const { driver, net, fm, stop } = setup();
    const a = neighbour(driver, 2);
    const b = makeNode(10);
    gossip(driver, a, [b]);
    net.answerWith([b]);
    driver.start([]);
    net.answerAll();
    driver.linkUp(b, 'listener', true);
    driver.message(b.id, msg('neighborReply', { accepted: true }));
    expect(fm.isDataPeer(b.id)).toBe(true);
    expect(fm.stats()).toMatchObject({ outbound: 1, neighborAcceptedByPeer: 1 });
    expect(dropCount(driver, 'neighborReply-unsolicited')).toBe(0);
    stop();
  });
});

describe('gossip', () => {
  it('every round, every neighbour gets all that is known, at most 8 messages, the rest next round', () => {
    const { driver, net, self, stop } = setup({ fullMaxKnown: 100 });
    const a = neighbour(driver, 2);
    const known = range(10, 40);
    gossip(driver, a, known.slice(0, 24));
    gossip(driver, neighbour(driver, 3), known.slice(24));
    driver.take();
    driver.start([]);
    net.run(1250);
    const first = gossiped(driver, a);
    // 8 messages: ourselves and the first 31 known, minus a itself (a peer is never told of itself).
    expect(first.map((m) => m.length)).toEqual([4, 4, 4, 4, 4, 4, 4, 3]);
    expect(first[0]?.[0]).toEqual(self);
    driver.take();
    net.run(1000);
    const seen = new Set([...first, ...gossiped(driver, a)].flat().map((info) => info.id));
    expect(seen.size).toBe(42);
    expect(seen.has(a.id)).toBe(false);
    stop();
  });

  // Past maxEntriesPerMessage entries the link is closed with LIMIT where the message enters the
  // node, before the strategy sees it (membership-rules.test.ts; on a node, hardening-protocol.test.ts).
  it('learns from neighbours only; a bounded number per round', () => {
    const { driver, fm } = setup({ fullMaxKnown: 100 });
    const stranger = makeNode(3);
    driver.linkUp(stranger);
    driver.message(stranger.id, msg('shuffleReply', { entries: entriesOf(makeNode(10)) }));
    expect(dropCount(driver, 'gossip-not-neighbor')).toBe(1);

    const b = neighbour(driver, 4);
    gossip(driver, b, range(30, 26 * 4));
    expect(fm.stats().gossipReceived).toBe(24);
    expect(dropCount(driver, 'gossip-rate')).toBe(2);
    expect(knownIds(fm)).not.toContain(makeNode(10).id);
  });

  // An invalid entry is removed and counted as entry-invalid where the message enters the node
  // (membership-rules.test.ts): it never reaches the strategy, nor its entriesRefused.
  it('refuses self and port-0 entries; forgets the first learned past fullMaxKnown', () => {
    const { driver, self, fm } = setup();
    const a = neighbour(driver, 2);
    gossip(driver, a, [self, makeNode(22, 0), ...range(30, 13)]);
    // 12 known: node 2 (first learned) and node 30 were forgotten for 31..42.
    expect(ids(fm.views().passive)).toEqual(ids(range(31, 12)));
    // The port-0 node alone: ourselves is no refusal worth counting.
    expect(fm.stats()).toMatchObject({ known: 12, entriesForgotten: 2, entriesRefused: 1 });
    expect(dropCount(driver, 'entry-unreachable')).toBe(1);
    // Forgotten, but still a neighbour: the views list it, as active.
    expect(ids(fm.views().active)).toEqual([a.id]);
  });

  it('forged entries all naming one address: it is dialled at most once per round', () => {
    const { driver, net, fm, stop } = setup({ fullMaxKnown: 100 });
    gossip(driver, neighbour(driver, 2), range(100, 20, 4242));
    driver.start([]);
    net.run(6000);
    const times = net.dials.filter((dial) => dial.address.port === 4242).map((dial) => dial.atMs);
    expect(times.length).toBeGreaterThan(1);
    times.slice(1).forEach((time, i) => expect(time - (times[i] as number)).toBeGreaterThanOrEqual(1000));
    expect(fm.stats().dialsLimited).toBeGreaterThan(0);
    stop();
  });

  it('views(): active are neighbours, passive the other known addresses, at most 100', () => {
    const { driver, fm } = setup({ fullMaxKnown: 200, maxEntriesPerMessage: 32 });
    const a = neighbour(driver, 2);
    const known = range(10, 150);
    for (let i = 0; i < known.length; i += 32) {
      driver.message(a.id, msg('shuffleReply', { entries: entriesOf(...known.slice(i, i + 32)) }));
    }
    const { active, passive } = fm.views();
    expect(ids(active)).toEqual([a.id]);
    expect(passive).toHaveLength(100);
    expect(passive.some((info) => info.id === a.id)).toBe(false);
    expect(fm.stats().known).toBe(151);
  });
});

describe('stop', () => {
  it('sends Leave to every neighbour, cancels every timer, and later inputs are no-ops', () => {
    const { driver, net, fm, stop } = setup();
    const [a, b] = [neighbour(driver, 2), neighbour(driver, 3)];
    gossip(driver, a, range(10, 3));
    driver.start([addressOfNode(makeNode(9))]);
    net.run(1250);
    driver.take();
    stop();
    stop();

    expect(kindsSent(driver, a)).toEqual(['leave']);
    expect(kindsSent(driver, b)).toEqual(['leave']);
    expect(fm.dataPeers()).toEqual([]);
    expect(driver.clock.pendingCount).toBe(0);
    const count = (): number[] =>
      ['up', 'down', 'dial'].map((type) => driver.outputs.filter((o) => o.type === type).length);
    const before = count();
    const late = makeNode(6);
    driver.linkUp(late);
    driver.message(late.id, msg('join', {}));
    driver.message(late.id, msg('neighbor', { highPriority: true }));
    driver.linkDown(a.id, 'error');
    net.run(10_000);
    expect(driver.sends(late.id)).toEqual([]);
    expect(count()).toEqual(before);
  });
});

describe('simulation: 40 real nodes over the memory transport', () => {
  // A short backoff cap: with half the known addresses dead, the default 10 s cap makes healing
  // take minutes of virtual time.
  const CONFIG: Partial<NodeConfig> = {
    membership: 'full',
    fullDegree: 3,
    shuffleIntervalMs: 1000,
    retryMaxBackoffMs: 1000,
  };
  const ROUND_MS = 1000;
  const sims: SimNodes[] = [];
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.crashAll();
  });

  const activeIds = (n: SimNode): string[] => n.node.peers().active.map((p) => p.id);
  const stat = (n: SimNode, name: string): number => n.node.stats()[`membership.${name}`] ?? 0;

  /** Broken view bounds of live nodes: at most 5 * fullDegree active, 100 listed, no self, no duplicate. */
  function problems(nodes: readonly SimNode[]): string[] {
    return nodes.flatMap((n) => {
      const { active, passive } = n.node.peers();
      const listed = [...active, ...passive].map((p) => p.id);
      const out: string[] = [];
      if (active.length > 5 * 3) out.push(`${n.host}: active ${active.length}`);
      if (passive.length > 100) out.push(`${n.host}: passive ${passive.length}`);
      if (listed.includes(n.node.id)) out.push(`${n.host}: self listed`);
      if (new Set(listed).size !== listed.length) out.push(`${n.host}: duplicate or overlap`);
      return out;
    });
  }

  /** Active edges A->B among `nodes` whose reverse B->A is missing. */
  function asymmetricEdges(nodes: readonly SimNode[]): string[] {
    const byId = new Map(nodes.map((n) => [n.node.id, n]));
    return nodes.flatMap((n) =>
      activeIds(n)
        .filter((id) => !byId.get(id) || !activeIds(byId.get(id) as SimNode).includes(n.node.id))
        .map((id) => `${n.host} -> ${byId.get(id)?.host ?? id}`),
    );
  }

  /** Whether the active links among `nodes` connect them all. */
  function isConnected(nodes: readonly SimNode[]): boolean {
    const byId = new Map(nodes.map((n) => [n.node.id, n]));
    const first = nodes[0];
    if (!first) return true;
    const seen = new Set([first.node.id]);
    const queue = [first];
    for (let n = queue.shift(); n; n = queue.shift()) {
      const next = [
        ...activeIds(n),
        ...nodes.filter((o) => activeIds(o).includes(n.node.id)).map((o) => o.node.id),
      ];
      for (const id of next) {
        const other = byId.get(id);
        if (other && !seen.has(id)) {
          seen.add(id);
          queue.push(other);
        }
      }
    }
    return nodes.every((n) => seen.has(n.node.id));
  }

  async function formMesh(seed: number): Promise<SimNodes> {
    const sim = new SimNodes(seed);
    sims.push(sim);
    const contact = await sim.add('node-0', CONFIG);
    const address = { host: contact.host, port: contact.node.info.port };
    for (let i = 1; i < 40; i++) {
      await sim.add(`node-${i}`, { ...CONFIG, seeds: [address] });
      await sim.run(100);
    }
    await sim.run(8 * ROUND_MS);
    return sim;
  }

  it('joined through one seed: everyone known everywhere, bounded, symmetric, connected', async () => {
    const sim = await formMesh(1);
    const nodes = sim.nodes;
    expect(problems(nodes)).toEqual([]);
    await sim.until(() => asymmetricEdges(nodes).length === 0, 5000, 'symmetric views');
    expect(isConnected(nodes)).toBe(true);
    for (const n of nodes) {
      expect([stat(n, 'known'), stat(n, 'outbound')]).toEqual([39, 3]);
      expect(stat(n, 'inbound')).toBeLessThanOrEqual(12);
    }
  });

  it('after half the nodes crash it reconnects, yet every survivor still lists the dead', async () => {
    const sim = await formMesh(2);
    const crashed = sim.nodes.filter((_, i) => i % 2 === 1);
    await Promise.all(crashed.map((n) => n.node.crash()));
    const alive = sim.nodes.filter((_, i) => i % 2 === 0);
    await sim.run(12 * ROUND_MS);
    expect(problems(alive)).toEqual([]);
    await sim.until(() => asymmetricEdges(alive).length === 0, 5000, 'symmetric views');
    expect(isConnected(alive)).toBe(true);
    for (const n of alive) {
      expect(stat(n, 'known')).toBe(39);
      expect(stat(n, 'outbound')).toBe(3);
    }
  });
});
