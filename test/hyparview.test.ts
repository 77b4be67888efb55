/**
 * Tier 2 of the tests (one component's rules, no sockets): HyParView (docs/protocol.md section 4)
 * rule by rule, with fake links, a fake context, a SimClock and a seeded Random, then a 30-node
 * simulation over the fake mesh.
 *
 * Unit tests that do not call start() see each message rule alone: before start there is no
 * shuffle timer and no repair loop. The settings below are small and pairwise distinct
 * (arwl 4, prwl 2, ka 2, kp 3, limit 8, ...) so that a swapped setting fails a test.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { createHyParView, HyParView } from '../membership/hyparview.js';
import type { LinkCloseReason, PeerDownReason } from '../membership/strategy.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import { seededRandom } from '../utils/random.js';
import { FakeMesh, type MeshNode } from './helpers/fake-mesh.js';
import {
  addressOfNode,
  captureLogger,
  FakeContext,
  FakeLink,
  makeNode,
  msg,
  runFor,
  settle,
  viewProblems,
} from './helpers/fakes.js';

const SMALL: Partial<NodeConfig> = {
  activeSize: 3,
  passiveSize: 6,
  arwl: 4,
  prwl: 2,
  shuffleIntervalMs: 1000,
  shuffleActive: 2,
  shufflePassive: 3,
  maxEntriesPerMessage: 8,
  cyclonShuffleLength: 8,
  retryBaseBackoffMs: 100,
  retryMaxBackoffMs: 1600,
  passiveMaxFailures: 3,
  shortLivedIdleMs: 500,
};

function setup(overrides: Partial<NodeConfig> = {}, seed = 7) {
  const self = makeNode(1);
  const ctx = new FakeContext(self, { ...SMALL, ...overrides }, seed);
  const captured = captureLogger();
  ctx.log = captured.log;
  const hv = new HyParView(ctx);
  return { self, ctx, hv, lines: captured.lines };
}

/** Node n asks for (and gets) a place in the active view; what it was sent is cleared. */
function neighbour(hv: HyParView, n: number): FakeLink {
  const link = new FakeLink(makeNode(n));
  hv.onLinkReady(link);
  hv.onMessage(link, msg('neighbor', { highPriority: true }));
  link.clearSent();
  return link;
}

/** Node n enters the passive view: it becomes a neighbour, then leaves it alive. */
function passivePeer(hv: HyParView, n: number): NodeInfo {
  const link = neighbour(hv, n);
  hv.onMessage(link, msg('disconnect', { alive: true }));
  return link.peer;
}

/** The same node with an id that does not match its key. */
function forged(n: number): NodeInfo {
  return { ...makeNode(n), id: makeNode(n + 1000).id };
}

const ids = (infos: readonly NodeInfo[]): string[] => infos.map((info) => info.id).sort();
const entriesOf = (...nodes: NodeInfo[]): PeerEntry[] => nodes.map((node) => ({ node, age: 0 }));

describe('start: joining through the seeds', () => {
  it('tries seeds in order, skips a dead one with a warning, joins the first that answers', async () => {
    const { ctx, hv, lines } = setup();
    const [dead, live, unused] = [makeNode(2), makeNode(3), makeNode(4)];
    const made = ctx.answerWith([live, unused]);
    hv.start([addressOfNode(dead), addressOfNode(live), addressOfNode(unused)]);
    await settle();

    expect(ctx.dials).toEqual([addressOfNode(dead), addressOfNode(live)]);
    const link = made[0] as FakeLink;
    expect(link.kinds()).toEqual(['join']);
    expect(ids(hv.views().active)).toEqual([live.id]);
    expect(ctx.ups).toEqual([link]);
    expect(hv.isDataLink(link)).toBe(true);
    const warning = lines.find((line) => line.level === 40);
    expect(warning?.seed).toBe(`127.0.0.1:${dead.port}`);
  });

  it('never gives up on an empty view: passes over all seeds with doubling, capped, jittered backoff', async () => {
    const { ctx, hv } = setup();
    const seeds = [makeNode(2), makeNode(3)].map(addressOfNode);
    hv.start(seeds);
    await runFor(ctx.clock, 30_000);

    // Every pass dials both seeds in order at the same instant.
    const passes = ctx.dialTimes.filter((_, i) => i % 2 === 0);
    expect(ctx.dials.every((address, i) => address === seeds[i % 2])).toBe(true);
    expect(passes.length).toBeGreaterThan(15);
    passes.slice(1).forEach((time, k) => {
      const gap = time - (passes[k] as number);
      const backoff = Math.min(100 * 2 ** k, 1600);
      expect(gap).toBeGreaterThanOrEqual(backoff / 2);
      expect(gap).toBeLessThanOrEqual(backoff);
    });

    // Once a seed answers the node joins, and the backoff is reset.
    const made = ctx.answerWith([makeNode(3)]);
    await runFor(ctx.clock, 1600);
    expect(made).toHaveLength(1);
    expect(hv.views().active).toHaveLength(1);
    expect(hv.stats().healingBackoffMs).toBe(0);
  });

  it('shuffles periodically, jittered by +-25% around shuffleIntervalMs', async () => {
    const { ctx, hv } = setup({ activeSize: 1 });
    const link = neighbour(hv, 2);
    hv.start([]);
    const times: number[] = [];
    while (ctx.clock.now() < 20_000) {
      const before = link.sent.length;
      ctx.clock.step();
      await settle();
      if (link.sent.length > before) times.push(ctx.clock.now());
    }
    expect(times.length).toBeGreaterThanOrEqual(16);
    times.forEach((time, i) => {
      const gap = time - (i === 0 ? 0 : (times[i - 1] as number));
      expect(gap).toBeGreaterThanOrEqual(750);
      expect(gap).toBeLessThanOrEqual(1250);
    });
    expect(new Set(times.map((t, i) => t - (times[i - 1] ?? 0))).size).toBeGreaterThan(1);
  });
});

describe('links', () => {
  it('a new link is short-lived: only a Join or an accepted Neighbor makes it a data link', () => {
    const { hv } = setup();
    const link = new FakeLink(makeNode(2));
    hv.onLinkReady(link);
    expect(hv.isDataLink(link)).toBe(false);
    expect(hv.dataPeers()).toEqual([]);
    hv.onMessage(link, msg('join', {}));
    expect(hv.isDataLink(link)).toBe(true);
    expect(hv.dataPeers()).toEqual([link]);
    // Another link object to the same peer is not the data link.
    expect(hv.isDataLink(new FakeLink(makeNode(2)))).toBe(false);
  });

  it('onLinkReplaced: the winner takes the loser’s place without peer-down/peer-up churn', () => {
    const { ctx, hv } = setup();
    const previous = neighbour(hv, 2);
    const next = new FakeLink(makeNode(2));
    hv.onLinkReplaced(previous, next);
    expect(hv.isDataLink(next)).toBe(true);
    expect(hv.isDataLink(previous)).toBe(false);
    expect(hv.dataPeers()).toEqual([next]);
    hv.onLinkClosed(previous, 'closed');
    expect(ctx.downs).toEqual([]);
    expect(ctx.ups).toHaveLength(1);
  });
});

describe('Join', () => {
  it('adds the joiner, reports peer-up, and sends ForwardJoin{joiner, arwl} to every other neighbour', () => {
    const { ctx, hv } = setup();
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 3)];
    const joiner = new FakeLink(makeNode(4));
    hv.onMessage(joiner, msg('join', {}));

    expect(hv.isDataLink(joiner)).toBe(true);
    expect(ctx.ups.at(-1)).toBe(joiner);
    for (const link of [a, b]) expect(link.sentOf('forwardJoin')).toEqual([{ node: joiner.peer, ttl: 4 }]);
    expect(joiner.sent).toEqual([]);
    expect(hv.stats().joins).toBe(1);
  });

  it('a second Join on the same link is a duplicate; a Join on a replacing link is a join', () => {
    const { ctx, hv } = setup();
    const a = neighbour(hv, 2);
    const joiner = new FakeLink(makeNode(4));
    hv.onMessage(joiner, msg('join', {}));
    hv.onMessage(joiner, msg('join', {}));
    expect(a.sentOf('forwardJoin')).toHaveLength(1);
    expect(ctx.dropCount('join-duplicate')).toBe(1);

    // The joiner restarted: its new connection replaced the old one, then carries a Join.
    const again = new FakeLink(makeNode(4));
    hv.onLinkReplaced(joiner, again);
    hv.onMessage(again, msg('join', {}));
    expect(a.sentOf('forwardJoin')).toHaveLength(2);
    expect(ctx.ups).toHaveLength(2);
  });

  it('evicts a random neighbour with Disconnect{alive:true} when full; the evicted goes to passive', () => {
    const { ctx, hv } = setup();
    const old = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    const joiner = new FakeLink(makeNode(5));
    hv.onMessage(joiner, msg('join', {}));

    const evicted = old.filter((link) => link.closed);
    expect(evicted).toHaveLength(1);
    const victim = evicted[0] as FakeLink;
    expect(victim.sentOf('disconnect')).toEqual([{ alive: true }]);
    expect(ctx.downs).toEqual([{ id: victim.id, reason: 'evicted' }]);
    expect(ids(hv.views().passive)).toEqual([victim.id]);
    expect(hv.views().active).toHaveLength(3);
    expect(hv.isDataLink(joiner)).toBe(true);
    expect(hv.stats().evictions).toBe(1);
  });

  it('refuses a joiner whose NodeInfo is invalid (id not matching key), evicting nobody', () => {
    const { ctx, hv } = setup();
    const old = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    const joiner = new FakeLink(forged(5));
    hv.onMessage(joiner, msg('join', {}));
    expect(hv.isDataLink(joiner)).toBe(false);
    expect(joiner.closed).toBe(true);
    expect(old.some((link) => link.closed)).toBe(false);
    expect(ctx.dropCount('join-refused')).toBe(1);
  });

  it('admits a joiner that does not listen (port 0) but sends no ForwardJoin for it', () => {
    const { hv } = setup();
    const a = neighbour(hv, 2);
    const joiner = new FakeLink(makeNode(5, 0));
    hv.onMessage(joiner, msg('join', {}));
    expect(hv.isDataLink(joiner)).toBe(true);
    expect(a.sent).toEqual([]);
  });
});

describe('ForwardJoin', () => {
  it('at ttl 0: dials the node, sends Neighbor{high_priority}, and makes it active when accepted', async () => {
    const { ctx, hv } = setup();
    const [a] = [neighbour(hv, 2), neighbour(hv, 3)];
    const joiner = makeNode(9);
    const made = ctx.answerWith([joiner]);
    hv.onMessage(a, msg('forwardJoin', { node: joiner, ttl: 0 }));
    await settle();

    expect(ctx.dials).toEqual([addressOfNode(joiner)]);
    const link = made[0] as FakeLink;
    expect(link.sentOf('neighbor')).toEqual([{ highPriority: true }]);
    expect(hv.isDataLink(link)).toBe(false);
    hv.onMessage(link, msg('neighborReply', { accepted: true }));
    expect(hv.isDataLink(link)).toBe(true);
    expect(ctx.ups.at(-1)).toBe(link);
  });

  it('with at most one active neighbour: adds the node whatever the ttl', async () => {
    const { ctx, hv } = setup();
    const a = neighbour(hv, 2);
    const made = ctx.answerWith([makeNode(9)]);
    hv.onMessage(a, msg('forwardJoin', { node: makeNode(9), ttl: 3 }));
    await settle();
    expect(made[0]?.sentOf('neighbor')).toEqual([{ highPriority: true }]);
    expect(a.sent).toEqual([]);
  });

  it('at ttl == prwl: adds to passive and forwards ttl-1 to another neighbour, not the sender', () => {
    const { ctx, hv } = setup();
    const [a, b, c] = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    const joiner = makeNode(9);
    hv.onMessage(a, msg('forwardJoin', { node: joiner, ttl: 2 }));

    expect(ids(hv.views().passive)).toEqual([joiner.id]);
    expect(a.sent).toEqual([]);
    expect([...b.sentOf('forwardJoin'), ...c.sentOf('forwardJoin')]).toEqual([{ node: joiner, ttl: 1 }]);
    expect(ctx.dials).toEqual([]);
  });

  it('at another ttl: only forwards (a ttl above arwl is capped)', () => {
    const { hv } = setup();
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 3)];
    hv.onMessage(a, msg('forwardJoin', { node: makeNode(9), ttl: 1000 }));
    expect(hv.views().passive).toEqual([]);
    expect(b.sentOf('forwardJoin')).toEqual([{ node: makeNode(9), ttl: 3 }]);
  });

  it('refuses an invalid NodeInfo, never adds itself, and ignores non-neighbours', async () => {
    const { ctx, self, hv } = setup();
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 3)];
    ctx.answerWith([self]);
    hv.onMessage(a, msg('forwardJoin', { node: forged(9), ttl: 2 }));
    hv.onMessage(a, msg('forwardJoin', { node: self, ttl: 0 }));
    hv.onMessage(new FakeLink(makeNode(5)), msg('forwardJoin', { node: makeNode(9), ttl: 0 }));
    await settle();

    expect(ctx.dials).toEqual([]);
    expect(b.sent).toEqual([]);
    expect(hv.views().passive).toEqual([]);
    expect(ctx.dropCount('forwardJoin-invalid-node')).toBe(1);
    expect(ctx.dropCount('forwardJoin-not-neighbor')).toBe(1);
    expect(hv.stats().entriesRefused).toBe(1);
  });
});

describe('Neighbor', () => {
  it('high priority is accepted even when full (evicting); the reply precedes peer-up', () => {
    const { ctx, hv } = setup();
    [2, 3, 4].forEach((n) => neighbour(hv, n));
    const link = new FakeLink(makeNode(5));
    let repliedBeforeUp = false;
    const peerUp = ctx.peerUp.bind(ctx);
    ctx.peerUp = (up) => {
      repliedBeforeUp = (up as FakeLink).sent.length === 1;
      peerUp(up);
    };
    hv.onMessage(link, msg('neighbor', { highPriority: true }));
    expect(link.sentOf('neighborReply')).toEqual([{ accepted: true }]);
    expect(repliedBeforeUp).toBe(true);
    expect(hv.isDataLink(link)).toBe(true);
    expect(hv.views().active).toHaveLength(3);
    expect(hv.stats().evictions).toBe(1);
  });

  it('low priority is accepted only with room; a refused requester goes to passive, link left open', () => {
    const { ctx, hv } = setup();
    const first = new FakeLink(makeNode(2));
    hv.onMessage(first, msg('neighbor', { highPriority: false }));
    expect(first.sentOf('neighborReply')).toEqual([{ accepted: true }]);
    [3, 4].forEach((n) => neighbour(hv, n));

    const late = new FakeLink(makeNode(5));
    hv.onMessage(late, msg('neighbor', { highPriority: false }));
    expect(late.sentOf('neighborReply')).toEqual([{ accepted: false }]);
    expect(late.closed).toBe(false);
    expect(hv.isDataLink(late)).toBe(false);
    expect(ids(hv.views().passive)).toEqual([late.id]);
    expect(ctx.ups).toHaveLength(3);
    expect(hv.stats()).toMatchObject({ neighborRequests: 4, neighborAccepted: 3, neighborRefused: 1 });
  });

  it('a NeighborReply nobody asked for is dropped', () => {
    const { ctx, hv } = setup();
    const link = new FakeLink(makeNode(2));
    hv.onMessage(link, msg('neighborReply', { accepted: true }));
    expect(hv.isDataLink(link)).toBe(false);
    expect(ctx.dropCount('neighborReply-unsolicited')).toBe(1);
  });
});

describe('Disconnect, Leave and failures', () => {
  it('Disconnect{alive:true}: out of active, into passive, link closed', () => {
    const { ctx, hv } = setup();
    const link = neighbour(hv, 2);
    hv.onMessage(link, msg('disconnect', { alive: true }));
    expect(hv.isDataLink(link)).toBe(false);
    expect(link.closed).toBe(true);
    expect(ctx.downs).toEqual([{ id: link.id, reason: 'disconnect' }]);
    expect(ids(hv.views().passive)).toEqual([link.id]);
  });

  it('Disconnect{alive:false} forgets the peer; a port-0 peer never enters the passive view', () => {
    const { hv } = setup();
    hv.onMessage(neighbour(hv, 2), msg('disconnect', { alive: false }));
    const silent = new FakeLink(makeNode(3, 0));
    hv.onMessage(silent, msg('neighbor', { highPriority: true }));
    hv.onMessage(silent, msg('disconnect', { alive: true }));
    expect(hv.views()).toEqual({ active: [], passive: [] });
  });

  it('Leave removes the peer from both views at once and closes the link', () => {
    const { ctx, hv } = setup();
    const activeLink = neighbour(hv, 2);
    const known = passivePeer(hv, 3);
    hv.onMessage(activeLink, msg('leave', {}));
    const shortLived = new FakeLink(known);
    hv.onMessage(shortLived, msg('leave', {}));

    expect(hv.views()).toEqual({ active: [], passive: [] });
    expect(activeLink.closed && shortLived.closed).toBe(true);
    expect(ctx.downs.at(-1)).toEqual({ id: activeLink.id, reason: 'leave' });
    expect(hv.stats().leavesReceived).toBe(2);
  });

  it.each<[LinkCloseReason, PeerDownReason]>([
    ['timeout', 'timeout'],
    ['error', 'error'],
    ['leave', 'leave'],
    ['closed', 'closed'],
    ['local', 'closed'],
  ])('a failed active link (%s) is removed as %s and not kept in passive', (reason, down) => {
    const { ctx, hv } = setup();
    const link = neighbour(hv, 2);
    hv.onLinkClosed(link, reason);
    expect(ctx.downs).toEqual([{ id: link.id, reason: down }]);
    expect(hv.views()).toEqual({ active: [], passive: [] });
    expect(hv.stats().failuresDetected).toBe(1);
  });

  it('the close of a link that is not active changes nothing', () => {
    const { ctx, hv } = setup();
    neighbour(hv, 2);
    hv.onLinkClosed(new FakeLink(makeNode(2)), 'error');
    hv.onLinkClosed(new FakeLink(makeNode(3)), 'error');
    expect(hv.views().active).toHaveLength(1);
    expect(ctx.downs).toEqual([]);
  });
});

describe('repair', () => {
  it('after failures, asks a passive peer with high priority when the view is empty, then low', async () => {
    const { ctx, hv } = setup({ activeSize: 2 });
    const [p, q] = [passivePeer(hv, 3), passivePeer(hv, 4)];
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 5)];
    const made = ctx.answerWith([p, q]);
    hv.start([]);
    hv.onLinkClosed(a, 'error');
    hv.onLinkClosed(b, 'error');
    await settle();

    const first = made[0] as FakeLink;
    expect(first.sentOf('neighbor')).toEqual([{ highPriority: true }]);
    hv.onMessage(first, msg('neighborReply', { accepted: true }));
    expect(hv.isDataLink(first)).toBe(true);
    await settle();

    const second = made[1] as FakeLink;
    expect(second.id).not.toBe(first.id);
    expect(second.sentOf('neighbor')).toEqual([{ highPriority: false }]);
    hv.onMessage(second, msg('neighborReply', { accepted: true }));
    await settle();
    expect(hv.views().active).toHaveLength(2);
    expect(hv.views().passive).toEqual([]);
    expect(hv.stats()).toMatchObject({ healingAttempts: 2, healingBackoffMs: 0, neighborAcceptedByPeer: 2 });
  });

  it('below activeSize - 1, a refused low-priority request is followed by one high-priority one', async () => {
    const { ctx, hv } = setup({ activeSize: 4 });
    [3, 4, 5, 6].forEach((n) => passivePeer(hv, n));
    neighbour(hv, 2);
    const made: FakeLink[] = [];
    ctx.answerWith(
      [3, 4, 5, 6].map((n) => makeNode(n)),
      made,
    );
    const priorities = (): boolean[] => made.map((link) => link.sentOf('neighbor')[0]?.highPriority ?? false);
    hv.start([]);
    await settle();
    expect(priorities()).toEqual([false]);

    // At once, not a backoff later, and to another passive peer.
    hv.onMessage(made[0] as FakeLink, msg('neighborReply', { accepted: false }));
    await settle();
    expect(priorities()).toEqual([false, true]);
    expect(made[1]?.id).not.toBe(made[0]?.id);

    // Accepted: two neighbours, still below the floor of 3; the next request starts low again.
    hv.onMessage(made[1] as FakeLink, msg('neighborReply', { accepted: true }));
    await settle();
    expect(hv.views().active).toHaveLength(2);
    expect(priorities()).toEqual([false, true, false]);

    // At the floor (activeSize - 1), a refusal is not escalated: the paper's rule again.
    hv.onMessage(made[2] as FakeLink, msg('neighborReply', { accepted: true }));
    await settle();
    hv.onMessage(made[3] as FakeLink, msg('neighborReply', { accepted: false }));
    await runFor(ctx.clock, 1600);
    expect(hv.views().active).toHaveLength(3);
    expect(
      priorities()
        .slice(3)
        .every((high) => !high),
    ).toBe(true);
  });

  it('below the floor with nobody to ask after losing a neighbour: shuffles at once, then at most every tenth of a period', async () => {
    const { ctx, hv } = setup({ activeSize: 4 });
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 3)];
    hv.start([]);
    await settle();
    expect(a.sentOf('shuffle')).toEqual([]);

    hv.onLinkClosed(b, 'error');
    await settle();
    expect(a.sentOf('shuffle')).toHaveLength(1);
    // While nobody answers, more follow a backoff apart, never two within 100 ms (the period
    // is 1000 ms, and its own Shuffle is not due before 750 ms).
    const times: number[] = [];
    while (ctx.clock.now() < 700) {
      const before = a.sentOf('shuffle').length;
      ctx.clock.step();
      await settle();
      if (a.sentOf('shuffle').length > before) times.push(ctx.clock.now());
    }
    expect(times.length).toBeGreaterThanOrEqual(1);
    expect(times.every((time, i) => time - (times[i - 1] ?? 0) >= 100)).toBe(true);
  });

  it('a refusal closes the link, keeps the peer in passive, and the next try waits a backoff', async () => {
    const { ctx, hv } = setup();
    const p = passivePeer(hv, 3);
    const made = ctx.answerWith([p]);
    hv.start([]);
    await settle();
    const link = made[0] as FakeLink;
    hv.onMessage(link, msg('neighborReply', { accepted: false }));
    await settle();

    expect(link.closed).toBe(true);
    expect(ids(hv.views().passive)).toEqual([p.id]);
    expect(hv.stats()).toMatchObject({ neighborRefusedByPeer: 1, healingBackoffMs: 100 });
    expect(ctx.dials).toHaveLength(1);
    await runFor(ctx.clock, 100);
    expect(ctx.dials).toHaveLength(2);
  });

  it('an unanswered Neighbor times out: the link is closed and the attempt counts as failed', async () => {
    const { ctx, hv } = setup();
    const p = passivePeer(hv, 3);
    const made = ctx.answerWith([p]);
    hv.start([]);
    await runFor(ctx.clock, 499);
    expect(made[0]?.closed).toBe(false);
    await runFor(ctx.clock, 1);
    expect(made[0]?.closed).toBe(true);
    expect(hv.stats().healingBackoffMs).toBe(100);
  });

  it('dead passive peers: each sweep dials every one at once, sweeps back off doubling, dropped after passiveMaxFailures', async () => {
    const { ctx, hv } = setup();
    [3, 4].forEach((n) => passivePeer(hv, n));
    const a = neighbour(hv, 2);
    hv.start([]);
    hv.onLinkClosed(a, 'timeout');
    await runFor(ctx.clock, 60_000);

    // Three sweeps of two dials: the pair at once, the sweeps apart by the backoff (100, 200).
    expect(ctx.dials).toHaveLength(6);
    const sweepStarts = [0, 2, 4].map((i) => ctx.dialTimes[i] as number);
    [0, 2, 4].forEach((i) => expect(ctx.dialTimes[i + 1]).toBe(ctx.dialTimes[i]));
    sweepStarts.slice(1).forEach((time, k) => {
      const backoff = 100 * 2 ** k;
      const gap = time - (sweepStarts[k] as number);
      expect(gap).toBeGreaterThanOrEqual(backoff / 2);
      expect(gap).toBeLessThanOrEqual(backoff);
    });
    expect(hv.views().passive).toEqual([]);
    expect(hv.stats()).toMatchObject({ passiveDropped: 2, healingAttempts: 6 });
  });

  it('a lost neighbour restarts repair at once, whatever backoff earlier failures built up', async () => {
    const { ctx, hv } = setup();
    const dead = passivePeer(hv, 3);
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 4)];
    hv.start([]);
    hv.onLinkClosed(a, 'timeout');
    await runFor(ctx.clock, 250); // the dead peer failed twice: the healer waits 200 ms or more
    const dialsBefore = ctx.dials.length;
    const live = passivePeer(hv, 5);
    ctx.answerWith([live]);
    hv.onLinkClosed(b, 'error');
    await settle();
    expect(ctx.dials.length).toBeGreaterThan(dialsBefore);
    expect(ctx.dials.at(-1)?.port).toBe(live.port);
    expect(dead.port).not.toBe(live.port);
  });

  it('never a storm: failures while an attempt is in flight start no second dial', async () => {
    const { ctx, hv } = setup();
    const peers = [5, 6, 7].map((n) => passivePeer(hv, n));
    const links = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    ctx.answerWith(peers);
    hv.start([]);
    links.forEach((link) => hv.onLinkClosed(link, 'error'));
    await settle();
    expect(ctx.dials).toHaveLength(1);
  });

  it('with an empty active view, tries passive peers and seeds in turn, then only seeds once the passive peer is dropped', async () => {
    const { ctx, hv } = setup();
    const p = passivePeer(hv, 3);
    const seed = addressOfNode(makeNode(8));
    hv.start([seed]);
    await runFor(ctx.clock, 5000);
    const kinds = ctx.dials.map((address) => (address.port === p.port ? 'passive' : 'seed'));
    // Neither answering is no reason to wait between the two.
    expect(kinds.slice(0, 2)).toEqual(['passive', 'seed']);
    expect(ctx.dialTimes[1]).toBe(ctx.dialTimes[0]);
    expect(kinds.filter((kind) => kind === 'passive')).toHaveLength(3); // passiveMaxFailures
    const lastPassive = kinds.lastIndexOf('passive');
    expect(kinds.slice(lastPassive + 1).every((kind) => kind === 'seed')).toBe(true);
    expect(kinds.length - lastPassive).toBeGreaterThan(2);
    expect(hv.views().passive).toEqual([]);
  });
});

describe('Shuffle', () => {
  it('each period sends {origin: self, ka active + kp passive entries, ttl: arwl} to one neighbour', async () => {
    const { ctx, self, hv } = setup({ passiveSize: 4 });
    const passive = [5, 6, 7, 8].map((n) => passivePeer(hv, n));
    const links = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    hv.start([]);
    await runFor(ctx.clock, 1250);

    const shuffles = links.flatMap((link) => link.sentOf('shuffle').map((shuffle) => ({ link, shuffle })));
    expect(shuffles).toHaveLength(1);
    const { link, shuffle } = shuffles[0] as (typeof shuffles)[number];
    expect(shuffle.origin).toEqual(self);
    expect(shuffle.ttl).toBe(4);
    const sent = shuffle.entries.map((entry) => entry.node as NodeInfo);
    const activeSent = sent.filter((info) => links.some((l) => l.id === info.id));
    expect(activeSent).toHaveLength(2);
    expect(activeSent.map((info) => info.id)).not.toContain(link.id);
    expect(sent.filter((info) => passive.some((p) => p.id === info.id))).toHaveLength(3);
    expect(shuffle.entries.every((entry) => entry.age === 0)).toBe(true);
  });

  it('over maxEntriesPerMessage entries closes the link with LIMIT', () => {
    const { ctx, hv } = setup();
    const a = neighbour(hv, 2);
    const nine = Array.from({ length: 9 }, (_, i) => makeNode(20 + i));
    hv.onMessage(a, msg('shuffle', { origin: makeNode(9), entries: entriesOf(...nine), ttl: 1 }));
    expect(a.closeCode).toBe('LIMIT');
    expect(ctx.dials).toEqual([]);
    expect(hv.views().passive).toEqual([]);
    expect(ctx.dropCount('shuffle-limit')).toBe(1);

    const b = new FakeLink(makeNode(3));
    hv.onMessage(b, msg('shuffleReply', { entries: entriesOf(...nine) }));
    expect(b.closeCode).toBe('LIMIT');
  });

  it('is forwarded with ttl-1 to a neighbour other than the sender while the walk goes on', () => {
    const { ctx, hv } = setup();
    const [a, b, c] = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    const shuffle = { origin: makeNode(9), entries: entriesOf(makeNode(20)), ttl: 3 };
    hv.onMessage(a, msg('shuffle', shuffle));
    expect(a.sent).toEqual([]);
    expect([...b.sentOf('shuffle'), ...c.sentOf('shuffle')]).toEqual([{ ...shuffle, ttl: 2 }]);
    expect(hv.views().passive).toEqual([]);
    expect(ctx.dials).toEqual([]);
  });

  it('where the walk ends: replies over a short-lived link to origin, closes it, merges the entries', async () => {
    const { ctx, hv } = setup({ passiveSize: 4 });
    const known = [passivePeer(hv, 5), passivePeer(hv, 6)];
    const [a] = [neighbour(hv, 2), neighbour(hv, 3)];
    const origin = makeNode(9);
    const made = ctx.answerWith([origin]);
    const gossip = [makeNode(20), makeNode(21), makeNode(22)];
    hv.onMessage(a, msg('shuffle', { origin, entries: entriesOf(...gossip), ttl: 1 }));
    await settle();

    expect(ctx.dials).toEqual([addressOfNode(origin)]);
    const link = made[0] as FakeLink;
    const replied = link.sentOf('shuffleReply')[0]?.entries.map((entry) => entry.node as NodeInfo) ?? [];
    expect(ids(replied)).toEqual(ids(known));
    expect(link.closed).toBe(true);
    // Room for origin + 3 entries in a passive view of 4: the two it sent are evicted first.
    expect(ids(hv.views().passive)).toEqual(ids([origin, ...gossip]));
    expect(hv.stats()).toMatchObject({ shufflesReceived: 1, shuffleReplies: 1 });
  });

  it('where the walk ends: an empty Shuffle is still answered with kp entries', async () => {
    const { ctx, hv } = setup();
    const known = [5, 6, 7, 8].map((n) => passivePeer(hv, n));
    const [a] = [neighbour(hv, 2), neighbour(hv, 3)];
    const origin = makeNode(9);
    const made = ctx.answerWith([origin]);
    hv.onMessage(a, msg('shuffle', { origin, entries: [], ttl: 1 }));
    await settle();
    const replied = made[0]?.sentOf('shuffleReply')[0]?.entries ?? [];
    expect(replied).toHaveLength(SMALL.shufflePassive as number);
    expect(replied.every((entry) => known.some((info) => info.id === entry.node?.id))).toBe(true);
  });

  it('ends at a node with one neighbour; an origin it is linked to gets the reply on that link', async () => {
    const { ctx, hv } = setup();
    const originLink = neighbour(hv, 9);
    hv.onMessage(
      originLink,
      msg('shuffle', { origin: originLink.peer, entries: entriesOf(makeNode(20)), ttl: 4 }),
    );
    await settle();
    expect(ctx.dials).toEqual([]);
    expect(originLink.sentOf('shuffleReply')).toHaveLength(1);
    expect(originLink.closed).toBe(false);
  });

  it('an active link returned by connect() carries the reply and stays open', async () => {
    const { ctx, hv } = setup();
    const a = neighbour(hv, 2);
    const origin = new FakeLink(makeNode(9));
    // The origin becomes a neighbour while the dial is in flight; connect() hands back that link.
    ctx.dial = () => {
      hv.onMessage(origin, msg('neighbor', { highPriority: true }));
      return origin;
    };
    hv.onMessage(a, msg('shuffle', { origin: origin.peer, entries: [], ttl: 1 }));
    await settle();
    expect(hv.isDataLink(origin)).toBe(true);
    expect(origin.sentOf('shuffleReply')).toHaveLength(1);
    expect(origin.closed).toBe(false);
  });

  it('dials one origin address at most once per shuffle period, whatever id claims it', async () => {
    const { ctx, hv } = setup();
    const a = neighbour(hv, 2);
    const port = 4242;
    const [first, impostor] = [makeNode(9, port), makeNode(10, port)];
    const made = ctx.answerWith([first]);
    hv.onMessage(a, msg('shuffle', { origin: first, entries: [], ttl: 1 }));
    hv.onMessage(a, msg('shuffle', { origin: impostor, entries: [], ttl: 1 }));
    await settle();
    expect(ctx.dials).toHaveLength(1);
    expect(ctx.dropCount('shuffle-origin-rate')).toBe(1);
    expect(hv.stats().shuffleRepliesLimited).toBe(1);

    ctx.clock.advance(1000);
    hv.onMessage(a, msg('shuffle', { origin: first, entries: [], ttl: 1 }));
    await settle();
    expect(ctx.dials).toHaveLength(2);
    expect(made.every((link) => link.sentOf('shuffleReply').length === 1)).toBe(true);
  });

  it('sends no reply when another node answers at the origin address', async () => {
    const { ctx, hv } = setup();
    const a = neighbour(hv, 2);
    const other = new FakeLink(makeNode(11), 'dialer');
    ctx.dial = () => other;
    hv.onMessage(a, msg('shuffle', { origin: makeNode(9), entries: [], ttl: 1 }));
    await settle();
    expect(other.sent).toEqual([]);
    expect(other.closed).toBe(true);
    expect(ctx.dropCount('shuffle-origin-mismatch')).toBe(1);
  });

  it('refuses an invalid origin; merges only valid, listening, non-active, non-self entries', async () => {
    // ka + kp = 6: every entry below is looked at.
    const { ctx, self, hv } = setup({ shuffleActive: 3 });
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 3)];
    hv.onMessage(a, msg('shuffle', { origin: forged(9), entries: entriesOf(makeNode(20)), ttl: 1 }));
    expect(ctx.dropCount('shuffle-invalid-origin')).toBe(1);
    expect(hv.views().passive).toEqual([]);

    const good = makeNode(21);
    const entries = [...entriesOf(forged(20), self, b.peer, makeNode(22, 0), good), { node: null, age: 0 }];
    hv.onMessage(a, msg('shuffle', { origin: makeNode(9), entries, ttl: 1 }));
    await settle();
    expect(ids(hv.views().passive)).toEqual(ids([good, makeNode(9)]));
    expect(hv.stats().entriesRefused).toBe(5);
    expect(ctx.dropCount('entry-invalid')).toBe(2);
    expect(ctx.dropCount('entry-unreachable')).toBe(1);
  });

  it('the origin merges one ShuffleReply per Shuffle, evicting first the entries it sent', async () => {
    const { ctx, hv } = setup({ passiveSize: 4 });
    const passive = [5, 6, 7, 8].map((n) => passivePeer(hv, n));
    const links = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    hv.start([]);
    await runFor(ctx.clock, 1250);
    const shuffle = links.flatMap((link) => link.sentOf('shuffle'))[0];
    const sentIds = new Set(shuffle?.entries.map((entry) => entry.node?.id));
    const unsent = passive.filter((info) => !sentIds.has(info.id));
    expect(unsent).toHaveLength(1);

    const fresh = [makeNode(30), makeNode(31), makeNode(32)];
    const replier = new FakeLink(makeNode(12));
    hv.onLinkReady(replier);
    hv.onMessage(replier, msg('shuffleReply', { entries: entriesOf(...fresh) }));
    expect(ids(hv.views().passive)).toEqual(ids([...unsent, ...fresh]));
    expect(hv.stats().shuffleRepliesReceived).toBe(1);

    hv.onMessage(replier, msg('shuffleReply', { entries: entriesOf(makeNode(33)) }));
    expect(ctx.dropCount('shuffleReply-unsolicited')).toBe(1);
    expect(ids(hv.views().passive)).toEqual(ids([...unsent, ...fresh]));
  });
});

describe('Shuffle: what one message may change', () => {
  const many = (from: number, count: number): NodeInfo[] =>
    Array.from({ length: count }, (_, i) => makeNode(from + i));

  it('a Shuffle of maxEntriesPerMessage entries ending here merges ka + kp of them and its origin', async () => {
    const { ctx, hv } = setup({ passiveSize: 20 });
    const known = many(40, 10).map((info) => passivePeer(hv, Number(info.name.slice(5))));
    const [a] = [neighbour(hv, 2), neighbour(hv, 3)];
    const origin = makeNode(9);
    const made = ctx.answerWith([origin]);
    hv.onMessage(a, msg('shuffle', { origin, entries: entriesOf(...many(60, 8)), ttl: 1 }));
    await settle();
    const passive = ids(hv.views().passive);
    // ka + kp = 5 entries and the origin: 6 new, so 4 of the 10 known are gone, not all 10.
    expect(passive.filter((id) => !known.some((info) => info.id === id))).toHaveLength(6);
    expect(made[0]?.sentOf('shuffleReply')[0]?.entries).toHaveLength(5);
  });

  /** A node whose first Shuffle is out; `old` links were reported ready before it left. */
  async function awaitingReply(passiveSize = 4, old: FakeLink[] = []) {
    const { ctx, hv } = setup({ passiveSize });
    [5, 6, 7, 8].forEach((n) => passivePeer(hv, n));
    const links = [neighbour(hv, 2), neighbour(hv, 3), neighbour(hv, 4)];
    for (const link of old) hv.onLinkReady(link);
    hv.start([]);
    await runFor(ctx.clock, 1250);
    expect(links.flatMap((link) => link.sentOf('shuffle'))).toHaveLength(1);
    return { ctx, hv, links };
  }

  it('a ShuffleReply merges at most ka + kp entries, whatever it carries', async () => {
    const { hv } = await awaitingReply(20);
    const replier = new FakeLink(makeNode(12));
    hv.onLinkReady(replier);
    hv.onMessage(replier, msg('shuffleReply', { entries: entriesOf(...many(60, 8)) }));
    expect(hv.views().passive.filter((info) => Number(info.name.slice(5)) >= 60)).toHaveLength(5);
  });

  it('a ShuffleReply is taken only from a connection opened by the replier after the Shuffle, within a period', async () => {
    const old = new FakeLink(makeNode(30));
    const { ctx, hv, links } = await awaitingReply(4, [old]);
    const before = ids(hv.views().passive);
    const dialled = new FakeLink(makeNode(31), 'dialer');
    hv.onLinkReady(dialled);
    hv.onMessage(dialled, msg('shuffleReply', { entries: entriesOf(makeNode(40)) }));
    hv.onMessage(old, msg('shuffleReply', { entries: entriesOf(makeNode(41)) }));
    expect(ctx.dropCount('shuffleReply-not-walk-end')).toBe(2);
    expect(ids(hv.views().passive)).toEqual(before);

    // Still awaited: the walk's end may answer; but not once a period has passed (the node lost
    // its neighbours, so no later Shuffle replaced this one).
    for (const link of links) hv.onLinkClosed(link, 'error');
    await runFor(ctx.clock, 1001);
    const late = new FakeLink(makeNode(32));
    hv.onLinkReady(late);
    hv.onMessage(late, msg('shuffleReply', { entries: entriesOf(makeNode(42)) }));
    expect(ctx.dropCount('shuffleReply-unsolicited')).toBe(1);
  });
});

describe('stop', () => {
  it('sends Leave to every active peer, cancels every timer, and turns later callbacks into no-ops', async () => {
    const { ctx, hv } = setup();
    passivePeer(hv, 5);
    const [a, b] = [neighbour(hv, 2), neighbour(hv, 3)];
    ctx.answerWith([makeNode(5)]);
    hv.start([]);
    await settle();
    hv.stop();
    hv.stop();

    expect(a.kinds()).toEqual(['leave']);
    expect(b.kinds()).toEqual(['leave']);
    expect(hv.dataPeers()).toEqual([]);
    expect(ctx.clock.pendingCount).toBe(0);

    const events = [ctx.ups.length, ctx.downs.length, ctx.dials.length];
    const late = new FakeLink(makeNode(6));
    hv.onLinkReady(late);
    hv.onMessage(late, msg('join', {}));
    hv.onMessage(late, msg('neighbor', { highPriority: true }));
    hv.onMessage(a, msg('shuffle', { origin: makeNode(9), entries: [], ttl: 1 }));
    hv.onLinkClosed(a, 'error');
    await runFor(ctx.clock, 60_000);
    expect(late.sent).toEqual([]);
    expect(hv.isDataLink(late)).toBe(false);
    expect([ctx.ups.length, ctx.downs.length, ctx.dials.length]).toEqual(events);
  });
});

describe('invariants under random events', () => {
  it('views stay bounded, self-free, duplicate-free and disjoint; peer-up/down stay balanced', async () => {
    const random = seededRandom(2024);
    const { ctx, self, hv } = setup({ activeSize: 4, passiveSize: 5 });
    const pool = Array.from({ length: 24 }, (_, i) => (i % 7 === 6 ? makeNode(i + 2, 0) : makeNode(i + 2)));
    const dialled: FakeLink[] = [];
    ctx.dial = (address) => {
      const node = pool.find((info) => info.port === address.port && info.port !== 0);
      if (!node || random.float() < 0.3) return undefined;
      const link = new FakeLink(node, 'dialer');
      dialled.push(link);
      return link;
    };
    const any = (): NodeInfo => {
      const roll = random.int(10);
      if (roll === 0) return self;
      if (roll === 1) return forged(random.int(20) + 2);
      return pool[random.int(pool.length)] as NodeInfo;
    };
    const activeLink = (): FakeLink | undefined => hv.dataPeers()[random.int(4)] as FakeLink | undefined;
    const actions: Array<() => void | Promise<void>> = [
      () => hv.onMessage(new FakeLink(any()), msg('join', {})),
      () => hv.onMessage(new FakeLink(any()), msg('neighbor', { highPriority: random.float() < 0.5 })),
      () => {
        const link = activeLink();
        if (link) hv.onMessage(link, msg('forwardJoin', { node: any(), ttl: random.int(6) }));
      },
      () => {
        const link = activeLink();
        if (link) hv.onMessage(link, msg('disconnect', { alive: random.float() < 0.5 }));
      },
      () => hv.onMessage(new FakeLink(any()), msg('leave', {})),
      () => {
        const link = activeLink();
        if (link) hv.onLinkClosed(link, 'error');
      },
      () => {
        const link = activeLink();
        const entries = entriesOf(...Array.from({ length: random.int(8) }, any));
        if (link) hv.onMessage(link, msg('shuffle', { origin: any(), entries, ttl: random.int(5) }));
      },
      () =>
        hv.onMessage(new FakeLink(any()), msg('shuffleReply', { entries: entriesOf(any(), any(), any()) })),
      () => {
        const link = dialled[random.int(dialled.length)];
        if (link) hv.onMessage(link, msg('neighborReply', { accepted: random.float() < 0.6 }));
      },
      () => runFor(ctx.clock, random.int(1500)),
    ];
    hv.start([addressOfNode(pool[0] as NodeInfo)]);
    for (let step = 0; step < 1500; step++) {
      await (actions[random.int(actions.length)] as () => void | Promise<void>)();
      await settle();
      expect(viewProblems(hv.views(), self.id, ctx.config), `step ${step}`).toEqual([]);
      const balance = new Map<string, number>();
      for (const link of ctx.ups) balance.set(link.id, (balance.get(link.id) ?? 0) + 1);
      for (const down of ctx.downs) balance.set(down.id, (balance.get(down.id) ?? 0) - 1);
      const up = [...balance].filter(([, n]) => n !== 0);
      expect(
        up.every(([, n]) => n === 1),
        `step ${step}`,
      ).toBe(true);
      expect(up.map(([id]) => id).sort(), `step ${step}`).toEqual(ids(hv.views().active));
    }
    expect(hv.stats().evictions).toBeGreaterThan(0);
  });
});

describe('simulation: 30 nodes over the fake mesh', () => {
  const CONFIG: Partial<NodeConfig> = { passiveSize: 12 };

  async function formMesh(seed: number): Promise<{ mesh: FakeMesh; nodes: MeshNode[] }> {
    const mesh = new FakeMesh({ factory: createHyParView, config: CONFIG, seed });
    const nodes = Array.from({ length: 30 }, () => mesh.addNode());
    const contact = nodes[0] as MeshNode;
    contact.strategy.start([]);
    for (const node of nodes.slice(1)) {
      node.strategy.start([contact.address]);
      await mesh.run(200);
    }
    await mesh.run(6 * mesh.config.shuffleIntervalMs);
    return { mesh, nodes };
  }

  it('joined through one seed: connected, symmetric, within bounds, passive views filled', async () => {
    const { mesh, nodes } = await formMesh(1);
    expect(mesh.problems()).toEqual([]);
    expect(await mesh.runUntil(() => mesh.asymmetricEdges().length === 0, 5000)).toBe(true);
    expect(mesh.isConnected()).toBe(true);
    const actives = nodes.map((node) => node.strategy.views().active.length);
    const passives = nodes.map((node) => node.strategy.views().passive.length);
    expect(Math.min(...actives)).toBeGreaterThanOrEqual(2);
    expect(actives.filter((n) => n === mesh.config.activeSize).length).toBeGreaterThan(20);
    expect(passives.filter((n) => n === mesh.config.passiveSize).length).toBeGreaterThan(25);
    expect(mesh.sentByKind.get('shuffleReply')).toBeGreaterThan(30);
  });

  it('heals after a fifth of the nodes crash and a few leave gracefully', async () => {
    const { mesh, nodes } = await formMesh(2);
    const crashed = nodes.slice(20, 26);
    crashed.forEach((node) => mesh.crash(node));
    const leaving = nodes.slice(26);
    leaving.forEach((node) => mesh.leave(node));
    await mesh.run(10);
    const gone = new Set([...crashed, ...leaving].map((node) => node.info.id));
    const leftIds = new Set(leaving.map((node) => node.info.id));
    for (const node of mesh.alive()) {
      const views = node.strategy.views();
      expect(views.active.filter((info) => gone.has(info.id))).toEqual([]);
      const wasNeighbour = node.downs.filter((down) => down.reason === 'leave').map((down) => down.id);
      expect(views.passive.filter((info) => wasNeighbour.includes(info.id) && leftIds.has(info.id))).toEqual(
        [],
      );
    }

    await mesh.run(60_000);
    expect(mesh.problems()).toEqual([]);
    expect(await mesh.runUntil(() => mesh.asymmetricEdges().length === 0, 5000)).toBe(true);
    expect(mesh.isConnected()).toBe(true);
    const actives = mesh.alive().map((node) => node.strategy.views().active.length);
    expect(actives.filter((n) => n === mesh.config.activeSize).length).toBeGreaterThan(15);
  });

  it('a node that does not listen joins, and never appears in a passive view', async () => {
    const mesh = new FakeMesh({ factory: createHyParView, config: CONFIG, seed: 3 });
    const nodes = Array.from({ length: 12 }, () => mesh.addNode());
    const silent = mesh.addNode(99, 0);
    (nodes[0] as MeshNode).strategy.start([]);
    for (const node of [...nodes.slice(1), silent]) {
      node.strategy.start([(nodes[0] as MeshNode).address]);
      await mesh.run(200);
    }
    await mesh.run(60_000);
    expect(mesh.problems()).toEqual([]);
    expect(silent.strategy.views().active.length).toBeGreaterThanOrEqual(1);
    expect(mesh.isConnected()).toBe(true);
  });
});
