/**
 * Tier 2: who may take a full HyParView active view's slot by evicting a member
 * (membership/eviction-limit.ts): at most one eviction per address prefix per period, and no
 * admission on request for a prefix that already holds two active entries.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { addressPrefix, EvictionLimit } from '../membership/eviction-limit.js';
import type { NodeInfo } from '../proto/messages.js';
import { makeNode } from './helpers/membership-inputs.js';
import { HyParViewHarness } from './helpers/hyparview-harness.js';

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
  shortLivedIdleMs: 500,
};

/** One strategy under the driver, its invariants checked after every input. */
function setup(overrides: Partial<NodeConfig> = {}): HyParViewHarness {
  return new HyParViewHarness({ ...SMALL, ...overrides }, 7);
}

/** Node n announcing `host` (a valid NodeInfo: the host is not part of the signed identity). */
function nodeAt(n: number, host: string): NodeInfo {
  return { ...makeNode(n), host };
}

/** Node n asks for (and gets) a slot, from its own /24. */
function neighbour(h: HyParViewHarness, n: number): NodeInfo {
  return h.neighbour(nodeAt(n, `10.0.${n}.1`));
}

describe('addressPrefix', () => {
  it('a public IPv4 /24, IPv6 /48 (:: expanded, mapped IPv4 as IPv4), a host name, loopback by address', () => {
    expect(addressPrefix('198.51.100.7', 1, false)).toBe('198.51.100.0/24');
    expect(addressPrefix('::ffff:198.51.100.9', 2, false)).toBe('198.51.100.0/24');
    expect(addressPrefix('2001:db8:7::1', 1, false)).toBe('2001:db8:7::/48');
    expect(addressPrefix('2001:0db8:0007:ffff::2', 1, false)).toBe('2001:db8:7::/48');
    expect(addressPrefix('2001:db8::1', 1, false)).toBe('2001:db8:0::/48');
    expect(addressPrefix('Node-12', 7000, false)).toBe('node-12');
    expect(addressPrefix('127.0.0.1', 4001, false)).toBe('127.0.0.1|4001');
    expect(addressPrefix('127.0.0.1', 4001, true)).toBe('127.0.0.1');
    expect(addressPrefix('::1', 4001, false)).toBe('::1|4001');
    // One LAN's honest nodes share its prefix: private and link-local addresses count by host.
    expect(addressPrefix('10.213.0.5', 1, false)).toBe('10.213.0.5');
    expect(addressPrefix('192.168.1.20', 1, false)).toBe('192.168.1.20');
    expect(addressPrefix('172.20.3.4', 1, false)).toBe('172.20.3.4');
    expect(addressPrefix('172.32.3.4', 1, false)).toBe('172.32.3.0/24');
    expect(addressPrefix('fd12:3456:789a::1', 1, false)).toBe('fd12:3456:789a::1');
    expect(addressPrefix('fe80::1', 1, false)).toBe('fe80::1');
  });
});

describe('EvictionLimit', () => {
  it('one eviction per prefix per period', () => {
    const limit = new EvictionLimit(1000);
    expect(limit.mayEvict('a', 0)).toBe(true);
    limit.noteEviction('a', 0);
    expect(limit.mayEvict('a', 999)).toBe(false);
    expect(limit.mayEvict('b', 999)).toBe(true);
    expect(limit.mayEvict('a', 1000)).toBe(true);
  });

  it('remembers at most maxPrefixes: past that the oldest is forgotten', () => {
    const limit = new EvictionLimit(1000, 2);
    ['a', 'b', 'c'].forEach((prefix, i) => limit.noteEviction(prefix, i));
    expect(limit.mayEvict('a', 10)).toBe(true);
    expect(limit.mayEvict('b', 10)).toBe(false);
    expect(limit.mayEvict('c', 10)).toBe(false);
  });
});

describe('HyParView admission by eviction', () => {
  it('a second high-priority Neighbor from one /24 within a period is refused, and evicts nobody', () => {
    const h = setup();
    const old = [2, 3, 4].map((n) => neighbour(h, n));
    const first = h.link(nodeAt(5, '198.51.100.5'));
    h.message(first, 'neighbor', { highPriority: true });
    expect(h.sent(first, 'neighborReply')).toEqual([{ accepted: true }]);
    expect(h.hv.stats().evictions).toBe(1);

    const second = h.link(nodeAt(6, '198.51.100.6'));
    h.message(second, 'neighbor', { highPriority: true });
    expect(h.sent(second, 'neighborReply')).toEqual([{ accepted: false }]);
    expect(h.hv.isDataPeer(second.id)).toBe(false);
    expect(h.hv.stats()).toMatchObject({ evictions: 1, admissionsLimited: 1 });
    expect(h.drops('neighbor-prefix-limit')).toBe(1);
    expect(old.filter((peer) => h.isClosed(peer))).toHaveLength(1);

    // A period later the prefix may evict again.
    h.d.clock.advance(1000);
    h.pump();
    const third = h.link(nodeAt(7, '198.51.100.7'));
    h.message(third, 'neighbor', { highPriority: true });
    expect(h.sent(third, 'neighborReply')).toEqual([{ accepted: true }]);
  });

  it('counts a peer by the host it connects from, not the one it announces', () => {
    const h = setup();
    [2, 3, 4].forEach((n) => neighbour(h, n));
    const peers = [5, 6].map((n) => h.link(nodeAt(n, `192.0.${n}.1`), 'listener', '203.0.113.9'));
    for (const peer of peers) h.message(peer, 'neighbor', { highPriority: true });
    expect(peers.map((peer) => h.sent(peer, 'neighborReply')[0]?.accepted)).toEqual([true, false]);
  });

  it('a Join over the limit is closed; a joiner with room is admitted whatever its prefix', () => {
    const h = setup();
    const joins = [5, 6].map((n) => nodeAt(n, `198.51.100.${n}`));
    [2, 3, 4].forEach((n) => neighbour(h, n));
    for (const joiner of joins) h.message(h.link(joiner), 'join', {});
    expect(h.hv.isDataPeer((joins[0] as NodeInfo).id)).toBe(true);
    expect(h.isClosed(joins[1] as NodeInfo)).toBe(true);
    expect(h.drops('join-prefix-limit')).toBe(1);

    // With room, no eviction is needed and the limit does not apply.
    const roomy = setup();
    const same = [5, 6].map((n) => nodeAt(n, `198.51.100.${n}`));
    for (const joiner of same) roomy.message(roomy.link(joiner), 'join', {});
    expect(same.every((joiner) => roomy.hv.isDataPeer(joiner.id))).toBe(true);
  });

  it('a ForwardJoin walk ending here with a joiner over the limit: no dial, passive only', () => {
    const h = setup();
    const old = [2, 3, 4].map((n) => neighbour(h, n));
    h.message(h.link(nodeAt(5, '198.51.100.5')), 'join', {});
    const sender = old.find((peer) => !h.isClosed(peer)) as NodeInfo;
    const joiner = nodeAt(6, '198.51.100.6');
    h.message(sender, 'forwardJoin', { node: joiner, ttl: 0 });
    h.pump();
    expect(h.dials).toEqual([]);
    expect(h.drops('forwardJoin-prefix-limit')).toBe(1);
    expect(h.hv.views().passive.map((info) => info.id)).toContain(joiner.id);
  });

  it('a prefix holding two active entries gets no third on request, even with room', () => {
    const h = setup({ activeSize: 5 });
    const peers = [5, 6, 7].map((n) => h.link(nodeAt(n, `198.51.100.${n}`)));
    h.message(peers[0] as NodeInfo, 'join', {});
    h.message(peers[1] as NodeInfo, 'neighbor', { highPriority: false });
    h.message(peers[2] as NodeInfo, 'neighbor', { highPriority: false });
    expect(peers.map((peer) => h.hv.isDataPeer(peer.id))).toEqual([true, true, false]);
    expect(h.sent(peers[2] as NodeInfo, 'neighborReply')).toEqual([{ accepted: false }]);
    expect(h.drops('neighbor-prefix-limit')).toBe(1);
  });
});
