/**
 * Tier 2: who may take a full HyParView active view's slot by evicting a member
 * (membership/eviction-limit.ts): at most one eviction per address prefix per period, and no
 * admission on request for a prefix that already holds two active entries.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { addressPrefix, EvictionLimit } from '../membership/eviction-limit.js';
import { HyParView } from '../membership/hyparview.js';
import type { NodeInfo } from '../proto/messages.js';
import { FakeContext, FakeLink, makeNode, msg, settle } from './helpers/fakes.js';

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

function setup(overrides: Partial<NodeConfig> = {}) {
  const ctx = new FakeContext(makeNode(1), { ...SMALL, ...overrides }, 7);
  return { ctx, hv: new HyParView(ctx) };
}

/** Node n announcing `host` (a valid NodeInfo: the host is not part of the signed identity). */
function nodeAt(n: number, host: string): NodeInfo {
  return { ...makeNode(n), host };
}

/** Node n asks for (and gets) a slot, from its own /24. */
function neighbour(hv: HyParView, n: number): FakeLink {
  const link = new FakeLink(nodeAt(n, `10.0.${n}.1`));
  hv.onMessage(link, msg('neighbor', { highPriority: true }));
  link.clearSent();
  return link;
}

/** A link whose announced host is `announced` but whose connection comes from `remote`. */
class RemoteLink extends FakeLink {
  constructor(
    peer: NodeInfo,
    readonly connection: { remote: { host: string; port: number } },
  ) {
    super(peer);
  }
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
  it('a second high-priority Neighbor from one /24 within a period is refused, and evicts nobody', async () => {
    const { ctx, hv } = setup();
    const old = [2, 3, 4].map((n) => neighbour(hv, n));
    const first = new FakeLink(nodeAt(5, '198.51.100.5'));
    hv.onMessage(first, msg('neighbor', { highPriority: true }));
    expect(first.sentOf('neighborReply')).toEqual([{ accepted: true }]);
    expect(hv.stats().evictions).toBe(1);

    const second = new FakeLink(nodeAt(6, '198.51.100.6'));
    hv.onMessage(second, msg('neighbor', { highPriority: true }));
    expect(second.sentOf('neighborReply')).toEqual([{ accepted: false }]);
    expect(hv.isDataLink(second)).toBe(false);
    expect(hv.stats()).toMatchObject({ evictions: 1, admissionsLimited: 1 });
    expect(ctx.dropCount('neighbor-prefix-limit')).toBe(1);
    expect(old.filter((link) => link.closed)).toHaveLength(1);

    // A period later the prefix may evict again.
    ctx.clock.advance(1000);
    await settle();
    const third = new FakeLink(nodeAt(7, '198.51.100.7'));
    hv.onMessage(third, msg('neighbor', { highPriority: true }));
    expect(third.sentOf('neighborReply')).toEqual([{ accepted: true }]);
  });

  it('counts a peer by the host it connects from, not the one it announces', () => {
    const { hv } = setup();
    [2, 3, 4].forEach((n) => neighbour(hv, n));
    const remote = { remote: { host: '203.0.113.9', port: 50_000 } };
    const links = [5, 6].map((n) => new RemoteLink(nodeAt(n, `192.0.${n}.1`), remote));
    for (const link of links) hv.onMessage(link, msg('neighbor', { highPriority: true }));
    expect(links.map((link) => link.sentOf('neighborReply')[0]?.accepted)).toEqual([true, false]);
  });

  it('a Join over the limit is closed; a joiner with room is admitted whatever its prefix', () => {
    const { ctx, hv } = setup();
    const joins = [5, 6].map((n) => new FakeLink(nodeAt(n, `198.51.100.${n}`)));
    [2, 3, 4].forEach((n) => neighbour(hv, n));
    hv.onMessage(joins[0] as FakeLink, msg('join', {}));
    hv.onMessage(joins[1] as FakeLink, msg('join', {}));
    expect(hv.isDataLink(joins[0] as FakeLink)).toBe(true);
    expect(joins[1]?.closed).toBe(true);
    expect(ctx.dropCount('join-prefix-limit')).toBe(1);

    // With room, no eviction is needed and the limit does not apply.
    const { hv: roomy } = setup();
    const same = [5, 6].map((n) => new FakeLink(nodeAt(n, `198.51.100.${n}`)));
    for (const link of same) roomy.onMessage(link, msg('join', {}));
    expect(same.every((link) => roomy.isDataLink(link))).toBe(true);
  });

  it('a ForwardJoin walk ending here with a joiner over the limit: no dial, passive only', async () => {
    const { ctx, hv } = setup();
    const old = [2, 3, 4].map((n) => neighbour(hv, n));
    hv.onMessage(new FakeLink(nodeAt(5, '198.51.100.5')), msg('join', {}));
    const sender = old.find((link) => !link.closed) as FakeLink;
    const joiner = nodeAt(6, '198.51.100.6');
    hv.onMessage(sender, msg('forwardJoin', { node: joiner, ttl: 0 }));
    await settle();
    expect(ctx.dials).toEqual([]);
    expect(ctx.dropCount('forwardJoin-prefix-limit')).toBe(1);
    expect(hv.views().passive.map((info) => info.id)).toContain(joiner.id);
  });

  it('a prefix holding two active entries gets no third on request, even with room', () => {
    const { ctx, hv } = setup({ activeSize: 5 });
    const links = [5, 6, 7].map((n) => new FakeLink(nodeAt(n, `198.51.100.${n}`)));
    hv.onMessage(links[0] as FakeLink, msg('join', {}));
    hv.onMessage(links[1] as FakeLink, msg('neighbor', { highPriority: false }));
    hv.onMessage(links[2] as FakeLink, msg('neighbor', { highPriority: false }));
    expect(links.map((link) => hv.isDataLink(link))).toEqual([true, true, false]);
    expect(links[2]?.sentOf('neighborReply')).toEqual([{ accepted: false }]);
    expect(ctx.dropCount('neighbor-prefix-limit')).toBe(1);
  });
});
