/**
 * Tier 2 (router with fake links, no sockets): attacks on the router by a neighbour, each carried out over an in-memory
 * mesh of routers with a SimClock. Node 0 plays the attacker where a test injects a crafted copy
 * "from 0"; the other nodes are honest routers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../cli/args.js';
import { ConfigError, resolveConfig, type NodeConfig } from '../config.js';
import { uncheckedSignatures } from '../crypto/signatures.js';
import type { Routed } from '../proto/messages.js';
import { ROUTED_RULES, sentAtMsOf, sentAtProblem, type RoutedProblem } from '../router-rules.js';
import { seededRandom } from '../utils/random.js';
import {
  craftRouted,
  lineEdges,
  makeIdentity,
  nodeInfoOf,
  RouterMesh,
  type MeshOptions,
} from './helpers/router-mesh.js';

const meshes: RouterMesh[] = [];

function mesh(options: MeshOptions): RouterMesh {
  const created = new RouterMesh(options);
  meshes.push(created);
  return created;
}

afterEach(() => {
  for (const created of meshes.splice(0)) created.stop();
});

const author = makeIdentity(seededRandom(42));
const authorInfo = nodeInfoOf(author, 50);

describe('signature checks cannot be switched off by a setting', () => {
  it('has no --verify-signatures flag', () => {
    expect(() => parseCli(['--verify-signatures', 'false'])).toThrow(UsageError);
  });

  it('refuses a forgery whatever the config carries', () => {
    const legacy = { verifySignatures: false } as unknown as Partial<NodeConfig>;
    const net = mesh({ size: 2, edges: lineEdges(2), config: legacy });
    net.inject(1, 0, { ...craftRouted(author, authorInfo), signature: new Uint8Array(64) });
    expect(net.node(1).delivered).toEqual([]);
    expect(net.node(1).router.stats().badSignature).toBe(1);
  });

  it('a simulation that measures the cost of checks injects a checker that accepts everything', () => {
    const net = mesh({ size: 2, edges: lineEdges(2), signatures: () => uncheckedSignatures });
    net.inject(1, 0, { ...craftRouted(author, authorInfo), signature: new Uint8Array(64) });
    expect(net.node(1).delivered).toHaveLength(1);
  });
});

describe('a relay forwards only the signature it verified', () => {
  const zeroed = new Uint8Array(64);

  it('the same bytes with a zeroed signature and more TTL are refused, and their sender punished', () => {
    const net = mesh({ size: 3, edges: lineEdges(3) });
    const genuine = craftRouted(author, authorInfo, { id: 'h2' }, { ttl: 1 });
    net.inject(1, 0, genuine);
    net.inject(1, 0, { ...genuine, signature: zeroed, ttl: 16 });
    net.run();
    expect(net.node(1).delivered.map((m) => m.id)).toEqual(['h2']);
    expect(net.node(1).router.stats()).toMatchObject({ forwarded: 0, reforwarded: 0, badSignature: 1 });
    expect(net.node(1).punished).toEqual([
      { peerId: net.node(0).info.id, reason: expect.stringContaining('h2') },
    ]);
    // The honest relay sent nothing its own neighbour could blame it for.
    expect(net.node(2).punished).toEqual([]);
  });

  it("Plumtree's Graft answer is the verified copy", () => {
    const net = mesh({ size: 3, edges: lineEdges(3), config: { router: 'plumtree' } });
    const toNode2 = net.node(1).peers.get(2);
    if (!toNode2) throw new Error('no link');
    net.node(1).router.onControl(toNode2, 'prune', {}); // node 2 gets IHaves only, and grafts
    const genuine = craftRouted(author, authorInfo, { id: 'graft-me' }, { ttl: 1 });
    net.inject(1, 0, genuine);
    net.inject(1, 0, { ...genuine, signature: zeroed, ttl: 16 });
    net.inject(1, 0, { ...genuine, ttl: 16 });
    net.run();
    expect(net.node(1).router.stats()).toMatchObject({ reforwarded: 1, graftAnswers: 1 });
    expect(net.node(2).delivered.map((m) => m.id)).toEqual(['graft-me']);
    expect(net.node(2).punished).toEqual([]);
  });

  it('another valid signature of the same bytes is a duplicate, neither forwarded nor punished', () => {
    // Ed25519 as Node signs is deterministic; an origin with random nonces could sign twice.
    const other = new Uint8Array(64).fill(7);
    const net = mesh({
      size: 3,
      edges: lineEdges(3),
      signatures: () => ({ verify: (_key, _data, signature) => signature[0] !== 0 }),
    });
    const genuine = craftRouted(author, authorInfo, { id: 'twice' }, { ttl: 1 });
    net.inject(1, 0, genuine);
    net.inject(1, 0, { ...genuine, signature: other, ttl: 16 });
    net.run();
    expect(net.node(1).router.stats()).toMatchObject({ forwarded: 0, duplicates: 1, badSignature: 0 });
    expect(net.node(1).punished).toEqual([]);
  });
});

describe('every invalid Routed is handled as ROUTED_RULES says', () => {
  const other = makeIdentity(seededRandom(43));
  const otherInfo = nodeInfoOf(other, 51);

  it('an origin id that is not the hash of its key closes the link that sent it', () => {
    const net = mesh({ size: 3, edges: lineEdges(3) });
    net.inject(1, 0, craftRouted(author, { ...authorInfo, id: otherInfo.id }, { id: 'not-mine' }));
    net.run();
    expect(net.node(1).delivered).toEqual([]);
    expect(net.node(2).delivered).toEqual([]);
    expect(net.node(1).router.stats()).toMatchObject({ 'drop.origin': 1, invalidPayload: 1 });
    expect(net.node(1).punished).toEqual([
      { peerId: net.node(0).info.id, reason: expect.stringMatching(/origin.*not-mine/) },
    ]);
  });

  it('punishes the payload rules every relay checks, not what an honest relay may forward', () => {
    const net = mesh({ size: 3, edges: lineEdges(3), config: { maxTtl: 20, ttl: 16 } });
    const to = net.node(2).info.id;
    const cases: Array<[RoutedProblem, Routed]> = [
      ['hopsExceeded', craftRouted(author, authorInfo, { id: 'h' }, { hops: 21 })],
      [
        'undecodable',
        { payload: new Uint8Array([0xff, 0xff]), signature: new Uint8Array(64), ttl: 5, hops: 1 },
      ],
      ['origin', craftRouted(author, { ...authorInfo, name: 'n'.repeat(33) })],
      ['id', craftRouted(author, authorInfo, { id: 'i'.repeat(65) })],
      ['to', craftRouted(author, authorInfo, { id: 't', to: 'NOT-A-NODE-ID' })],
      ['room', craftRouted(author, authorInfo, { id: 'r', room: 'r'.repeat(65) })],
      ['content', craftRouted(author, authorInfo, { id: 'c', text: null })],
      ['textTooLong', craftRouted(author, authorInfo, { id: 'l', text: { body: 'x'.repeat(4097) } })],
      [
        'receiptNotDirect',
        craftRouted(author, authorInfo, { id: 'n', text: null, receipt: { messageId: 'm' } }),
      ],
      ['receiptId', craftRouted(author, authorInfo, { id: 'e', to, text: null, receipt: { messageId: '' } })],
      ['badSignature', { ...craftRouted(author, authorInfo, { id: 's' }), signature: new Uint8Array(64) }],
    ];
    const punishedFor: RoutedProblem[] = [];
    for (const [reason, routed] of cases) {
      const before = net.node(1).punished.length;
      net.inject(1, 0, routed);
      expect(net.node(1).router.stats()[`drop.${reason}`]).toBe(1);
      if (net.node(1).punished.length > before) punishedFor.push(reason);
    }
    net.run();
    expect(net.node(1).delivered).toEqual([]);
    expect(net.node(2).delivered).toEqual([]);
    const punishRules = cases.map(([reason]) => reason).filter((reason) => ROUTED_RULES[reason] === 'punish');
    expect(punishedFor).toEqual(punishRules);
    // The rules the issue names, and those an honest relay may break through no fault of its own.
    expect(punishRules).toEqual(expect.arrayContaining(['origin', 'id', 'textTooLong', 'badSignature']));
    expect(punishRules).not.toEqual(expect.arrayContaining(['hopsExceeded']));
    expect(punishRules).not.toContain('undecodable');
    expect(punishRules).not.toContain('content');
  });
});

describe('old messages cannot be replayed once the seen cache forgot them', () => {
  it("a copy replayed after its seen entry expired is refused by its age, the window shrunk to the cache's", () => {
    const config = { seenCacheTtlMs: 60_000, maxMessageAgeMs: 300_000, maxClockSkewMs: 10_000 };
    const net = mesh({ size: 3, edges: lineEdges(3), config });
    const routed = craftRouted(author, authorInfo, { id: 'old', sentAtMs: BigInt(net.clock.now()) });
    net.inject(1, 0, routed);
    net.run(61_000);
    expect(net.node(1).router.stats().seenEntries).toBe(0);
    net.inject(1, 0, routed);
    net.run();
    expect(net.node(1).delivered.map((m) => m.id)).toEqual(['old']);
    expect(net.node(2).delivered.map((m) => m.id)).toEqual(['old']);
    expect(net.node(1).router.stats()).toMatchObject({ 'drop.sentTooLongAgo': 1, outsideWindow: 1 });
    expect(net.node(1).punished).toEqual([]);
  });

  it('a seen cache turned over by a flood of fresh identities shrinks the window past the forgotten', () => {
    const config = { seenCacheSize: 16, seenCacheTtlMs: 60_000, maxClockSkewMs: 1000 };
    const net = mesh({ size: 2, edges: lineEdges(2), config });
    const routed = craftRouted(author, authorInfo, { id: 'flushed', sentAtMs: BigInt(net.clock.now()) });
    net.inject(1, 0, routed);
    net.run(5000);
    const random = seededRandom(7);
    for (let i = 0; i < 16; i++) {
      const sybil = makeIdentity(random);
      net.inject(
        1,
        0,
        craftRouted(sybil, nodeInfoOf(sybil, i), { id: `f${i}`, sentAtMs: BigInt(net.clock.now()) }),
      );
    }
    net.inject(1, 0, routed);
    expect(net.node(1).delivered.filter((m) => m.id === 'flushed')).toHaveLength(1);
    expect(net.node(1).router.stats()['drop.sentTooLongAgo']).toBe(1);
    // A message sent now is still new.
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'fresh', sentAtMs: BigInt(net.clock.now()) }));
    expect(net.node(1).delivered.map((m) => m.id)).toContain('fresh');
  });

  it('refuses a message dated further ahead than the clock-skew allowance; accepts one at its edge', () => {
    const net = mesh({ size: 2, edges: lineEdges(2), config: { maxClockSkewMs: 2000 } });
    net.run(1000);
    const now = net.clock.now();
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'edge', sentAtMs: BigInt(now + 2000) }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'ahead', sentAtMs: BigInt(now + 2001) }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'far', sentAtMs: BigInt(2 ** 53) }));
    expect(net.node(1).delivered.map((m) => m.id)).toEqual(['edge']);
    expect(net.node(1).router.stats()).toMatchObject({ 'drop.sentInFuture': 2, outsideWindow: 2 });
    expect(net.node(1).punished).toEqual([]);
  });

  it('accepts a message maxMessageAgeMs old, refuses one a millisecond older', () => {
    const config = { maxMessageAgeMs: 5000, maxClockSkewMs: 1000 };
    const net = mesh({ size: 2, edges: lineEdges(2), config });
    net.run(10_000);
    const now = net.clock.now();
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'edge', sentAtMs: BigInt(now - 5000) }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'old', sentAtMs: BigInt(now - 5001) }));
    expect(net.node(1).delivered.map((m) => m.id)).toEqual(['edge']);
    expect(net.node(1).router.stats()['drop.sentTooLongAgo']).toBe(1);
  });
});

describe('the window settings', () => {
  it('compare sent_at_ms alike whether the decoder gives a number or a bigint', () => {
    const window = { oldestMs: 1000, newestMs: 2000 };
    for (const [sent, problem] of [
      [999, 'sentTooLongAgo'],
      [1000, undefined],
      [2000, undefined],
      [2001, 'sentInFuture'],
    ] as const) {
      expect(sentAtProblem(sent, window)).toBe(problem);
      expect(sentAtProblem(BigInt(sent), window)).toBe(problem);
    }
    expect(sentAtProblem(2n ** 64n - 1n, window)).toBe('sentInFuture');
    expect(sentAtMsOf(1_700_000_000_000n)).toBe(1_700_000_000_000);
  });

  it('refuse a clock-skew allowance that would leave less window than itself', () => {
    expect(resolveConfig({ seenCacheTtlMs: 60_000, maxClockSkewMs: 29_999 }).maxClockSkewMs).toBe(29_999);
    expect(() => resolveConfig({ seenCacheTtlMs: 60_000, maxClockSkewMs: 30_000 })).toThrow(ConfigError);
    expect(() => resolveConfig({ maxMessageAgeMs: 999 })).toThrow(/maxMessageAgeMs/);
  });

  it('stats show how far back the window reaches, shrunk to the seen cache', () => {
    const config = { seenCacheTtlMs: 60_000, maxMessageAgeMs: 300_000, maxClockSkewMs: 10_000 };
    const net = mesh({ size: 2, edges: lineEdges(2), config });
    expect(net.node(1).router.stats().sentAtWindowMs).toBe(300_000);
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'x', sentAtMs: BigInt(0) }));
    net.run(60_000); // the entry leaves by age: the window reaches back no further than the cache
    expect(net.node(1).router.stats().sentAtWindowMs).toBeLessThanOrEqual(60_000 - 10_000);
  });
});

describe('a neighbour cannot hijack a route by replaying seen bytes with hops 1', () => {
  // 1 - 0 - 2 - 3 - 4: node 1 is the hijacker, a leaf that answers nothing onwards; 4 the destination.
  const edges = [
    [0, 1],
    [0, 2],
    [2, 3],
    [3, 4],
  ] as const;

  /** A message of node 4, reaching node 0 the honest way (4 -> 3 -> 2 -> 0), then replayed by 1. */
  function hijack(net: RouterMesh, id: string): void {
    const destination = net.node(4);
    const routed = craftRouted(destination.identity, destination.info, {
      id,
      sentAtMs: BigInt(net.clock.now()),
    });
    net.inject(3, 4, routed);
    net.run(100);
    net.inject(0, 1, { ...routed, hops: 1 });
  }

  it('a direct message swallowed by the hijacked route is flooded again, and still answered', () => {
    const net = mesh({ size: 5, edges, config: { receiptTimeoutMs: 10_000 } });
    hijack(net, 'bait');
    const to = net.node(4).info.id;
    expect(net.node(0).router.routes()).toContainEqual({ originId: to, via: net.node(1).info.id, hops: 1 });
    const id = net.node(0).router.send(to, 'psst');
    net.run(20_000);
    expect(net.node(4).delivered.map((m) => m.id)).toEqual([id]);
    expect(net.node(0).receipts.map((r) => r.messageId)).toEqual([id]);
    expect(net.node(0).missing).toEqual([]);
    expect(net.node(0).router.stats()).toMatchObject({ routeFallbacks: 1, receiptsReceived: 1 });
    // The neighbour that swallowed it is no longer believed about that destination.
    hijack(net, 'bait-again');
    expect(net.node(0).router.routes()).toContainEqual({ originId: to, via: net.node(2).info.id, hops: 3 });
    const second = net.node(0).router.send(to, 'again');
    net.run(20_000);
    expect(net.node(0).receipts.map((r) => r.messageId)).toEqual([id, second]);
    expect(net.node(0).router.stats().routeFallbacks).toBe(1);
  });

  it('a route confirmed by a receipt is not displaced by a shorter claim', () => {
    const net = mesh({ size: 5, edges });
    const destination = net.node(4);
    destination.router.broadcast('here i am'); // 0 learns 4 via 2, as does 1 via 0
    net.run(100);
    const first = net.node(0).router.send(destination.info.id, 'hello');
    net.run(1000);
    expect(net.node(0).receipts.map((r) => r.messageId)).toEqual([first]);
    hijack(net, 'bait');
    expect(net.node(0).router.routes()).toContainEqual({
      originId: destination.info.id,
      via: net.node(2).info.id,
      hops: 3,
    });
    const second = net.node(0).router.send(destination.info.id, 'still there?');
    net.run(1000);
    expect(net.node(0).receipts.map((r) => r.messageId)).toEqual([first, second]);
    expect(net.node(0).router.stats()).toMatchObject({ routeFallbacks: 0, directFlooded: 0 });
  });

  it('a receipt in time cancels the fallback: no timer is left behind', () => {
    const net = mesh({ size: 3, edges: lineEdges(3) });
    net.node(2).router.broadcast('here i am');
    net.run(100);
    net.node(0).router.send(net.node(2).info.id, 'hello');
    net.run(100);
    expect(net.node(0).receipts).toHaveLength(1);
    expect(net.clock.pendingCount).toBe(0);
  });

  it('a relay confirms its route when the receipt of a text it routed passes back', () => {
    const net = mesh({ size: 5, edges });
    const [relay, destination] = [net.node(2), net.node(4)];
    destination.router.broadcast('here i am');
    net.run(100);
    net.node(0).router.send(destination.info.id, 'hello');
    net.run(1000);
    // Node 0 now replays one of 4's messages to the relay with hops 1, claiming a shorter route
    // than the one through node 3 that the receipt confirmed.
    const routed = craftRouted(destination.identity, destination.info, {
      id: 'x',
      sentAtMs: BigInt(net.clock.now()),
    });
    net.inject(3, 4, routed);
    net.run(100);
    net.inject(2, 0, { ...routed, hops: 1 });
    expect(relay.router.routes()).toContainEqual({
      originId: destination.info.id,
      via: net.node(3).info.id,
      hops: 2,
    });
    expect(relay.router.stats().routesConfirmed).toBe(1);
  });
});
