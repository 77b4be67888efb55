/**
 * Tier 2 of the tests (one component's rules, no sockets): the naive `full` membership rule by rule
 * with fake links, a fake context, a SimClock and a seeded Random, then a 40-node simulation over
 * the fake mesh.
 *
 * Settings are small and pairwise distinct (degree 2, so 8 inbound; entry limit 4; 12 known;
 * idle 500; round 1000) so that a swapped setting fails a test. Tests that do not call start()
 * see each message rule alone: no gossip round, no repair loop.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { createFull, FullMembership } from '../membership/full.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import { FakeMesh, type MeshNode } from './helpers/fake-mesh.js';
import { addressOfNode, FakeContext, FakeLink, makeNode, msg, runFor, settle } from './helpers/fakes.js';

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

function setup(overrides: Partial<NodeConfig> = {}, seed = 7) {
  const self = makeNode(1);
  const ctx = new FakeContext(self, { ...SMALL, ...overrides }, seed);
  return { self, ctx, fm: new FullMembership(ctx) };
}

const ids = (infos: readonly NodeInfo[]): string[] => infos.map((info) => info.id).sort();
const entriesOf = (...nodes: NodeInfo[]): PeerEntry[] => nodes.map((node) => ({ node, age: 0 }));
const range = (from: number, count: number, port?: number): NodeInfo[] =>
  Array.from({ length: count }, (_, i) => makeNode(from + i, port));
const knownIds = (fm: FullMembership): string[] => {
  const { active, passive } = fm.views();
  return ids([...active, ...passive]);
};

/** Node n asks for (and gets) an inbound place; what it was sent is cleared. */
function neighbour(fm: FullMembership, n: number): FakeLink {
  const link = new FakeLink(makeNode(n));
  fm.onMessage(link, msg('neighbor', { highPriority: false }));
  link.clearSent();
  return link;
}

/** `link` gossips `nodes` in messages of at most 4 entries. */
function gossip(fm: FullMembership, link: FakeLink, nodes: NodeInfo[]): void {
  for (let i = 0; i < nodes.length; i += 4) {
    fm.onMessage(link, msg('shuffleReply', { entries: entriesOf(...nodes.slice(i, i + 4)) }));
  }
}

/** Every NodeInfo gossiped on a link, message by message. */
function gossiped(link: FakeLink): NodeInfo[][] {
  return link.sentOf('shuffleReply').map((reply) => reply.entries.map((entry) => entry.node as NodeInfo));
}

describe('joining', () => {
  it('the seed keeps the joiner and gossips itself and all it knows at once, in chunks', () => {
    const { ctx, self, fm } = setup();
    const a = neighbour(fm, 2);
    gossip(fm, a, range(10, 5));
    const joiner = new FakeLink(makeNode(3));
    fm.onMessage(joiner, msg('join', {}));

    expect(fm.isDataLink(joiner)).toBe(true);
    expect(ctx.ups.at(-1)).toBe(joiner);
    const messages = gossiped(joiner);
    expect(messages.map((m) => m.length)).toEqual([4, 3]);
    expect(ids(messages.flat())).toEqual(ids([self, makeNode(2), ...range(10, 5)]));
    expect(fm.stats()).toMatchObject({ joins: 1, inbound: 2, known: 7 });
  });

  it('a seed without inbound room still gossips, then closes the link', () => {
    const { ctx, fm } = setup();
    for (let n = 2; n < 10; n++) neighbour(fm, n);
    const joiner = new FakeLink(makeNode(20));
    fm.onMessage(joiner, msg('join', {}));
    expect(fm.isDataLink(joiner)).toBe(false);
    expect(gossiped(joiner).flat().length).toBeGreaterThan(8);
    expect(joiner.closed).toBe(true);
    expect(ctx.dropCount('join-refused')).toBe(1);
  });

  it('the joiner keeps its seed as an outbound neighbour, then dials known nodes up to fullDegree', async () => {
    const { ctx, fm } = setup();
    const seed = makeNode(2);
    const others = range(10, 3);
    const made = ctx.answerWith([seed, ...others]);
    fm.start([addressOfNode(seed)]);
    await settle();
    const seedLink = made[0] as FakeLink;
    expect(seedLink.kinds()).toEqual(['join']);
    expect(ids(fm.views().active)).toEqual([seed.id]);

    gossip(fm, seedLink, others);
    await settle();
    const request = made[1] as FakeLink;
    expect(request.sentOf('neighbor')).toEqual([{ highPriority: false }]);
    expect(fm.isDataLink(request)).toBe(false);
    fm.onMessage(request, msg('neighborReply', { accepted: true }));
    expect(fm.isDataLink(request)).toBe(true);
    expect(fm.stats()).toMatchObject({ outbound: 2, inbound: 0, neighborAcceptedByPeer: 1 });

    // Never more than fullDegree outbound: rounds go by without another request.
    await runFor(ctx.clock, 5000);
    expect(made).toHaveLength(2);
    fm.stop();
  });
});

describe('neighbours', () => {
  it('accepts inbound Neighbor requests up to 4 * fullDegree, replying before peer-up', () => {
    const { ctx, fm } = setup();
    // One entry per peer-up: whether that link had its NeighborReply before it.
    const repliedAtUp: boolean[] = [];
    const peerUp = ctx.peerUp.bind(ctx);
    ctx.peerUp = (link) => {
      repliedAtUp.push((link as FakeLink).sentOf('neighborReply').length === 1);
      peerUp(link);
    };
    const links = range(2, 9).map((info) => new FakeLink(info));
    links.forEach((link) => fm.onMessage(link, msg('neighbor', { highPriority: true })));
    expect(repliedAtUp).toEqual(Array(8).fill(true));
    expect(links.map((link) => link.sentOf('neighborReply')[0]?.accepted)).toEqual([
      ...Array(8).fill(true),
      false,
    ]);
    const refused = links[8] as FakeLink;
    expect(fm.isDataLink(refused)).toBe(false);
    expect(refused.closed).toBe(false);
    // Refused, yet remembered: the naive design keeps every address it hears of.
    expect(knownIds(fm)).toContain(refused.id);
    expect(fm.stats()).toMatchObject({ neighborAccepted: 8, neighborRefused: 1, inbound: 8 });
  });

  it('a NeighborReply nobody asked for is dropped', () => {
    const { ctx, fm } = setup();
    const link = new FakeLink(makeNode(2));
    fm.onMessage(link, msg('neighborReply', { accepted: true }));
    expect(fm.isDataLink(link)).toBe(false);
    expect(ctx.dropCount('neighborReply-unsolicited')).toBe(1);
  });

  it('a failed link drops the neighbour, keeps its address, and another known node is dialled', async () => {
    const { ctx, fm } = setup();
    const a = neighbour(fm, 2);
    gossip(fm, a, [makeNode(10)]);
    const made = ctx.answerWith([makeNode(10)]);
    fm.start([]);
    await settle();
    const request = made[0] as FakeLink;
    fm.onMessage(request, msg('neighborReply', { accepted: true }));
    expect(fm.stats().outbound).toBe(1);

    request.close();
    fm.onLinkClosed(request, 'timeout');
    expect(ctx.downs).toEqual([{ id: makeNode(10).id, reason: 'timeout' }]);
    expect(knownIds(fm)).toContain(makeNode(10).id);
    expect(fm.stats().failuresDetected).toBe(1);
    // The same address again, once the dial limit (one per address per round) allows it.
    await runFor(ctx.clock, 2500);
    expect(made.length).toBeGreaterThanOrEqual(2);
    fm.stop();
  });

  it('failed dials keep the address and back off, doubling up to the cap', async () => {
    const { ctx, fm } = setup({ shuffleIntervalMs: 50 });
    gossip(fm, neighbour(fm, 2), range(10, 3));
    fm.start([]);
    await runFor(ctx.clock, 20_000);
    expect(knownIds(fm)).toEqual(ids([makeNode(2), ...range(10, 3)]));
    const gaps = ctx.dialTimes.slice(1).map((time, i) => time - (ctx.dialTimes[i] as number));
    expect(ctx.dials.length).toBeGreaterThan(12);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1600);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(800);
    expect(fm.stats().healingBackoffMs).toBe(1600);
    fm.stop();
  });

  it('Disconnect drops the neighbour and keeps the address; Leave forgets it', () => {
    const { ctx, fm } = setup();
    const [a, b] = [neighbour(fm, 2), neighbour(fm, 3)];
    fm.onMessage(a, msg('disconnect', { alive: false }));
    fm.onMessage(b, msg('leave', {}));
    expect(fm.views().active).toEqual([]);
    expect(knownIds(fm)).toEqual([a.id]);
    expect(ctx.downs).toEqual([
      { id: a.id, reason: 'disconnect' },
      { id: b.id, reason: 'leave' },
    ]);
    expect([a.closed, b.closed]).toEqual([true, true]);
  });

  it('onLinkReplaced: the winner takes the loser’s place without churn', () => {
    const { ctx, fm } = setup();
    const previous = neighbour(fm, 2);
    const next = new FakeLink(makeNode(2));
    fm.onLinkReplaced(previous, next);
    fm.onLinkClosed(previous, 'closed');
    expect(fm.isDataLink(next)).toBe(true);
    expect(fm.dataPeers()).toEqual([next]);
    expect(ctx.downs).toEqual([]);
  });
});

describe('gossip', () => {
  it('every round, every neighbour gets all that is known, at most 8 messages, the rest next round', async () => {
    const { ctx, self, fm } = setup({ fullMaxKnown: 100 });
    const a = neighbour(fm, 2);
    const known = range(10, 40);
    gossip(fm, a, known.slice(0, 24));
    gossip(fm, neighbour(fm, 3), known.slice(24));
    fm.start([]);
    await runFor(ctx.clock, 1250);
    const first = gossiped(a);
    // 8 messages: ourselves and the first 31 known, minus a itself (a peer is never told of itself).
    expect(first.map((m) => m.length)).toEqual([4, 4, 4, 4, 4, 4, 4, 3]);
    expect(first[0]?.[0]).toEqual(self);
    a.clearSent();
    await runFor(ctx.clock, 1000);
    const seen = new Set([...first, ...gossiped(a)].flat().map((info) => info.id));
    expect(seen.size).toBe(42);
    expect(seen.has(a.id)).toBe(false);
    fm.stop();
  });

  it('learns from neighbours only; LIMIT past maxEntriesPerMessage; a bounded number per round', () => {
    const { ctx, fm } = setup({ fullMaxKnown: 100 });
    const stranger = new FakeLink(makeNode(3));
    fm.onMessage(stranger, msg('shuffleReply', { entries: entriesOf(makeNode(10)) }));
    expect(ctx.dropCount('gossip-not-neighbor')).toBe(1);

    const a = neighbour(fm, 2);
    fm.onMessage(a, msg('shuffleReply', { entries: entriesOf(...range(20, 5)) }));
    expect(a.closeCode).toBe('LIMIT');
    expect(ctx.dropCount('shuffleReply-limit')).toBe(1);

    const b = neighbour(fm, 4);
    gossip(fm, b, range(30, 26 * 4));
    expect(fm.stats().gossipReceived).toBe(24);
    expect(ctx.dropCount('gossip-rate')).toBe(2);
    expect(knownIds(fm)).not.toContain(makeNode(10).id);
  });

  it('refuses self, invalid and port-0 entries; forgets the first learned past fullMaxKnown', () => {
    const { ctx, self, fm } = setup();
    const a = neighbour(fm, 2);
    const forged = { ...makeNode(20), id: makeNode(21).id };
    gossip(fm, a, [self, forged, makeNode(22, 0), ...range(30, 13)]);
    // 12 known: node 2 (first learned) and node 30 were forgotten for 31..42.
    expect(ids(fm.views().passive)).toEqual(ids(range(31, 12)));
    expect(fm.stats()).toMatchObject({ known: 12, entriesForgotten: 2, entriesRefused: 2 });
    expect(ctx.dropCount('entry-invalid')).toBe(1);
    expect(ctx.dropCount('entry-unreachable')).toBe(1);
    // Forgotten, but still a neighbour: the views list it, as active.
    expect(ids(fm.views().active)).toEqual([a.id]);
  });

  it('forged entries all naming one address: it is dialled at most once per round', async () => {
    const { ctx, fm } = setup({ fullMaxKnown: 100 });
    gossip(fm, neighbour(fm, 2), range(100, 20, 4242));
    fm.start([]);
    await runFor(ctx.clock, 6000);
    const times = ctx.dialTimes.filter((_, i) => ctx.dials[i]?.port === 4242);
    expect(times.length).toBeGreaterThan(1);
    times.slice(1).forEach((time, i) => expect(time - (times[i] as number)).toBeGreaterThanOrEqual(1000));
    expect(fm.stats().dialsLimited).toBeGreaterThan(0);
    fm.stop();
  });

  it('views(): active are neighbours, passive the other known addresses, at most 100', () => {
    const { fm } = setup({ fullMaxKnown: 200, maxEntriesPerMessage: 32 });
    const a = neighbour(fm, 2);
    const known = range(10, 150);
    for (let i = 0; i < known.length; i += 32) {
      fm.onMessage(a, msg('shuffleReply', { entries: entriesOf(...known.slice(i, i + 32)) }));
    }
    const { active, passive } = fm.views();
    expect(ids(active)).toEqual([a.id]);
    expect(passive).toHaveLength(100);
    expect(passive.some((info) => info.id === a.id)).toBe(false);
    expect(fm.stats().known).toBe(151);
  });
});

describe('stop', () => {
  it('sends Leave to every neighbour, cancels every timer, and later callbacks are no-ops', async () => {
    const { ctx, fm } = setup();
    const [a, b] = [neighbour(fm, 2), neighbour(fm, 3)];
    gossip(fm, a, range(10, 3));
    fm.start([addressOfNode(makeNode(9))]);
    await runFor(ctx.clock, 1250);
    a.clearSent();
    b.clearSent();
    fm.stop();
    fm.stop();

    expect(a.kinds()).toEqual(['leave']);
    expect(b.kinds()).toEqual(['leave']);
    expect(fm.dataPeers()).toEqual([]);
    expect(ctx.clock.pendingCount).toBe(0);
    const before = [ctx.ups.length, ctx.downs.length, ctx.dials.length];
    const late = new FakeLink(makeNode(6));
    fm.onMessage(late, msg('join', {}));
    fm.onMessage(late, msg('neighbor', { highPriority: true }));
    fm.onLinkClosed(a, 'error');
    await runFor(ctx.clock, 10_000);
    expect(late.sent).toEqual([]);
    expect([ctx.ups.length, ctx.downs.length, ctx.dials.length]).toEqual(before);
  });
});

describe('simulation: 40 nodes over the fake mesh', () => {
  // A short backoff cap: with half the known addresses dead, the default 10 s cap makes healing
  // take minutes of virtual time (and the test seconds of real time).
  const CONFIG: Partial<NodeConfig> = { fullDegree: 3, shuffleIntervalMs: 1000, retryMaxBackoffMs: 1000 };
  const BOUNDS = { activeSize: 5 * 3, passiveSize: 100 };

  async function formMesh(seed: number): Promise<FakeMesh> {
    const mesh = new FakeMesh({ factory: createFull, config: CONFIG, seed });
    const nodes = Array.from({ length: 40 }, () => mesh.addNode());
    const contact = nodes[0] as MeshNode;
    contact.strategy.start([]);
    for (const node of nodes.slice(1)) {
      node.strategy.start([contact.address]);
      await mesh.run(100);
    }
    await mesh.run(8 * mesh.config.shuffleIntervalMs);
    return mesh;
  }

  it('joined through one seed: everyone known everywhere, bounded, symmetric, connected', async () => {
    const mesh = await formMesh(1);
    expect(mesh.problems(BOUNDS)).toEqual([]);
    expect(await mesh.runUntil(() => mesh.asymmetricEdges().length === 0, 5000)).toBe(true);
    expect(mesh.isConnected()).toBe(true);
    for (const node of mesh.nodes) {
      expect(node.strategy.stats()).toMatchObject({ known: 39, outbound: 3 });
      expect(node.strategy.stats().inbound).toBeLessThanOrEqual(12);
    }
  });

  it('after half the nodes crash it reconnects, yet every survivor still lists the dead', async () => {
    const mesh = await formMesh(2);
    mesh.nodes.filter((_, i) => i % 2 === 1).forEach((node) => mesh.crash(node));
    await mesh.run(12 * mesh.config.shuffleIntervalMs);
    expect(mesh.problems(BOUNDS)).toEqual([]);
    expect(await mesh.runUntil(() => mesh.asymmetricEdges().length === 0, 5000)).toBe(true);
    expect(mesh.isConnected()).toBe(true);
    for (const node of mesh.alive()) {
      expect(node.strategy.stats().known).toBe(39);
      expect(node.strategy.stats().outbound).toBe(3);
    }
  });
});
