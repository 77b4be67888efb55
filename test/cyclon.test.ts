/**
 * Tier 2 of the tests (one component's rules, no sockets): Cyclon rule by rule with fake links, a
 * fake context, a SimClock and a seeded Random, then simulations over the fake mesh: 40 nodes
 * joining through one seed, and the faithful weakness, dead entries lingering after half the nodes
 * crash at once.
 *
 * Settings are small and pairwise distinct (view 5, shuffle length 3, entry limit 8, idle 500,
 * round 1000) so that a swapped setting fails a test. Tests that do not call start() see each
 * message rule alone: no round timer, no rejoin loop.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { createCyclon, Cyclon } from '../membership/cyclon.js';
import type { Envelope, NodeInfo, PeerEntry } from '../proto/messages.js';
import { FakeMesh, type MeshNode } from './helpers/fake-mesh.js';
import { addressOfNode, FakeContext, FakeLink, makeNode, msg, runFor, settle } from './helpers/fakes.js';

const SMALL: Partial<NodeConfig> = {
  cyclonViewSize: 5,
  cyclonShuffleLength: 3,
  maxEntriesPerMessage: 8,
  shuffleIntervalMs: 1000,
  shortLivedIdleMs: 500,
  retryBaseBackoffMs: 100,
  retryMaxBackoffMs: 1600,
};

function setup(overrides: Partial<NodeConfig> = {}, seed = 7) {
  const self = makeNode(1);
  const ctx = new FakeContext(self, { ...SMALL, ...overrides }, seed);
  return { self, ctx, cy: new Cyclon(ctx) };
}

const ids = (infos: readonly NodeInfo[]): string[] => infos.map((info) => info.id).sort();
const viewIds = (cy: Cyclon): string[] => ids(cy.views().active);
const aged = (node: NodeInfo, age: number): PeerEntry => ({ node, age });
const entriesOf = (...nodes: NodeInfo[]): PeerEntry[] => nodes.map((node) => aged(node, 0));

/**
 * Fills a view through a Shuffle from node 90 on a link closed right after (so that it is not
 * one of the links the strategy keeps). Into an empty view nothing is answered nor replaced.
 */
function fill(cy: Cyclon, entries: PeerEntry[]): void {
  const link = new FakeLink(makeNode(90));
  cy.onMessage(link, msg('shuffle', { origin: link.peer, entries, ttl: 0 }));
  link.close();
  cy.onLinkClosed(link, 'local');
}

/** Steps timers (letting dials resolve) until `predicate` holds; fails after `limitMs`. */
async function stepUntil(ctx: FakeContext, predicate: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = ctx.clock.now() + limitMs;
  for (;;) {
    await settle();
    if (predicate()) return;
    if (ctx.clock.now() > deadline || !ctx.clock.step()) throw new Error('condition never held');
  }
}

/** The same node with an id that does not match its key. */
function forged(n: number): NodeInfo {
  return { ...makeNode(n), id: makeNode(n + 1000).id };
}

describe('join', () => {
  it('the seed adds the joiner at age 0 and answers with entries of its view, never the joiner', () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2), makeNode(3)));
    const joiner = new FakeLink(makeNode(4));
    cy.onMessage(joiner, msg('join', {}));

    expect(viewIds(cy)).toEqual(ids([makeNode(2), makeNode(3), makeNode(4)]));
    expect(ctx.ups.at(-1)?.id).toBe(joiner.id);
    const [reply] = joiner.sentOf('shuffleReply');
    expect(ids(reply?.entries.map((e) => e.node as NodeInfo) ?? [])).toEqual(ids([makeNode(2), makeNode(3)]));
    expect(cy.stats().joins).toBe(1);

    // A node whose view emptied rejoins on the same link: it is answered again.
    cy.onMessage(joiner, msg('join', {}));
    expect(joiner.sentOf('shuffleReply')).toHaveLength(2);
    expect(cy.views().active).toHaveLength(3);
  });

  it('a full seed evicts its oldest entry for the joiner', () => {
    const { ctx, cy } = setup();
    fill(cy, [
      aged(makeNode(2), 4),
      aged(makeNode(3), 9),
      aged(makeNode(4), 1),
      aged(makeNode(5), 0),
      aged(makeNode(6), 2),
    ]);
    cy.onMessage(new FakeLink(makeNode(7)), msg('join', {}));
    expect(viewIds(cy)).not.toContain(makeNode(3).id);
    expect(viewIds(cy)).toContain(makeNode(7).id);
    expect(ctx.downs).toEqual([{ id: makeNode(3).id, reason: 'evicted' }]);
    expect(cy.stats().evictions).toBe(1);
  });

  it('the joiner dials its seed, sends Join, keeps the seed and merges its answer', async () => {
    const { ctx, cy } = setup();
    const seed = makeNode(2);
    const made: FakeLink[] = ctx.answerWith([seed]);
    cy.start([addressOfNode(seed)]);
    await settle();
    const link = made[0] as FakeLink;
    expect(link.kinds()).toEqual(['join']);
    expect(viewIds(cy)).toEqual([seed.id]);

    cy.onMessage(link, msg('shuffleReply', { entries: [aged(makeNode(3), 2), aged(makeNode(4), 5)] }));
    expect(viewIds(cy)).toEqual(ids([seed, makeNode(3), makeNode(4)]));
    expect(cy.stats()).toMatchObject({ joinsSent: 1, shuffleRepliesReceived: 1 });
    cy.stop();
  });

  it('rejoins through the seeds with backoff only while the view is empty', async () => {
    const { ctx, cy } = setup();
    const seed = makeNode(2);
    cy.start([addressOfNode(seed)]);
    await runFor(ctx.clock, 3000);
    const failed = ctx.dials.length;
    expect(failed).toBeGreaterThan(3);
    expect(failed).toBeLessThan(15);

    const made = ctx.answerWith([seed]);
    await stepUntil(ctx, () => cy.views().active.length > 0);
    fill(cy, entriesOf(makeNode(3), makeNode(4), makeNode(5)));
    // Rounds go on (each removes one entry), but while the view is not empty nobody rejoins.
    await runFor(ctx.clock, 1600);
    expect(made.filter((link) => link.kinds()[0] === 'join')).toHaveLength(1);
    cy.stop();
  });
});

describe('the round (the initiator)', () => {
  it('ages every entry, removes the oldest and sends it self (age 0) plus length-1 others, ttl 0', async () => {
    const { ctx, self, cy } = setup();
    const [a, b, c, d, e] = [makeNode(2), makeNode(3), makeNode(4), makeNode(5), makeNode(6)];
    fill(cy, [aged(a, 3), aged(b, 1), aged(c, 0), aged(d, 2), aged(e, 1)]);
    const made = ctx.answerWith([a]);
    cy.start([]);
    await runFor(ctx.clock, 1250);

    expect(ctx.dials).toEqual([addressOfNode(a)]);
    expect(viewIds(cy)).toEqual(ids([b, c, d, e]));
    expect(ctx.downs).toEqual([{ id: a.id, reason: 'evicted' }]);
    const shuffle = made[0]?.sentOf('shuffle')[0];
    expect(shuffle?.ttl).toBe(0);
    expect(shuffle?.origin).toEqual(self);
    expect(shuffle?.entries[0]).toEqual({ node: self, age: 0 });
    const others = shuffle?.entries.slice(1) ?? [];
    expect(others).toHaveLength(2);
    const agesBefore = new Map([b, c, d, e].map((info, i) => [info.id, [1, 0, 2, 1][i]]));
    for (const entry of others) expect(entry.age).toBe((agesBefore.get(entry.node?.id ?? '') as number) + 1);
    expect(cy.stats().shuffles).toBe(1);
    cy.stop();
  });

  it('runs every shuffleIntervalMs, jittered by +-25%', async () => {
    const { ctx, cy } = setup({ cyclonViewSize: 30 });
    fill(cy, entriesOf(...Array.from({ length: 8 }, (_, i) => makeNode(i + 2))));
    cy.start([]);
    await runFor(ctx.clock, 20_000);
    const gaps = ctx.dialTimes.map((time, i) => time - (ctx.dialTimes[i - 1] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(750);
      expect(gap).toBeLessThanOrEqual(1250);
    }
    cy.stop();
  });

  it('merges the reply: never self nor present, empty slot first, then in place of the sent entries', async () => {
    const { ctx, self, cy } = setup();
    const old = [2, 3, 4, 5, 6].map((n) => makeNode(n));
    fill(cy, [aged(old[0] as NodeInfo, 9), ...entriesOf(...old.slice(1))]);
    const made = ctx.answerWith([old[0] as NodeInfo]);
    cy.start([]);
    await runFor(ctx.clock, 1250);
    const link = made[0] as FakeLink;
    const sent = (link.sentOf('shuffle')[0]?.entries.slice(1) ?? []).map((e) => e.node as NodeInfo);
    const kept = old.slice(1).filter((info) => !sent.some((s) => s.id === info.id));
    const fresh = [20, 21, 22, 23].map((n) => makeNode(n));
    const entries = [aged(self, 0), aged(kept[0] as NodeInfo, 0), ...fresh.map((n, i) => aged(n, 10 + i))];
    cy.onMessage(link, msg('shuffleReply', { entries }));

    // 4 entries left after the oldest went: 1 empty slot + 2 sent = room for 3 of the 4 new.
    expect(viewIds(cy)).toEqual(ids([...kept, ...fresh.slice(0, 3)]));
    expect(ctx.downs.map((d) => d.id).sort()).toEqual(ids([old[0] as NodeInfo, ...sent]));
    expect(cy.stats()).toMatchObject({ shuffleRepliesReceived: 1, shuffleTimeouts: 0 });
    expect(cy.dataPeers().map((p) => p.id)).toContain(fresh[0]?.id);
    // Received ages are kept: the next round picks the oldest received entry.
    ctx.answerWith([]);
    await runFor(ctx.clock, 1250);
    expect(ctx.dials.at(-1)).toEqual(addressOfNode(fresh[2] as NodeInfo));
    cy.stop();
  });

  it('an unanswered shuffle leaves the target out: dial failure, no reply in time, link closed', async () => {
    const { ctx, cy } = setup();
    const [a, b, c] = [makeNode(2), makeNode(3), makeNode(4)];
    fill(cy, [aged(a, 9), aged(b, 5), aged(c, 0)]);
    cy.start([]);
    await runFor(ctx.clock, 1250);
    expect(viewIds(cy)).toEqual(ids([b, c]));
    expect(cy.stats().shuffleTimeouts).toBe(1);

    const made = ctx.answerWith([b]);
    await stepUntil(ctx, () => made.length === 1);
    expect(made[0]?.kinds()).toEqual(['shuffle']);
    // shortLivedIdleMs after the Shuffle, well before the next round (at least 750 ms away).
    await runFor(ctx.clock, 499);
    expect(cy.stats().shuffleTimeouts).toBe(1);
    await runFor(ctx.clock, 1);
    expect(cy.stats().shuffleTimeouts).toBe(2);
    cy.onMessage(made[0] as FakeLink, msg('shuffleReply', { entries: entriesOf(makeNode(20)) }));
    expect(ctx.dropCount('shuffleReply-unsolicited')).toBe(1);
    expect(viewIds(cy)).toEqual([c.id]);

    // The link closes before the reply: no need to wait for the timeout.
    const toC = ctx.answerWith([c]);
    await stepUntil(ctx, () => toC.length === 1);
    (toC[0] as FakeLink).close();
    cy.onLinkClosed(toC[0] as FakeLink, 'closed');
    expect(cy.stats().shuffleTimeouts).toBe(3);
    expect(cy.views().active).toEqual([]);
    cy.stop();
  });
});

describe('the shuffle (the target)', () => {
  it('answers on the same link without dialling, and merges in place of what it answered', () => {
    const { ctx, cy } = setup();
    const old = [2, 3, 4, 5, 6].map((n) => makeNode(n));
    fill(cy, entriesOf(...old));
    const from = new FakeLink(makeNode(9));
    const moved = { ...makeNode(9), host: '10.9.9.9' };
    const fresh = [makeNode(20), makeNode(21)];
    cy.onMessage(
      from,
      msg('shuffle', { origin: moved, entries: [aged(moved, 0), ...entriesOf(...fresh)], ttl: 0 }),
    );

    expect(ctx.dials).toEqual([]);
    const replied = (from.sentOf('shuffleReply')[0]?.entries ?? []).map((e) => e.node as NodeInfo);
    expect(replied).toHaveLength(3);
    const kept = old.filter((info) => !replied.some((r) => r.id === info.id));
    expect(viewIds(cy)).toEqual(ids([...kept, from.peer, ...fresh]));
    // The sender's own entry is the NodeInfo it authenticated with, not the one it sent.
    expect(cy.views().active.find((info) => info.id === from.id)?.host).toBe('127.0.0.1');
    // fill() was the first Shuffle received; its answer was empty.
    expect(cy.stats()).toMatchObject({ shufflesReceived: 2, shuffleReplies: 2 });
  });

  it('refuses invalid, port-0, self and duplicate entries, and never more than the view holds', () => {
    const { ctx, self, cy } = setup();
    const good = [makeNode(20), makeNode(21)];
    const entries = [
      ...entriesOf(forged(22), makeNode(23, 0), self, good[0] as NodeInfo, good[0] as NodeInfo),
      { node: null, age: 0 },
      ...entriesOf(good[1] as NodeInfo),
    ];
    fill(cy, entries);
    expect(viewIds(cy)).toEqual(ids(good));
    expect(ctx.dropCount('entry-invalid')).toBe(2);
    expect(ctx.dropCount('entry-unreachable')).toBe(1);
    fill(cy, entriesOf(...[30, 31, 32, 33, 34, 35].map((n) => makeNode(n))));
    expect(cy.views().active).toHaveLength(5);
  });

  it('more than maxEntriesPerMessage entries closes the link with LIMIT', () => {
    const { ctx, cy } = setup();
    const nine = entriesOf(...Array.from({ length: 9 }, (_, i) => makeNode(20 + i)));
    const a = new FakeLink(makeNode(2));
    cy.onMessage(a, msg('shuffle', { origin: a.peer, entries: nine, ttl: 0 }));
    const b = new FakeLink(makeNode(3));
    cy.onMessage(b, msg('shuffleReply', { entries: nine }));
    expect([a.closeCode, b.closeCode]).toEqual(['LIMIT', 'LIMIT']);
    expect(a.sent).toEqual([]);
    expect(cy.views().active).toEqual([]);
    expect(ctx.dropCount('shuffle-limit') + ctx.dropCount('shuffleReply-limit')).toBe(2);
  });
});

describe('links and the data plane', () => {
  it('a closed link never removes an entry; a Leave does', () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2), makeNode(3)));
    const link = new FakeLink(makeNode(2));
    cy.onLinkReady(link);
    link.close();
    cy.onLinkClosed(link, 'error');
    expect(viewIds(cy)).toEqual(ids([makeNode(2), makeNode(3)]));
    expect(ctx.downs).toEqual([]);

    const leaving = new FakeLink(makeNode(3));
    cy.onMessage(leaving, msg('leave', {}));
    expect(viewIds(cy)).toEqual([makeNode(2).id]);
    expect(ctx.downs).toEqual([{ id: makeNode(3).id, reason: 'leave' }]);
    expect(leaving.closed).toBe(true);
  });

  it('every open link is a data link while running (views are not symmetric)', () => {
    const { cy } = setup();
    const stranger = new FakeLink(makeNode(9));
    cy.onLinkReady(stranger);
    expect(cy.isDataLink(stranger)).toBe(true);
    stranger.close();
    expect(cy.isDataLink(stranger)).toBe(false);
  });

  it('sends on demand: dials once, queues in order, then uses the link; the queue is bounded', async () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2)));
    const made = ctx.answerWith([makeNode(2)]);
    const [peer] = cy.dataPeers();
    const pings = [1, 2, 3].map((nonce): Envelope => ({ ping: { nonce: BigInt(nonce) } }));
    expect(peer?.send(pings[0] as Envelope)).toBe(true);
    expect(peer?.send(pings[1] as Envelope)).toBe(true);
    await settle();
    expect(peer?.send(pings[2] as Envelope)).toBe(true);
    expect(ctx.dials).toHaveLength(1);
    expect(made[0]?.sent).toEqual(pings);
    expect(cy.stats()).toMatchObject({ onDemandDials: 1, onDemandDialFailures: 0, queuedDrops: 0 });

    // A peer that cannot be reached: 64 wait, the rest are dropped, then all are, the entry stays.
    fill(cy, entriesOf(makeNode(3)));
    const far = cy.dataPeers().find((p) => p.id === makeNode(3).id);
    const results = Array.from({ length: 70 }, (_, nonce) => far?.send({ ping: { nonce: BigInt(nonce) } }));
    expect(results.filter(Boolean)).toHaveLength(64);
    await settle();
    expect(cy.stats()).toMatchObject({ onDemandDials: 2, onDemandDialFailures: 1, queuedDrops: 70 });
    expect(viewIds(cy)).toContain(makeNode(3).id);
  });

  it('what was queued for an entry that leaves the view meanwhile still goes out', async () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2)));
    const made = ctx.answerWith([makeNode(2)]);
    const [peer] = cy.dataPeers();
    expect(peer?.send({ ping: { nonce: 1n } })).toBe(true);
    cy.onMessage(new FakeLink(makeNode(2)), msg('leave', {}));
    expect(peer?.send({ ping: { nonce: 2n } })).toBe(false);
    await settle();
    expect(made[0]?.sent).toEqual([{ ping: { nonce: 1n } }]);
  });

  it('a dial that loses a simultaneous-dial contest uses the peer’s own link', async () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2)));
    const theirs = new FakeLink(makeNode(2));
    ctx.dial = () => {
      ctx.openLinks.set(theirs.id, theirs);
      return undefined;
    };
    cy.dataPeers()[0]?.send({ ping: { nonce: 3n } });
    await settle();
    expect(theirs.sent).toEqual([{ ping: { nonce: 3n } }]);
    expect(cy.stats().onDemandDialFailures).toBe(0);
  });

  it('a node’s open link is used without dialling', () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2)));
    const link = new FakeLink(makeNode(2));
    ctx.openLinks.set(link.id, link);
    cy.dataPeers()[0]?.send({ ping: { nonce: 7n } });
    expect(ctx.dials).toEqual([]);
    expect(link.sent).toEqual([{ ping: { nonce: 7n } }]);
  });

  it('forged entries all naming one address: it is dialled at most once per round', async () => {
    const { ctx, cy } = setup({ cyclonViewSize: 20 });
    const victim = Array.from({ length: 8 }, (_, i) => makeNode(100 + i, 4242));
    fill(cy, entriesOf(...victim));
    fill(cy, entriesOf(...victim.map((_, i) => makeNode(200 + i, 4242))));
    expect(cy.views().active).toHaveLength(16);
    cy.start([]);
    for (let t = 0; t < 6000; t += 100) {
      for (const peer of cy.dataPeers()) peer.send({ ping: { nonce: BigInt(t) } });
      await runFor(ctx.clock, 100);
    }
    const times = ctx.dialTimes.filter((_, i) => ctx.dials[i]?.port === 4242);
    expect(times.length).toBeGreaterThan(1);
    times.slice(1).forEach((time, i) => expect(time - (times[i] as number)).toBeGreaterThanOrEqual(1000));
    expect(cy.stats().dialsLimited).toBeGreaterThan(10);
    cy.stop();
  });

  it('closes its own idle links to peers outside the view, and the least used past the cap', async () => {
    const { ctx, cy } = setup({ cyclonViewSize: 2 });
    fill(cy, entriesOf(makeNode(2)));
    const member = new FakeLink(makeNode(2), 'dialer');
    const ours = new FakeLink(makeNode(3), 'dialer');
    const theirs = Array.from({ length: 6 }, (_, i) => new FakeLink(makeNode(10 + i), 'listener'));
    for (const link of [member, ours, ...theirs]) {
      cy.onLinkReady(link);
      ctx.clock.advance(1);
    }
    cy.start([]);
    await runFor(ctx.clock, 1250);
    expect(member.closed).toBe(false);
    expect(ours.closed).toBe(true);
    // At most 2 * cyclonViewSize = 4 links outside the view: the two used least long ago go.
    expect(theirs.map((link) => link.closed)).toEqual([true, true, false, false, false, false]);
    expect(cy.stats().linksClosed).toBe(3);
    cy.stop();
  });
});

describe('stop', () => {
  it('sends Leave on every open link, cancels every timer, and later callbacks are no-ops', async () => {
    const { ctx, cy } = setup();
    fill(cy, entriesOf(makeNode(2), makeNode(3)));
    const links = [new FakeLink(makeNode(2)), new FakeLink(makeNode(9))];
    links.forEach((link) => cy.onLinkReady(link));
    const peer = cy.dataPeers()[0];
    cy.start([addressOfNode(makeNode(5))]);
    await runFor(ctx.clock, 1250);
    cy.stop();
    cy.stop();

    for (const link of links) expect(link.kinds()).toEqual(['leave']);
    expect(ctx.clock.pendingCount).toBe(0);
    expect(peer?.send({ ping: { nonce: 1n } })).toBe(false);
    expect(cy.dataPeers()).toEqual([]);
    const before = [ctx.ups.length, ctx.downs.length, ctx.dials.length];
    const late = new FakeLink(makeNode(6));
    cy.onMessage(late, msg('join', {}));
    cy.onMessage(late, msg('shuffle', { origin: late.peer, entries: entriesOf(makeNode(7)), ttl: 0 }));
    cy.onLinkClosed(links[0] as FakeLink, 'error');
    await runFor(ctx.clock, 10_000);
    expect(late.sent).toEqual([]);
    expect(cy.isDataLink(late)).toBe(false);
    expect([ctx.ups.length, ctx.downs.length, ctx.dials.length]).toEqual(before);
  });
});

describe('simulation over the fake mesh', () => {
  const CONFIG: Partial<NodeConfig> = { cyclonViewSize: 8, cyclonShuffleLength: 4, shuffleIntervalMs: 1000 };
  const BOUNDS = { activeSize: 8, passiveSize: 0 };

  async function formMesh(seed: number, count: number): Promise<FakeMesh> {
    const mesh = new FakeMesh({ factory: createCyclon, config: CONFIG, seed });
    const nodes = Array.from({ length: count }, () => mesh.addNode());
    const contact = nodes[0] as MeshNode;
    contact.strategy.start([]);
    for (const node of nodes.slice(1)) {
      node.strategy.start([contact.address]);
      await mesh.run(100);
    }
    await mesh.run(20 * mesh.config.shuffleIntervalMs);
    return mesh;
  }

  /** The fraction of view entries of live nodes that point at dead nodes. */
  function deadFraction(mesh: FakeMesh): number {
    const entries = mesh.alive().flatMap((node) => node.activeIds());
    const dead = entries.filter((id) => !mesh.byId(id)?.alive);
    return dead.length / Math.max(1, entries.length);
  }

  it('40 nodes joined through one seed: full, bounded views, one component', async () => {
    const mesh = await formMesh(1, 40);
    expect(mesh.problems(BOUNDS)).toEqual([]);
    expect(mesh.isConnected()).toBe(true);
    const sizes = mesh.nodes.map((node) => node.activeIds().length);
    expect(sizes.filter((n) => n === 8).length).toBeGreaterThanOrEqual(36);
    // In-degrees even out: nobody is known by everyone, nobody by no one.
    const inDegree = new Map<string, number>();
    for (const id of mesh.nodes.flatMap((node) => node.activeIds()))
      inDegree.set(id, (inDegree.get(id) ?? 0) + 1);
    expect(inDegree.size).toBe(40);
    expect(Math.max(...inDegree.values())).toBeLessThan(20);
    expect(mesh.sentByKind.get('shuffle')).toBeGreaterThan(40 * 15);
  });

  it('after half the nodes crash, dead entries linger, then are shuffled out round by round', async () => {
    const mesh = await formMesh(2, 40);
    const victims = mesh.nodes.filter((_, i) => i % 2 === 1);
    victims.forEach((node) => mesh.crash(node));
    await mesh.run(10);
    // Closed connections remove nothing: about half of every view is now dead.
    const initial = deadFraction(mesh);
    expect(initial).toBeGreaterThan(0.35);

    const fractions = [initial];
    for (let round = 0; round < 4; round++) {
      await mesh.run(5 * mesh.config.shuffleIntervalMs);
      fractions.push(deadFraction(mesh));
    }
    // Round by round, never all at once: each round removes only the oldest entry.
    expect(fractions[1]).toBeGreaterThan(0.1);
    expect(fractions[1]).toBeLessThan(initial);
    expect(fractions[4]).toBeLessThan(initial / 4);
    expect(mesh.problems(BOUNDS)).toEqual([]);
    const timeouts = mesh
      .alive()
      .reduce((sum, node) => sum + (node.strategy.stats().shuffleTimeouts ?? 0), 0);
    expect(timeouts).toBeGreaterThan(20);
  });
});
