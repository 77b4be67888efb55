/**
 * Tier 2 of the tests (one component's rules, no sockets): HyParView (docs/protocol.md section 4)
 * rule by rule, driven as a synchronous state machine (test/helpers/hyparview-harness.ts over
 * the StrategyDriver: a SimClock, a seeded Random, the invariants checked after every input and
 * every timer), then 30 real nodes over the memory transport under the simulated clock.
 *
 * Unit tests that do not call start() see each message rule alone: before start there is no
 * shuffle timer and no repair loop. The settings below are small and pairwise distinct
 * (arwl 4, prwl 2, ka 2, kp 3, limit 8, ...) so that a swapped setting fails a test.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import type { LinkCloseReason, PeerDownReason } from '../membership/strategy.js';
import type { Node } from '../node.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import { seededRandom } from '../utils/random.js';
import { addressOfNode, makeNode, viewProblems } from './helpers/membership-inputs.js';
import { HyParViewHarness } from './helpers/hyparview-harness.js';
import { addressOf, SimNodes, type SimNode } from './helpers/sim-nodes.js';

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

function setup(overrides: Partial<NodeConfig> = {}, seed = 7): HyParViewHarness {
  return new HyParViewHarness({ ...SMALL, ...overrides }, seed);
}

const ids = (infos: readonly NodeInfo[]): string[] => infos.map((info) => info.id).sort();
const entriesOf = (...nodes: NodeInfo[]): PeerEntry[] => nodes.map((node) => ({ node, age: 0 }));

describe('start: joining through the seeds', () => {
  it('tries seeds in order, skips a dead one with a warning, joins the first that answers', () => {
    const h = setup();
    const [dead, live, unused] = [makeNode(2), makeNode(3), makeNode(4)];
    const made = h.answerWith([live, unused]);
    h.start([addressOfNode(dead), addressOfNode(live), addressOfNode(unused)]);
    h.pump();

    expect(h.dials).toEqual([addressOfNode(dead), addressOfNode(live)]);
    expect(made).toEqual([live]);
    expect(h.kinds(live)).toEqual(['join']);
    expect(ids(h.hv.views().active)).toEqual([live.id]);
    expect(h.ups()).toEqual([live.id]);
    expect(h.hv.isDataPeer(live.id)).toBe(true);
    const warning = h.lines.find((line) => line.level === 40);
    expect(warning?.seed).toBe(`127.0.0.1:${dead.port}`);
  });

  it('never gives up on an empty view: passes over all seeds with doubling, capped, jittered backoff', () => {
    const h = setup();
    const seeds = [makeNode(2), makeNode(3)].map(addressOfNode);
    h.start(seeds);
    h.run(30_000);

    // Every pass dials both seeds in order at the same instant.
    const passes = h.dialTimes.filter((_, i) => i % 2 === 0);
    expect(h.dials.every((address, i) => address === seeds[i % 2])).toBe(true);
    expect(passes.length).toBeGreaterThan(15);
    passes.slice(1).forEach((time, k) => {
      const gap = time - (passes[k] as number);
      const backoff = Math.min(100 * 2 ** k, 1600);
      expect(gap).toBeGreaterThanOrEqual(backoff / 2);
      expect(gap).toBeLessThanOrEqual(backoff);
    });

    // Once a seed answers the node joins, and the backoff is reset.
    const made = h.answerWith([makeNode(3)]);
    h.run(1600);
    expect(made).toHaveLength(1);
    expect(h.hv.views().active).toHaveLength(1);
    expect(h.hv.stats().healingBackoffMs).toBe(0);
  });

  it('shuffles periodically, jittered by +-25% around shuffleIntervalMs', () => {
    const h = setup({ activeSize: 1 });
    const peer = h.neighbour(2);
    h.start([]);
    const times: number[] = [];
    while (h.d.clock.now() < 20_000) {
      const before = h.kinds(peer).length;
      h.stepTimer();
      if (h.kinds(peer).length > before) times.push(h.d.clock.now());
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
    const h = setup();
    const peer = h.link(makeNode(2));
    expect(h.hv.isDataPeer(peer.id)).toBe(false);
    expect(h.hv.dataPeers()).toEqual([]);
    h.message(peer, 'join', {});
    expect(h.hv.isDataPeer(peer.id)).toBe(true);
    expect(h.hv.dataPeers()).toEqual([peer.id]);
    // A peer with no link of its own is no data peer.
    expect(h.hv.isDataPeer(makeNode(3).id)).toBe(false);
  });

  it('a link that replaces an active peer’s takes its place without peer-down/peer-up churn', () => {
    const h = setup();
    const peer = h.neighbour(2);
    h.replace(peer);
    expect(h.hv.isDataPeer(peer.id)).toBe(true);
    expect(h.hv.dataPeers()).toEqual([peer.id]);
    // The replaced link closes without onLinkDown (strategy.ts): nothing to report.
    expect(h.downs()).toEqual([]);
    expect(h.ups()).toHaveLength(1);
    // The new link carries on: its close is the active peer's failure.
    h.linkDown(peer, 'closed');
    expect(h.downs()).toEqual([{ id: peer.id, reason: 'closed' }]);
  });
});

describe('Join', () => {
  it('adds the joiner, reports peer-up, and sends ForwardJoin{joiner, arwl} to every other neighbour', () => {
    const h = setup();
    const [a, b] = [h.neighbour(2), h.neighbour(3)];
    const joiner = h.link(makeNode(4));
    h.message(joiner, 'join', {});

    expect(h.hv.isDataPeer(joiner.id)).toBe(true);
    expect(h.ups().at(-1)).toBe(joiner.id);
    for (const peer of [a, b]) expect(h.sent(peer, 'forwardJoin')).toEqual([{ node: joiner, ttl: 4 }]);
    expect(h.kinds(joiner)).toEqual([]);
    expect(h.hv.stats().joins).toBe(1);
  });

  it('a second Join on the same link is a duplicate; a Join on a replacing link is a join', () => {
    const h = setup();
    const a = h.neighbour(2);
    const joiner = h.link(makeNode(4));
    h.message(joiner, 'join', {});
    h.message(joiner, 'join', {});
    expect(h.sent(a, 'forwardJoin')).toHaveLength(1);
    expect(h.drops('join-duplicate')).toBe(1);

    // The joiner restarted: its new connection replaced the old one, then carries a Join.
    h.replace(joiner);
    h.message(joiner, 'join', {});
    expect(h.sent(a, 'forwardJoin')).toHaveLength(2);
    expect(h.ups()).toHaveLength(2);
  });

  it('evicts a random neighbour with Disconnect{alive:true} when full; the evicted goes to passive', () => {
    const h = setup();
    const old = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    const joiner = h.link(makeNode(5));
    h.message(joiner, 'join', {});

    const evicted = old.filter((peer) => h.isClosed(peer));
    expect(evicted).toHaveLength(1);
    const victim = evicted[0] as NodeInfo;
    expect(h.sent(victim, 'disconnect')).toEqual([{ alive: true }]);
    expect(h.downs()).toEqual([{ id: victim.id, reason: 'evicted' }]);
    expect(ids(h.hv.views().passive)).toEqual([victim.id]);
    expect(h.hv.views().active).toHaveLength(3);
    expect(h.hv.isDataPeer(joiner.id)).toBe(true);
    expect(h.hv.stats().evictions).toBe(1);
  });

  // A joiner whose NodeInfo is invalid (its id not the hash of its key) never links: the handshake
  // refuses its Hello with AUTH before any strategy hears of it (link.test.ts, "a bad Hello").

  it('admits a joiner that does not listen (port 0) but sends no ForwardJoin for it', () => {
    const h = setup();
    const a = h.neighbour(2);
    const joiner = h.link(makeNode(5, 0));
    h.message(joiner, 'join', {});
    expect(h.hv.isDataPeer(joiner.id)).toBe(true);
    expect(h.kinds(a)).toEqual([]);
  });
});

describe('ForwardJoin', () => {
  it('at ttl 0: dials the node, sends Neighbor{high_priority}, and makes it active when accepted', () => {
    const h = setup();
    const [a] = [h.neighbour(2), h.neighbour(3)];
    const joiner = makeNode(9);
    const made = h.answerWith([joiner]);
    h.message(a, 'forwardJoin', { node: joiner, ttl: 0 });
    h.pump();

    expect(h.dials).toEqual([addressOfNode(joiner)]);
    expect(made).toEqual([joiner]);
    expect(h.sent(joiner, 'neighbor')).toEqual([{ highPriority: true }]);
    expect(h.hv.isDataPeer(joiner.id)).toBe(false);
    h.message(joiner, 'neighborReply', { accepted: true });
    expect(h.hv.isDataPeer(joiner.id)).toBe(true);
    expect(h.ups().at(-1)).toBe(joiner.id);
  });

  it('with at most one active neighbour: adds the node whatever the ttl', () => {
    const h = setup();
    const a = h.neighbour(2);
    h.answerWith([makeNode(9)]);
    h.message(a, 'forwardJoin', { node: makeNode(9), ttl: 3 });
    h.pump();
    expect(h.sent(makeNode(9), 'neighbor')).toEqual([{ highPriority: true }]);
    expect(h.kinds(a)).toEqual([]);
  });

  it('at ttl == prwl: adds to passive and forwards ttl-1 to another neighbour, not the sender', () => {
    const h = setup();
    const [a, b, c] = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    const joiner = makeNode(9);
    h.message(a, 'forwardJoin', { node: joiner, ttl: 2 });

    expect(ids(h.hv.views().passive)).toEqual([joiner.id]);
    expect(h.kinds(a)).toEqual([]);
    expect([...h.sent(b, 'forwardJoin'), ...h.sent(c, 'forwardJoin')]).toEqual([{ node: joiner, ttl: 1 }]);
    expect(h.dials).toEqual([]);
  });

  it('at another ttl: only forwards (a ttl above arwl is capped)', () => {
    const h = setup();
    const [a, b] = [h.neighbour(2), h.neighbour(3)];
    h.message(a, 'forwardJoin', { node: makeNode(9), ttl: 1000 });
    expect(h.hv.views().passive).toEqual([]);
    expect(h.sent(b, 'forwardJoin')).toEqual([{ node: makeNode(9), ttl: 3 }]);
  });

  // An invalid NodeInfo in a ForwardJoin is dropped where the message enters the node, as
  // forwardJoin-invalid-node (membership-rules.test.ts): no strategy sees it.
  it('never adds itself, and ignores non-neighbours', () => {
    const h = setup();
    const [a, b] = [h.neighbour(2), h.neighbour(3)];
    h.answerWith([h.self]);
    h.message(a, 'forwardJoin', { node: h.self, ttl: 0 });
    const stranger = h.link(makeNode(5));
    h.message(stranger, 'forwardJoin', { node: makeNode(9), ttl: 0 });
    h.pump();

    expect(h.dials).toEqual([]);
    expect(h.kinds(b)).toEqual([]);
    expect(h.hv.views().passive).toEqual([]);
    expect(h.drops('forwardJoin-not-neighbor')).toBe(1);
    // Only the invalid NodeInfo counted here, and the message checks refuse that one now.
    expect(h.hv.stats().entriesRefused).toBe(0);
  });
});

describe('Neighbor', () => {
  it('high priority is accepted even when full (evicting); the reply precedes peer-up', () => {
    const h = setup();
    [2, 3, 4].forEach((n) => h.neighbour(n));
    const peer = h.link(makeNode(5));
    h.message(peer, 'neighbor', { highPriority: true });
    expect(h.sent(peer, 'neighborReply')).toEqual([{ accepted: true }]);
    const reply = h.indexOf((o) => o.type === 'send' && o.to === peer.id);
    const up = h.indexOf((o) => o.type === 'up' && o.peer.id === peer.id);
    expect(reply).toBeGreaterThanOrEqual(0);
    expect(reply).toBeLessThan(up);
    expect(h.hv.isDataPeer(peer.id)).toBe(true);
    expect(h.hv.views().active).toHaveLength(3);
    expect(h.hv.stats().evictions).toBe(1);
  });

  it('low priority is accepted only with room; a refused requester goes to passive, link left open', () => {
    const h = setup();
    const first = h.link(makeNode(2));
    h.message(first, 'neighbor', { highPriority: false });
    expect(h.sent(first, 'neighborReply')).toEqual([{ accepted: true }]);
    [3, 4].forEach((n) => h.neighbour(n));

    const late = h.link(makeNode(5));
    h.message(late, 'neighbor', { highPriority: false });
    expect(h.sent(late, 'neighborReply')).toEqual([{ accepted: false }]);
    expect(h.isClosed(late)).toBe(false);
    expect(h.hv.isDataPeer(late.id)).toBe(false);
    expect(ids(h.hv.views().passive)).toEqual([late.id]);
    expect(h.ups()).toHaveLength(3);
    expect(h.hv.stats()).toMatchObject({ neighborRequests: 4, neighborAccepted: 3, neighborRefused: 1 });
  });

  it('a NeighborReply nobody asked for is dropped', () => {
    const h = setup();
    const peer = h.link(makeNode(2));
    h.message(peer, 'neighborReply', { accepted: true });
    expect(h.hv.isDataPeer(peer.id)).toBe(false);
    expect(h.drops('neighborReply-unsolicited')).toBe(1);
  });
});

describe('Disconnect, Leave and failures', () => {
  it('Disconnect{alive:true}: out of active, into passive, link closed', () => {
    const h = setup();
    const peer = h.neighbour(2);
    h.message(peer, 'disconnect', { alive: true });
    expect(h.hv.isDataPeer(peer.id)).toBe(false);
    expect(h.isClosed(peer)).toBe(true);
    expect(h.downs()).toEqual([{ id: peer.id, reason: 'disconnect' }]);
    expect(ids(h.hv.views().passive)).toEqual([peer.id]);
  });

  it('Disconnect{alive:false} forgets the peer; a port-0 peer never enters the passive view', () => {
    const h = setup();
    h.message(h.neighbour(2), 'disconnect', { alive: false });
    const silent = h.link(makeNode(3, 0));
    h.message(silent, 'neighbor', { highPriority: true });
    h.message(silent, 'disconnect', { alive: true });
    expect(h.hv.views()).toEqual({ active: [], passive: [] });
  });

  it('Leave removes the peer from both views at once and closes the link', () => {
    const h = setup();
    const activePeer = h.neighbour(2);
    const known = h.passivePeer(3);
    h.message(activePeer, 'leave', {});
    const shortLived = h.link(known);
    h.message(shortLived, 'leave', {});

    expect(h.hv.views()).toEqual({ active: [], passive: [] });
    expect(h.isClosed(activePeer) && h.isClosed(shortLived)).toBe(true);
    expect(h.downs().at(-1)).toEqual({ id: activePeer.id, reason: 'leave' });
    expect(h.hv.stats().leavesReceived).toBe(2);
  });

  it.each<[LinkCloseReason, PeerDownReason]>([
    ['timeout', 'timeout'],
    ['error', 'error'],
    ['leave', 'leave'],
    ['closed', 'closed'],
    ['local', 'closed'],
  ])('a failed active link (%s) is removed as %s and not kept in passive', (reason, down) => {
    const h = setup();
    const peer = h.neighbour(2);
    h.linkDown(peer, reason);
    expect(h.downs()).toEqual([{ id: peer.id, reason: down }]);
    expect(h.hv.views()).toEqual({ active: [], passive: [] });
    expect(h.hv.stats().failuresDetected).toBe(1);
  });

  it('the close of a link that is not active changes nothing', () => {
    const h = setup();
    h.neighbour(2);
    h.link(makeNode(3));
    h.linkDown(makeNode(3), 'error');
    h.linkDown(makeNode(4), 'error');
    expect(h.hv.views().active).toHaveLength(1);
    expect(h.downs()).toEqual([]);
  });
});

describe('repair', () => {
  it('after failures, asks a passive peer with high priority when the view is empty, then low', () => {
    const h = setup({ activeSize: 2 });
    const [p, q] = [h.passivePeer(3), h.passivePeer(4)];
    const [a, b] = [h.neighbour(2), h.neighbour(5)];
    const made = h.answerWith([p, q]);
    h.start([]);
    h.linkDown(a, 'error');
    h.linkDown(b, 'error');
    h.pump();

    const first = made[0] as NodeInfo;
    expect(h.sent(first, 'neighbor')).toEqual([{ highPriority: true }]);
    h.message(first, 'neighborReply', { accepted: true });
    expect(h.hv.isDataPeer(first.id)).toBe(true);
    h.pump();

    const second = made[1] as NodeInfo;
    expect(second.id).not.toBe(first.id);
    expect(h.sent(second, 'neighbor')).toEqual([{ highPriority: false }]);
    h.message(second, 'neighborReply', { accepted: true });
    h.pump();
    expect(h.hv.views().active).toHaveLength(2);
    expect(h.hv.views().passive).toEqual([]);
    expect(h.hv.stats()).toMatchObject({
      healingAttempts: 2,
      healingBackoffMs: 0,
      neighborAcceptedByPeer: 2,
    });
  });

  it('below activeSize - 1, a refused low-priority request is followed by one high-priority one', () => {
    const h = setup({ activeSize: 4 });
    [3, 4, 5, 6].forEach((n) => h.passivePeer(n));
    h.neighbour(2);
    const made = h.answerWith([3, 4, 5, 6].map((n) => makeNode(n)));
    // The priority of the request each answered dial carried, in order.
    const priorities = (): boolean[] =>
      h.d.outputs.flatMap((o) =>
        o.type === 'send' && 'neighbor' in o.envelope ? [o.envelope.neighbor?.highPriority ?? false] : [],
      );
    h.start([]);
    h.pump();
    expect(priorities()).toEqual([false]);

    // At once, not a backoff later, and to another passive peer.
    h.message(made[0] as NodeInfo, 'neighborReply', { accepted: false });
    h.pump();
    expect(priorities()).toEqual([false, true]);
    expect(made[1]?.id).not.toBe(made[0]?.id);

    // Accepted: two neighbours, still below the floor of 3; the next request starts low again.
    h.message(made[1] as NodeInfo, 'neighborReply', { accepted: true });
    h.pump();
    expect(h.hv.views().active).toHaveLength(2);
    expect(priorities()).toEqual([false, true, false]);

    // At the floor (activeSize - 1), a refusal is not escalated: the paper's rule again.
    h.message(made[2] as NodeInfo, 'neighborReply', { accepted: true });
    h.pump();
    h.message(made[3] as NodeInfo, 'neighborReply', { accepted: false });
    h.run(1600);
    expect(h.hv.views().active).toHaveLength(3);
    expect(
      priorities()
        .slice(3)
        .every((high) => !high),
    ).toBe(true);
  });

  it('below the floor with nobody to ask after losing a neighbour: shuffles at once, then at most every tenth of a period', () => {
    const h = setup({ activeSize: 4 });
    const [a, b] = [h.neighbour(2), h.neighbour(3)];
    h.start([]);
    h.pump();
    expect(h.sent(a, 'shuffle')).toEqual([]);

    h.linkDown(b, 'error');
    h.pump();
    expect(h.sent(a, 'shuffle')).toHaveLength(1);
    // While nobody answers, more follow a backoff apart, never two within 100 ms (the period
    // is 1000 ms, and its own Shuffle is not due before 750 ms).
    const times: number[] = [];
    while (h.d.clock.now() < 700) {
      const before = h.sent(a, 'shuffle').length;
      h.stepTimer();
      if (h.sent(a, 'shuffle').length > before) times.push(h.d.clock.now());
    }
    expect(times.length).toBeGreaterThanOrEqual(1);
    expect(times.every((time, i) => time - (times[i - 1] ?? 0) >= 100)).toBe(true);
  });

  it('a refusal closes the link, keeps the peer in passive, and the next try waits a backoff', () => {
    const h = setup();
    const p = h.passivePeer(3);
    h.answerWith([p]);
    h.start([]);
    h.pump();
    h.message(p, 'neighborReply', { accepted: false });
    h.pump();

    expect(h.isClosed(p)).toBe(true);
    expect(ids(h.hv.views().passive)).toEqual([p.id]);
    expect(h.hv.stats()).toMatchObject({ neighborRefusedByPeer: 1, healingBackoffMs: 100 });
    expect(h.dials).toHaveLength(1);
    h.run(100);
    expect(h.dials).toHaveLength(2);
  });

  it('an unanswered Neighbor times out: the link is closed and the attempt counts as failed', () => {
    const h = setup();
    const p = h.passivePeer(3);
    h.answerWith([p]);
    h.start([]);
    h.run(499);
    expect(h.sent(p, 'neighbor')).toHaveLength(1);
    expect(h.isClosed(p)).toBe(false);
    h.run(1);
    expect(h.isClosed(p)).toBe(true);
    expect(h.hv.stats().healingBackoffMs).toBe(100);
  });

  it('dead passive peers: each sweep dials every one at once, sweeps back off doubling, dropped after passiveMaxFailures', () => {
    const h = setup();
    [3, 4].forEach((n) => h.passivePeer(n));
    const a = h.neighbour(2);
    h.start([]);
    h.linkDown(a, 'timeout');
    h.run(60_000);

    // Three sweeps of two dials: the pair at once, the sweeps apart by the backoff (100, 200).
    expect(h.dials).toHaveLength(6);
    const sweepStarts = [0, 2, 4].map((i) => h.dialTimes[i] as number);
    [0, 2, 4].forEach((i) => expect(h.dialTimes[i + 1]).toBe(h.dialTimes[i]));
    sweepStarts.slice(1).forEach((time, k) => {
      const backoff = 100 * 2 ** k;
      const gap = time - (sweepStarts[k] as number);
      expect(gap).toBeGreaterThanOrEqual(backoff / 2);
      expect(gap).toBeLessThanOrEqual(backoff);
    });
    expect(h.hv.views().passive).toEqual([]);
    expect(h.hv.stats()).toMatchObject({ passiveDropped: 2, healingAttempts: 6 });
  });

  it('a lost neighbour restarts repair at once, whatever backoff earlier failures built up', () => {
    const h = setup();
    const dead = h.passivePeer(3);
    const [a, b] = [h.neighbour(2), h.neighbour(4)];
    h.start([]);
    h.linkDown(a, 'timeout');
    h.run(250); // the dead peer failed twice: the repair loop waits 200 ms or more
    const dialsBefore = h.dials.length;
    const live = h.passivePeer(5);
    h.answerWith([live]);
    h.linkDown(b, 'error');
    h.pump();
    expect(h.dials.length).toBeGreaterThan(dialsBefore);
    expect(h.dials.at(-1)?.port).toBe(live.port);
    expect(dead.port).not.toBe(live.port);
  });

  it('never a storm: failures while an attempt is in flight start no second dial', () => {
    const h = setup();
    const peers = [5, 6, 7].map((n) => h.passivePeer(n));
    const links = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    h.answerWith(peers);
    h.start([]);
    links.forEach((peer) => h.linkDown(peer, 'error'));
    h.pump();
    expect(h.dials).toHaveLength(1);
  });

  it('with an empty active view, tries passive peers and seeds in turn, then only seeds once the passive peer is dropped', () => {
    const h = setup();
    const p = h.passivePeer(3);
    const seed = addressOfNode(makeNode(8));
    h.start([seed]);
    h.run(5000);
    const kinds = h.dials.map((address) => (address.port === p.port ? 'passive' : 'seed'));
    // Neither answering is no reason to wait between the two.
    expect(kinds.slice(0, 2)).toEqual(['passive', 'seed']);
    expect(h.dialTimes[1]).toBe(h.dialTimes[0]);
    expect(kinds.filter((kind) => kind === 'passive')).toHaveLength(3); // passiveMaxFailures
    const lastPassive = kinds.lastIndexOf('passive');
    expect(kinds.slice(lastPassive + 1).every((kind) => kind === 'seed')).toBe(true);
    expect(kinds.length - lastPassive).toBeGreaterThan(2);
    expect(h.hv.views().passive).toEqual([]);
  });
});

describe('dials and their purposes', () => {
  it('/connect: dials the contact, sends Join, makes it a neighbour, and keeps it as a seed', () => {
    const h = setup();
    const contact = makeNode(2);
    h.answerWith([contact]);
    h.start([]);
    h.hv.join(addressOfNode(contact));
    h.pump();
    expect(h.dials).toEqual([addressOfNode(contact)]);
    expect(h.kinds(contact)).toEqual(['join']);
    expect(h.hv.isDataPeer(contact.id)).toBe(true);
    expect(h.hv.stats().joinsSent).toBe(1);

    // Alone again, the node joins through it as through any seed.
    h.linkDown(contact, 'error');
    h.pump();
    expect(h.dials).toEqual([addressOfNode(contact), addressOfNode(contact)]);
    expect(h.hv.isDataPeer(contact.id)).toBe(true);
  });

  it('a passive address answered by another node: the entry is dropped and that link closed', () => {
    const h = setup();
    const stale = h.passivePeer(3);
    const other = makeNode(11);
    h.answer = () => other;
    h.start([]);
    h.pump();
    expect(h.dials).toEqual([addressOfNode(stale)]);
    expect(h.hv.views().passive).toEqual([]);
    expect(h.isClosed(other)).toBe(true);
    expect(h.hv.stats().passiveDropped).toBe(1);
  });

  it('a ForwardJoin joiner answered by another node: counted, and that link closed', () => {
    const h = setup();
    const [a] = [h.neighbour(2), h.neighbour(3)];
    const other = makeNode(11);
    h.answer = () => other;
    h.message(a, 'forwardJoin', { node: makeNode(9), ttl: 0 });
    h.pump();
    expect(h.drops('forwardJoin-address-mismatch')).toBe(1);
    expect(h.kinds(other)).toEqual([]);
    expect(h.isClosed(other)).toBe(true);
  });

  it('at most activeSize walk-end dials and requests at once; the rest go to passive', () => {
    const h = setup();
    const [a] = [h.neighbour(2), h.neighbour(3)];
    h.answer = () => 'hold';
    const joiners = [9, 10, 11, 12].map((n) => makeNode(n));
    for (const node of joiners) h.message(a, 'forwardJoin', { node, ttl: 0 });
    expect(h.dials).toHaveLength(3);
    expect(h.drops('forwardJoin-busy')).toBe(1);
    expect(ids(h.hv.views().passive)).toEqual([(joiners[3] as NodeInfo).id]);

    // A dial that ends frees its place.
    h.answer = () => undefined;
    h.pump();
    h.message(a, 'forwardJoin', { node: makeNode(13), ttl: 0 });
    expect(h.dials).toHaveLength(4);
    expect(h.drops('forwardJoin-busy')).toBe(1);
  });
});

describe('Shuffle', () => {
  it('each period sends {origin: self, ka active + kp passive entries, ttl: arwl} to one neighbour', () => {
    const h = setup({ passiveSize: 4 });
    const passive = [5, 6, 7, 8].map((n) => h.passivePeer(n));
    const links = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    h.start([]);
    h.run(1250);

    const shuffles = links.flatMap((peer) => h.sent(peer, 'shuffle').map((shuffle) => ({ peer, shuffle })));
    expect(shuffles).toHaveLength(1);
    const { peer, shuffle } = shuffles[0] as (typeof shuffles)[number];
    expect(shuffle.origin).toEqual(h.self);
    expect(shuffle.ttl).toBe(4);
    const sent = shuffle.entries.map((entry) => entry.node as NodeInfo);
    const activeSent = sent.filter((info) => links.some((l) => l.id === info.id));
    expect(activeSent).toHaveLength(2);
    expect(activeSent.map((info) => info.id)).not.toContain(peer.id);
    expect(sent.filter((info) => passive.some((p) => p.id === info.id))).toHaveLength(3);
    expect(shuffle.entries.every((entry) => entry.age === 0)).toBe(true);
  });

  // A Shuffle or ShuffleReply over maxEntriesPerMessage entries closes the link with LIMIT where
  // it enters the node (membership-rules.test.ts; on a node, hardening-protocol.test.ts).

  it('is forwarded with ttl-1 to a neighbour other than the sender while the walk goes on', () => {
    const h = setup();
    const [a, b, c] = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    const shuffle = { origin: makeNode(9), entries: entriesOf(makeNode(20)), ttl: 3 };
    h.message(a, 'shuffle', shuffle);
    expect(h.kinds(a)).toEqual([]);
    expect([...h.sent(b, 'shuffle'), ...h.sent(c, 'shuffle')]).toEqual([{ ...shuffle, ttl: 2 }]);
    expect(h.hv.views().passive).toEqual([]);
    expect(h.dials).toEqual([]);
  });

  it('where the walk ends: replies over a short-lived link to origin, closes it, merges the entries', () => {
    const h = setup({ passiveSize: 4 });
    const known = [h.passivePeer(5), h.passivePeer(6)];
    const [a] = [h.neighbour(2), h.neighbour(3)];
    const origin = makeNode(9);
    h.answerWith([origin]);
    const gossip = [makeNode(20), makeNode(21), makeNode(22)];
    h.message(a, 'shuffle', { origin, entries: entriesOf(...gossip), ttl: 1 });
    h.pump();

    expect(h.dials).toEqual([addressOfNode(origin)]);
    const replied = h.sent(origin, 'shuffleReply')[0]?.entries.map((entry) => entry.node as NodeInfo) ?? [];
    expect(ids(replied)).toEqual(ids(known));
    expect(h.isClosed(origin)).toBe(true);
    // Room for origin + 3 entries in a passive view of 4: the two it sent are evicted first.
    expect(ids(h.hv.views().passive)).toEqual(ids([origin, ...gossip]));
    expect(h.hv.stats()).toMatchObject({ shufflesReceived: 1, shuffleReplies: 1 });
  });

  it('where the walk ends: an empty Shuffle is still answered with kp entries', () => {
    const h = setup();
    const known = [5, 6, 7, 8].map((n) => h.passivePeer(n));
    const [a] = [h.neighbour(2), h.neighbour(3)];
    const origin = makeNode(9);
    h.answerWith([origin]);
    h.message(a, 'shuffle', { origin, entries: [], ttl: 1 });
    h.pump();
    const replied = h.sent(origin, 'shuffleReply')[0]?.entries ?? [];
    expect(replied).toHaveLength(SMALL.shufflePassive as number);
    expect(replied.every((entry) => known.some((info) => info.id === entry.node?.id))).toBe(true);
  });

  it('ends at a node with one neighbour; an origin it is linked to gets the reply on that link', () => {
    const h = setup();
    const origin = h.neighbour(9);
    h.message(origin, 'shuffle', { origin, entries: entriesOf(makeNode(20)), ttl: 4 });
    h.pump();
    expect(h.dials).toEqual([]);
    expect(h.sent(origin, 'shuffleReply')).toHaveLength(1);
    expect(h.isClosed(origin)).toBe(false);
  });

  it('an active link that answers the dial carries the reply and stays open', () => {
    const h = setup();
    const a = h.neighbour(2);
    const origin = makeNode(9);
    h.answer = () => 'hold';
    h.message(a, 'shuffle', { origin, entries: [], ttl: 1 });
    // The origin becomes a neighbour while the dial is in flight; the dial ends on that link.
    h.link(origin);
    h.message(origin, 'neighbor', { highPriority: true });
    h.answerWith([origin]);
    h.pump();
    expect(h.dials).toHaveLength(1);
    expect(h.hv.isDataPeer(origin.id)).toBe(true);
    expect(h.sent(origin, 'shuffleReply')).toHaveLength(1);
    expect(h.isClosed(origin)).toBe(false);
  });

  it('dials one origin address at most once per shuffle period, whatever id claims it', () => {
    const h = setup();
    const a = h.neighbour(2);
    const port = 4242;
    const [first, impostor] = [makeNode(9, port), makeNode(10, port)];
    const made = h.answerWith([first]);
    h.message(a, 'shuffle', { origin: first, entries: [], ttl: 1 });
    h.message(a, 'shuffle', { origin: impostor, entries: [], ttl: 1 });
    h.pump();
    expect(h.dials).toHaveLength(1);
    expect(h.drops('shuffle-origin-rate')).toBe(1);
    expect(h.hv.stats().shuffleRepliesLimited).toBe(1);
    expect(h.sent(first, 'shuffleReply')).toHaveLength(1);

    h.d.clock.advance(1000);
    h.message(a, 'shuffle', { origin: first, entries: [], ttl: 1 });
    h.pump();
    expect(h.dials).toHaveLength(2);
    // One reply on each connection the two dials made.
    expect(made).toEqual([first, first]);
    expect(h.sent(first, 'shuffleReply')).toHaveLength(2);
  });

  it('sends no reply when another node answers at the origin address', () => {
    const h = setup();
    const a = h.neighbour(2);
    const other = makeNode(11);
    h.answer = () => other;
    h.message(a, 'shuffle', { origin: makeNode(9), entries: [], ttl: 1 });
    h.pump();
    expect(h.kinds(other)).toEqual([]);
    expect(h.isClosed(other)).toBe(true);
    expect(h.drops('shuffle-origin-mismatch')).toBe(1);
  });

  // An invalid origin drops the Shuffle, and an invalid entry is removed from it and counted as
  // entry-invalid, where the message enters the node (membership-rules.test.ts; the merge of the
  // valid rest on a node: hardening-protocol.test.ts).
  it('merges only listening, non-active, non-self entries', () => {
    // ka + kp = 6: every entry below is looked at.
    const h = setup({ shuffleActive: 3 });
    const [a, b] = [h.neighbour(2), h.neighbour(3)];
    const good = makeNode(21);
    const entries = entriesOf(h.self, b, makeNode(22, 0), good);
    h.message(a, 'shuffle', { origin: makeNode(9), entries, ttl: 1 });
    h.pump();
    expect(ids(h.hv.views().passive)).toEqual(ids([good, makeNode(9)]));
    // Self, the active b and the port-0 node; the two invalid entries it refused before no
    // longer reach it.
    expect(h.hv.stats().entriesRefused).toBe(3);
    expect(h.drops('entry-invalid')).toBe(0);
    expect(h.drops('entry-unreachable')).toBe(1);
  });

  it('the origin merges one ShuffleReply per Shuffle, evicting first the entries it sent', () => {
    const h = setup({ passiveSize: 4 });
    const passive = [5, 6, 7, 8].map((n) => h.passivePeer(n));
    const links = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    h.start([]);
    h.run(1250);
    const shuffle = links.flatMap((peer) => h.sent(peer, 'shuffle'))[0];
    const sentIds = new Set(shuffle?.entries.map((entry) => entry.node?.id));
    const unsent = passive.filter((info) => !sentIds.has(info.id));
    expect(unsent).toHaveLength(1);

    const fresh = [makeNode(30), makeNode(31), makeNode(32)];
    const replier = h.link(makeNode(12));
    h.message(replier, 'shuffleReply', { entries: entriesOf(...fresh) });
    expect(ids(h.hv.views().passive)).toEqual(ids([...unsent, ...fresh]));
    expect(h.hv.stats().shuffleRepliesReceived).toBe(1);

    h.message(replier, 'shuffleReply', { entries: entriesOf(makeNode(33)) });
    expect(h.drops('shuffleReply-unsolicited')).toBe(1);
    expect(ids(h.hv.views().passive)).toEqual(ids([...unsent, ...fresh]));
  });
});

describe('Shuffle: what one message may change', () => {
  const many = (from: number, count: number): NodeInfo[] =>
    Array.from({ length: count }, (_, i) => makeNode(from + i));
  const numberOf = (info: NodeInfo): number => Number(info.name.slice(5));

  it('a Shuffle of maxEntriesPerMessage entries ending here merges ka + kp of them and its origin', () => {
    const h = setup({ passiveSize: 20 });
    const known = many(40, 10).map((info) => h.passivePeer(numberOf(info)));
    const [a] = [h.neighbour(2), h.neighbour(3)];
    const origin = makeNode(9);
    h.answerWith([origin]);
    h.message(a, 'shuffle', { origin, entries: entriesOf(...many(60, 8)), ttl: 1 });
    h.pump();
    const passive = ids(h.hv.views().passive);
    // ka + kp = 5 entries and the origin: 6 new, so 4 of the 10 known are gone, not all 10.
    expect(passive.filter((id) => !known.some((info) => info.id === id))).toHaveLength(6);
    expect(h.sent(origin, 'shuffleReply')[0]?.entries).toHaveLength(5);
  });

  /** A node whose first Shuffle is out; `old` links came up before it left. */
  function awaitingReply(passiveSize = 4, old: NodeInfo[] = []) {
    const h = setup({ passiveSize });
    [5, 6, 7, 8].forEach((n) => h.passivePeer(n));
    const links = [h.neighbour(2), h.neighbour(3), h.neighbour(4)];
    for (const peer of old) h.link(peer);
    h.start([]);
    h.run(1250);
    expect(links.flatMap((peer) => h.sent(peer, 'shuffle'))).toHaveLength(1);
    return { h, links };
  }

  it('a ShuffleReply merges at most ka + kp entries, whatever it carries', () => {
    const { h } = awaitingReply(20);
    const replier = h.link(makeNode(12));
    h.message(replier, 'shuffleReply', { entries: entriesOf(...many(60, 8)) });
    expect(h.hv.views().passive.filter((info) => numberOf(info) >= 60)).toHaveLength(5);
  });

  it('a ShuffleReply is taken only from a connection opened by the replier after the Shuffle, within a period', () => {
    const old = makeNode(30);
    const { h, links } = awaitingReply(4, [old]);
    const before = ids(h.hv.views().passive);
    const dialled = h.link(makeNode(31), 'dialer');
    h.message(dialled, 'shuffleReply', { entries: entriesOf(makeNode(40)) });
    h.message(old, 'shuffleReply', { entries: entriesOf(makeNode(41)) });
    expect(h.drops('shuffleReply-not-walk-end')).toBe(2);
    expect(ids(h.hv.views().passive)).toEqual(before);

    // Still awaited: the walk's end may answer; but not once a period has passed (the node lost
    // its neighbours, so no later Shuffle replaced this one).
    for (const peer of links) h.linkDown(peer, 'error');
    h.run(1001);
    const late = h.link(makeNode(32));
    h.message(late, 'shuffleReply', { entries: entriesOf(makeNode(42)) });
    expect(h.drops('shuffleReply-unsolicited')).toBe(1);
  });

  it('a link that replaced an older one counts as opened when it replaced it', () => {
    const old = makeNode(30);
    const { h } = awaitingReply(4, [old]);
    // The replier's new connection won a duplicate contest after our Shuffle left.
    h.replace(old, 'listener');
    h.message(old, 'shuffleReply', { entries: entriesOf(makeNode(41)) });
    expect(h.drops('shuffleReply-not-walk-end')).toBe(0);
    expect(h.hv.stats().shuffleRepliesReceived).toBe(1);
  });
});

describe('stop', () => {
  it('sends Leave to every active peer, cancels every timer, and turns later inputs into no-ops', () => {
    const h = setup();
    h.passivePeer(5);
    const [a, b] = [h.neighbour(2), h.neighbour(3)];
    h.answerWith([makeNode(5)]);
    h.start([]);
    h.pump();
    h.stop();
    h.stop();

    expect(h.kinds(a)).toEqual(['leave']);
    expect(h.kinds(b)).toEqual(['leave']);
    expect(h.hv.dataPeers()).toEqual([]);
    expect(h.d.clock.pendingCount).toBe(0);

    const events = [h.ups().length, h.downs().length, h.dials.length];
    const late = h.link(makeNode(6));
    h.message(late, 'join', {});
    h.message(late, 'neighbor', { highPriority: true });
    h.message(a, 'shuffle', { origin: makeNode(9), entries: [], ttl: 1 });
    h.linkDown(a, 'error');
    h.run(60_000);
    expect(h.kinds(late)).toEqual([]);
    expect(h.hv.isDataPeer(late.id)).toBe(false);
    expect([h.ups().length, h.downs().length, h.dials.length]).toEqual(events);
  });
});

describe('invariants under random events', () => {
  it('views stay bounded, self-free, duplicate-free and disjoint; peer-up/down stay balanced', () => {
    // The harness checks every invariant after each input and each timer.
    const random = seededRandom(2024);
    const h = setup({ activeSize: 4, passiveSize: 5 });
    const pool = Array.from({ length: 24 }, (_, i) => (i % 7 === 6 ? makeNode(i + 2, 0) : makeNode(i + 2)));
    const dialled: NodeInfo[] = [];
    h.answer = (address) => {
      const node = pool.find((info) => info.port === address.port && info.port !== 0);
      if (!node || random.float() < 0.3) return undefined;
      dialled.push(node);
      return node;
    };
    // No forged NodeInfo: the handshake refuses one on a link, the message checks in a message
    // (membership-rules.test.ts), so none reaches a strategy.
    const any = (): NodeInfo => {
      const roll = random.int(10);
      if (roll === 0) return h.self;
      return pool[random.int(pool.length)] as NodeInfo;
    };
    const activePeer = (): string | undefined => h.hv.dataPeers()[random.int(4)];
    const actions: Array<() => void> = [
      () => h.message(h.link(any()), 'join', {}),
      () => h.message(h.link(any()), 'neighbor', { highPriority: random.float() < 0.5 }),
      () => {
        const peer = activePeer();
        if (peer) h.message(peer, 'forwardJoin', { node: any(), ttl: random.int(6) });
      },
      () => {
        const peer = activePeer();
        if (peer) h.message(peer, 'disconnect', { alive: random.float() < 0.5 });
      },
      () => h.message(h.link(any()), 'leave', {}),
      () => {
        const peer = activePeer();
        if (peer) h.linkDown(peer, 'error');
      },
      () => {
        const peer = activePeer();
        const entries = entriesOf(...Array.from({ length: random.int(8) }, any));
        if (peer) h.message(peer, 'shuffle', { origin: any(), entries, ttl: random.int(5) });
      },
      () => h.message(h.link(any()), 'shuffleReply', { entries: entriesOf(any(), any(), any()) }),
      () => {
        const peer = dialled[random.int(dialled.length)];
        if (peer && h.d.linked.has(peer.id))
          h.message(peer, 'neighborReply', { accepted: random.float() < 0.6 });
      },
      () => h.run(random.int(1500)),
    ];
    h.start([addressOfNode(pool[0] as NodeInfo)]);
    for (let step = 0; step < 1500; step++) {
      (actions[random.int(actions.length)] as () => void)();
      h.pump();
    }
    expect(h.hv.stats().evictions).toBeGreaterThan(0);
  });
});

describe('simulation: 30 real nodes over the memory transport', () => {
  const CONFIG: Partial<NodeConfig> = { membership: 'hyparview', passiveSize: 12 };
  const SHUFFLE_MS = 10_000;

  interface Mesh {
    sims: SimNodes;
    nodes: SimNode[];
    /** Every peer:down each node reported, by node id. */
    downs: Map<string, Array<{ id: string; reason: string }>>;
    dead: Set<Node>;
  }

  async function addNode(mesh: Mesh, config: Partial<NodeConfig>): Promise<SimNode> {
    const added = await mesh.sims.add(`n${mesh.nodes.length}`, { ...CONFIG, ...config });
    const downs: Array<{ id: string; reason: string }> = [];
    mesh.downs.set(added.node.id, downs);
    added.node.on('peer:down', (event) => downs.push(event));
    mesh.nodes.push(added);
    return added;
  }

  async function formMesh(seed: number, count = 30, silent = false): Promise<Mesh> {
    const mesh: Mesh = { sims: new SimNodes(seed), nodes: [], downs: new Map(), dead: new Set() };
    const contact = await addNode(mesh, {});
    for (let i = 1; i < count; i++) {
      await addNode(mesh, { seeds: [addressOf(contact.node)] });
      await mesh.sims.run(200);
    }
    if (silent) {
      await addNode(mesh, { seeds: [addressOf(contact.node)], announce: { host: 'silent', port: 0 } });
      await mesh.sims.run(200);
    }
    await mesh.sims.run(6 * SHUFFLE_MS);
    return mesh;
  }

  const alive = (mesh: Mesh): Node[] => mesh.nodes.map((n) => n.node).filter((node) => !mesh.dead.has(node));
  const activeIds = (node: Node): string[] => node.peers().active.map((info) => info.id);

  /** Every broken view invariant of every live node, prefixed by the node's name. */
  function problems(mesh: Mesh): string[] {
    return alive(mesh).flatMap((node) =>
      viewProblems(node.peers(), node.id, node.config).map((p) => `${node.info.name}: ${p}`),
    );
  }

  /** Active edges A->B (among live nodes) whose reverse B->A is missing. */
  function asymmetricEdges(mesh: Mesh): string[] {
    const live = alive(mesh);
    const byId = new Map(live.map((node) => [node.id, node]));
    return live.flatMap((node) =>
      activeIds(node)
        .filter((id) => {
          const other = byId.get(id);
          return !other || !activeIds(other).includes(node.id);
        })
        .map((id) => `${node.info.name} -> ${byId.get(id)?.info.name ?? id}`),
    );
  }

  /** Whether the active views (as an undirected graph over live nodes) connect every live node. */
  function isConnected(mesh: Mesh): boolean {
    const live = alive(mesh);
    const edges = new Map<string, Set<string>>(live.map((node) => [node.id, new Set<string>()]));
    for (const node of live) {
      for (const id of activeIds(node)) {
        edges.get(node.id)?.add(id);
        edges.get(id)?.add(node.id);
      }
    }
    const first = live[0];
    if (!first) return true;
    const seen = new Set([first.id]);
    const queue = [first.id];
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const next of edges.get(id) ?? []) {
        if (edges.has(next) && !seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return live.every((node) => seen.has(node.id));
  }

  const activeSize = (node: Node): number => node.config.activeSize;

  it('joined through one seed: connected, symmetric, within bounds, passive views filled', async () => {
    const mesh = await formMesh(1);
    expect(problems(mesh)).toEqual([]);
    await mesh.sims.until(() => asymmetricEdges(mesh).length === 0, 5000, 'symmetric active views');
    expect(isConnected(mesh)).toBe(true);
    const nodes = alive(mesh);
    const actives = nodes.map((node) => node.peers().active.length);
    const passives = nodes.map((node) => node.peers().passive.length);
    expect(Math.min(...actives)).toBeGreaterThanOrEqual(2);
    expect(nodes.filter((node) => node.peers().active.length === activeSize(node)).length).toBeGreaterThan(
      20,
    );
    expect(passives.filter((n) => n === 12).length).toBeGreaterThan(25);
    const replies = nodes.reduce((sum, node) => sum + (node.stats()['membership.shuffleReplies'] ?? 0), 0);
    expect(replies).toBeGreaterThan(30);
    await mesh.sims.crashAll();
  });

  it('heals after a fifth of the nodes crash and a few leave gracefully', async () => {
    const mesh = await formMesh(2);
    const crashed = mesh.nodes.slice(20, 26).map((n) => n.node);
    const leaving = mesh.nodes.slice(26).map((n) => n.node);
    for (const node of crashed) {
      mesh.dead.add(node);
      await node.crash();
    }
    for (const node of leaving) mesh.dead.add(node);
    const stopping = Promise.all(leaving.map((node) => node.stop()));
    await mesh.sims.run(10);
    const gone = new Set([...crashed, ...leaving].map((node) => node.id));
    const leftIds = new Set(leaving.map((node) => node.id));
    for (const node of alive(mesh)) {
      const views = node.peers();
      expect(views.active.filter((info) => gone.has(info.id))).toEqual([]);
      const wasNeighbour = (mesh.downs.get(node.id) ?? [])
        .filter((d) => d.reason === 'leave')
        .map((d) => d.id);
      expect(views.passive.filter((info) => wasNeighbour.includes(info.id) && leftIds.has(info.id))).toEqual(
        [],
      );
    }
    await mesh.sims.run(1000);
    await stopping;

    await mesh.sims.run(60_000);
    expect(problems(mesh)).toEqual([]);
    await mesh.sims.until(() => asymmetricEdges(mesh).length === 0, 5000, 'symmetric active views');
    expect(isConnected(mesh)).toBe(true);
    const full = alive(mesh).filter((node) => node.peers().active.length === activeSize(node));
    expect(full.length).toBeGreaterThan(15);
    await mesh.sims.crashAll();
  });

  it('a node that does not listen joins, and never appears in a passive view', async () => {
    const mesh = await formMesh(3, 12, true);
    const silent = mesh.nodes.at(-1)?.node as Node;
    expect(silent.info.port).toBe(0);
    expect(problems(mesh)).toEqual([]);
    expect(silent.peers().active.length).toBeGreaterThanOrEqual(1);
    expect(alive(mesh).every((node) => node.peers().passive.every((info) => info.id !== silent.id))).toBe(
      true,
    );
    expect(isConnected(mesh)).toBe(true);
    await mesh.sims.crashAll();
  });
});
