/**
 * Tier 2 of the tests (one component's rules, no sockets): the router over an in-memory mesh with a
 * SimClock and seeded randomness. docs/protocol.md section 5 is the contract: TTL and hops, dedup
 * by (origin, id) with the reforward rule, validation before the signature, punishment of a
 * neighbour relaying a bad signature, routes and receipts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../config.js';
import { createBroadcastStrategy } from '../broadcast/registry.js';
import { decodeEnvelope, encodeEnvelope } from '../proto/messages.js';
import { idListProblem, isIdListWithinLimit, Router } from '../router.js';
import { silentLogger } from '../utils/logger.js';
import { seededRandom } from '../utils/random.js';
import {
  craftRouted,
  lineEdges,
  makeIdentity,
  nodeInfoOf,
  randomEdges,
  RouterMesh,
  type MeshOptions,
} from './helpers/router-mesh.js';
import { KeyCachingChecker } from '../crypto/signatures.js';

const UINT32_MAX = 4294967295;
const meshes: RouterMesh[] = [];

function mesh(options: MeshOptions): RouterMesh {
  const created = new RouterMesh(options);
  meshes.push(created);
  return created;
}

afterEach(() => {
  for (const created of meshes.splice(0)) created.stop();
});

/** Hop distances from `from` along `edges` (breadth-first). */
function distances(size: number, edges: ReadonlyArray<readonly [number, number]>, from: number): number[] {
  const result = Array.from({ length: size }, () => Infinity);
  result[from] = 0;
  const queue = [from];
  for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
    for (const [a, b] of edges) {
      const other = a === at ? b : b === at ? a : undefined;
      if (other !== undefined && result[other] === Infinity) {
        result[other] = (result[at] ?? 0) + 1;
        queue.push(other);
      }
    }
  }
  return result;
}

describe('flooding over a line', () => {
  it('reaches every node exactly once, with hops equal to the distance', () => {
    const line = mesh({ size: 10, edges: lineEdges(10) });
    const id = line.node(0).router.broadcast('hello line');
    line.run();
    expect(line.node(0).delivered).toEqual([]);
    for (let i = 1; i < 10; i++) {
      const delivered = line.node(i).delivered;
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).toMatchObject({
        id,
        text: 'hello line',
        hops: i,
        to: null,
        room: 'lobby',
        latencyMs: i,
      });
      expect(delivered[0]?.from.id).toBe(line.node(0).info.id);
    }
    expect(line.node(9).delivered[0]?.hops).toBe(9);
    expect(line.node(0).router.stats()).toMatchObject({ originated: 1, copiesSent: 1, forwarded: 0 });
    expect(line.node(5).router.stats()).toMatchObject({ delivered: 1, forwarded: 1, duplicates: 0 });
  });

  it('stops after TTL links: TTL 3 reaches nodes 1 to 3 only', () => {
    const line = mesh({ size: 10, edges: lineEdges(10), config: { ttl: 3 } });
    line.node(0).router.broadcast('short');
    line.run();
    const reached = line.nodes.filter((node) => node.delivered.length === 1).map((node) => node.index);
    expect(reached).toEqual([1, 2, 3]);
    expect(line.node(3).router.stats().ttlExpired).toBe(1);
    expect(line.node(2).router.stats().ttlExpired).toBe(0);
  });

  it('delivers to joined rooms only, and an empty room means the lobby', () => {
    const line = mesh({ size: 3, edges: lineEdges(3) });
    line.node(2).router.joinRoom('dev');
    line.node(1).router.leaveRoom('lobby');
    expect(line.node(2).router.rooms().sort()).toEqual(['dev', 'lobby']);
    line.node(0).router.broadcast('to dev', 'dev');
    line.node(0).router.broadcast('to lobby', '');
    line.run();
    expect(line.node(1).delivered).toEqual([]);
    expect(line.node(1).router.stats().forwarded).toBe(2); // every node forwards every room
    expect(line.node(2).delivered.map((m) => [m.text, m.room])).toEqual([
      ['to dev', 'dev'],
      ['to lobby', 'lobby'],
    ]);
  });
});

describe('direct messages, routes and receipts', () => {
  it('crosses a line, is answered by a receipt carrying its hops, and teaches routes both ways', () => {
    const line = mesh({ size: 10, edges: lineEdges(10) });
    const [first, last] = [line.node(0), line.node(9)];
    const id = first.router.send(last.info.id, 'psst');
    line.run(1000);
    expect(last.delivered).toHaveLength(1);
    expect(last.delivered[0]).toMatchObject({ id, text: 'psst', to: last.info.id, room: null, hops: 9 });
    expect(line.nodes.slice(1, 9).every((node) => node.delivered.length === 0)).toBe(true);
    expect(first.receipts).toHaveLength(1);
    expect(first.receipts[0]).toMatchObject({ messageId: id, hops: 9 });
    expect(first.receipts[0]?.from.id).toBe(last.info.id);
    expect(last.router.routes()).toContainEqual({
      originId: first.info.id,
      via: line.node(8).info.id,
      hops: 9,
    });
    expect(first.router.routes()).toContainEqual({
      originId: last.info.id,
      via: line.node(1).info.id,
      hops: 9,
    });
    expect(last.router.stats()).toMatchObject({ receiptsSent: 1, routesKnown: 1 });
    line.run(20_000);
    expect(first.missing).toEqual([]);
    expect(first.router.stats()).toMatchObject({
      receiptsReceived: 1,
      receiptTimeouts: 0,
      pendingReceipts: 0,
    });
  });

  it('follows learned routes instead of flooding, along a shortest path', () => {
    const edges = randomEdges(30, 4, seededRandom(7));
    const net = mesh({ size: 30, edges, seed: 7 });
    net.node(5).router.broadcast('announce'); // everybody learns a route to 5
    net.run(1000);
    const id = net.node(17).router.send(net.node(5).info.id, 'routed');
    net.run(1000);
    const delivered = net.node(5).delivered.filter((message) => message.id === id);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.hops).toBe(distances(30, edges, 17)[5]);
    // One copy per link crossed: nothing was flooded.
    expect(net.copiesReceived(id)).toBe(delivered[0]?.hops);
    expect(net.node(17).receipts).toHaveLength(1);
    const receiptHops = net.node(17).receipts[0]?.hops ?? 0;
    expect(receiptHops).toBe(delivered[0]?.hops);
    expect(net.sum('directFlooded')).toBe(0);
  });

  it('reports a missing receipt after receiptTimeoutMs', () => {
    const line = mesh({ size: 3, edges: lineEdges(3), config: { receiptTimeoutMs: 500 } });
    const nobody = '0123456789abcdef';
    const id = line.node(0).router.send(nobody, 'anyone?');
    line.run(499);
    expect(line.node(0).missing).toEqual([]);
    line.run(1);
    expect(line.node(0).missing).toEqual([{ messageId: id, to: nobody }]);
    expect(line.node(0).router.stats()).toMatchObject({ receiptTimeouts: 1, pendingReceipts: 0 });
    expect(line.node(1).router.stats().directFlooded).toBe(1);
  });

  it('forgets the routes through a peer that goes down', () => {
    const line = mesh({ size: 4, edges: lineEdges(4) });
    line.node(3).router.broadcast('x');
    line.node(0).router.broadcast('y');
    line.run();
    expect(line.node(1).router.routes()).toHaveLength(2);
    line.cut(1, 2);
    expect(line.node(1).router.routes()).toEqual([
      { originId: line.node(0).info.id, via: line.node(0).info.id, hops: 1 },
    ]);
  });

  it('ignores a receipt signed by anyone but the destination', () => {
    const line = mesh({ size: 2, edges: lineEdges(2) });
    const id = line.node(0).router.send('0123456789abcdef', 'hi');
    const intruder = makeIdentity(seededRandom(99));
    const receipt = craftRouted(intruder, nodeInfoOf(intruder, 99), {
      to: line.node(0).info.id,
      text: null,
      receipt: { messageId: id },
    });
    line.inject(0, 1, receipt);
    expect(line.node(0).receipts).toEqual([]);
    expect(line.node(0).router.stats().receiptsUnmatched).toBe(1);
  });
});

describe('the reforward rule', () => {
  it('forwards again a copy that arrives later with more TTL, so a tight TTL cuts nobody off', () => {
    // 0-1-2-3 is a fast long path, 0-3 a slow direct link, 3-4 the only way to node 4. With TTL 3
    // node 3 first gets a copy with TTL 1 (cannot forward), then the direct copy with TTL 3.
    const edges = [
      [0, 1],
      [1, 2],
      [2, 3],
      [0, 3],
      [3, 4],
    ] as const;
    const slow = (a: number, b: number): number => (a + b === 3 && a * b === 0 ? 100 : 1);
    const net = mesh({ size: 5, edges, config: { ttl: 3 }, latencyMs: slow });
    net.node(0).router.broadcast('far');
    net.run();
    expect(net.node(3).delivered).toHaveLength(1);
    expect(net.node(3).delivered[0]?.hops).toBe(3); // the early long-path copy was delivered
    expect(net.node(3).router.stats()).toMatchObject({ reforwarded: 1, ttlExpired: 1, delivered: 1 });
    expect(net.node(4).delivered).toHaveLength(1);
    expect(net.node(4).delivered[0]?.hops).toBe(2);
  });
});

describe('bad input is dropped, counted, and never delivered', () => {
  const random = seededRandom(42);
  const author = makeIdentity(random);
  const authorInfo = nodeInfoOf(author, 50);
  const other = makeIdentity(random);
  const otherInfo = nodeInfoOf(other, 51);

  /** 0 - 1 - 2: bad input is injected at node 1 as if node 0 relayed it. */
  function victim(config: MeshOptions['config'] = {}): RouterMesh {
    return mesh({ size: 3, edges: lineEdges(3), config });
  }

  function expectNothingDelivered(net: RouterMesh): void {
    net.run();
    expect(net.node(1).delivered).toEqual([]);
    expect(net.node(2).delivered).toEqual([]);
    expect(net.node(1).router.stats().forwarded).toBe(0);
  }

  it('forged signature: punishes the relay, and is not marked seen', () => {
    const net = victim();
    const genuine = craftRouted(author, authorInfo, { id: 'm1' });
    const forged = { ...genuine, signature: other.sign(Buffer.from('whatever')) };
    net.inject(1, 0, forged);
    expectNothingDelivered(net);
    expect(net.node(1).router.stats()).toMatchObject({
      badSignature: 1,
      'drop.badSignature': 1,
      seenEntries: 0,
    });
    expect(net.node(1).punished).toEqual([
      { peerId: net.node(0).info.id, reason: expect.stringContaining('m1') },
    ]);
    net.inject(1, 0, genuine);
    net.run();
    expect(net.node(1).delivered.map((m) => m.id)).toEqual(['m1']);
    expect(net.node(2).delivered.map((m) => m.id)).toEqual(['m1']);
  });

  it('a message claiming this node as origin with a bad signature is a bad signature', () => {
    const net = victim();
    net.inject(1, 0, craftRouted(author, net.node(1).info, { id: 'fake-own' }));
    expectNothingDelivered(net);
    expect(net.node(1).punished).toHaveLength(1);
  });

  it('origin id not matching its key', () => {
    const net = victim();
    net.inject(1, 0, craftRouted(author, { ...authorInfo, id: otherInfo.id }));
    expectNothingDelivered(net);
    expect(net.node(1).router.stats()).toMatchObject({
      invalidPayload: 1,
      'drop.origin': 1,
      badSignature: 0,
    });
    expect(net.node(1).punished.map((p) => p.peerId)).toEqual([net.node(0).info.id]);
  });

  it('TTL 4294967295 is lowered to maxTtl and still works', () => {
    const net = mesh({ size: 7, edges: lineEdges(7), config: { ttl: 2, maxTtl: 4 } });
    net.inject(1, 0, craftRouted(author, authorInfo, {}, { ttl: UINT32_MAX }));
    net.run();
    const reached = net.nodes.filter((node) => node.delivered.length === 1).map((node) => node.index);
    expect(reached).toEqual([1, 2, 3, 4]); // TTL 4 at node 1: three more links
  });

  it('TTL 0 counts as 1: delivered, not forwarded', () => {
    const net = victim();
    net.inject(1, 0, craftRouted(author, authorInfo, {}, { ttl: 0 }));
    net.run();
    expect(net.node(1).delivered).toHaveLength(1);
    expect(net.node(2).delivered).toEqual([]);
    expect(net.node(1).router.stats().ttlExpired).toBe(1);
  });

  it('hops over maxTtl drop; hops equal to maxTtl pass', () => {
    const net = victim({ maxTtl: 20, ttl: 16 });
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'a' }, { hops: UINT32_MAX }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'b' }, { hops: 21 }));
    expectNothingDelivered(net);
    expect(net.node(1).router.stats()).toMatchObject({ hopsExceeded: 2, 'drop.hopsExceeded': 2 });
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'c' }, { hops: 20 }));
    expect(net.node(1).delivered.map((m) => [m.id, m.hops])).toEqual([['c', 20]]);
  });

  it('empty and undecodable payloads', () => {
    const net = victim();
    const empty = new Uint8Array(0);
    net.inject(1, 0, { payload: empty, signature: author.sign(empty), ttl: 5, hops: 1 });
    net.inject(1, 0, {
      payload: new Uint8Array([0xff, 0xff]),
      signature: new Uint8Array(64),
      ttl: 5,
      hops: 1,
    });
    expectNothingDelivered(net);
    expect(net.node(1).router.stats()).toMatchObject({
      invalidPayload: 2,
      'drop.origin': 1,
      'drop.undecodable': 1,
    });
    // An empty payload has no origin, which every relay checks; decoders may differ on the other.
    expect(net.node(1).punished).toEqual([
      { peerId: net.node(0).info.id, reason: expect.stringContaining('origin') },
    ]);
  });

  it('text of 4096 bytes passes, 4097 bytes drop (also counted in UTF-8 bytes, not characters)', () => {
    const net = victim();
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'ok', text: { body: 'x'.repeat(4096) } }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'ok2', text: { body: 'é'.repeat(2048) } }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'long', text: { body: 'x'.repeat(4097) } }));
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'long2', text: { body: 'é'.repeat(2049) } }));
    net.run();
    expect(net.node(1).delivered.map((m) => m.id)).toEqual(['ok', 'ok2']);
    expect(net.node(1).router.stats()).toMatchObject({ invalidPayload: 2, 'drop.textTooLong': 2 });
  });

  it('each payload rule has its own counter', () => {
    const net = victim();
    const cases: Array<[string, Parameters<typeof craftRouted>[2]]> = [
      ['id', { id: '' }],
      ['id', { id: 'i'.repeat(65) }],
      ['to', { to: 'NOT-A-NODE-ID' }],
      ['room', { room: 'r'.repeat(65) }],
      ['content', { text: null }],
      ['receiptNotDirect', { text: null, receipt: { messageId: 'abc' } }],
      ['receiptId', { to: net.node(2).info.id, text: null, receipt: { messageId: '' } }],
    ];
    cases.forEach(([, fields], i) =>
      net.inject(1, 0, craftRouted(author, authorInfo, { id: `c${i}`, ...fields })),
    );
    expectNothingDelivered(net);
    const stats = net.node(1).router.stats();
    expect(stats.invalidPayload).toBe(cases.length);
    for (const [reason] of cases) expect(stats[`drop.${reason}`]).toBeGreaterThan(0);
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'i'.repeat(64), room: 'r'.repeat(64) }));
    expect(net.node(1).delivered).toHaveLength(0); // room 'rrr...' is not joined, but it was accepted
    expect(net.node(1).router.stats().invalidPayload).toBe(cases.length);
  });

  it('another origin reusing a message id is another message', () => {
    const net = victim();
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'same', text: { body: 'from author' } }));
    net.inject(1, 0, craftRouted(other, otherInfo, { id: 'same', text: { body: 'from other' } }));
    net.run();
    expect(net.node(1).delivered.map((m) => m.text)).toEqual(['from author', 'from other']);
    expect(net.node(2).delivered).toHaveLength(2);
  });

  it('a bad copy reusing a good id later is a duplicate: not delivered, not checked, not forwarded', () => {
    const net = victim();
    net.inject(1, 0, craftRouted(author, authorInfo, { id: 'good', text: { body: 'genuine' } }));
    const bad = craftRouted(other, authorInfo, { id: 'good', text: { body: 'tampered' } }, { ttl: 30 });
    net.inject(1, 0, bad);
    net.run();
    expect(net.node(1).delivered.map((m) => m.text)).toEqual(['genuine']);
    expect(net.node(2).delivered.map((m) => m.text)).toEqual(['genuine']);
    expect(net.node(1).router.stats()).toMatchObject({ duplicates: 1, badSignature: 0, reforwarded: 0 });
    expect(net.node(1).punished).toEqual([]);
  });
});

describe('seen cache', () => {
  it('ages by the injected clock: a copy replayed after seenCacheTtlMs is refused by its age', () => {
    const config = { seenCacheTtlMs: 1000, maxClockSkewMs: 100 };
    const net = mesh({ size: 2, edges: lineEdges(2), config });
    const author = makeIdentity(seededRandom(3));
    const routed = craftRouted(author, nodeInfoOf(author, 9));
    net.inject(1, 0, routed);
    net.run(999);
    net.inject(1, 0, routed);
    expect(net.node(1).delivered).toHaveLength(1);
    expect(net.node(1).router.stats().duplicates).toBe(1);
    net.run(2);
    expect(net.node(1).router.stats().seenEntries).toBe(0);
    net.inject(1, 0, routed);
    expect(net.node(1).delivered).toHaveLength(1);
    expect(net.node(1).router.stats()['drop.sentTooLongAgo']).toBe(1);
  });
});

describe('gossip', () => {
  it('delivers each message at most once', () => {
    const size = 40;
    const net = mesh({
      size,
      edges: randomEdges(size, 6, seededRandom(11)),
      seed: 11,
      config: { router: 'gossip', gossipFanout: 3 },
    });
    const ids = [0, 7, 13, 21, 33].map((i) => net.node(i).router.broadcast(`g${i}`));
    net.run();
    for (const id of ids) {
      const receivers = net.deliveriesOf(id).length;
      expect(receivers).toBeLessThanOrEqual(size - 1);
      expect(receivers).toBeGreaterThan(size / 2);
    }
    for (const node of net.nodes) {
      const counts = new Set(node.delivered.map((m) => m.id));
      expect(counts.size).toBe(node.delivered.length);
    }
    expect(net.sum('copiesSent')).toBeLessThan(ids.length * net.sum('delivered'));
  });
});

describe('each copy is encoded once, whatever the number of peers it goes to', () => {
  const random = seededRandom(77);
  const author = makeIdentity(random);
  const authorInfo = nodeInfoOf(author, 60);
  /** Node 0 in the middle of a star of `size - 1` neighbours. */
  const star = (size: number, config: MeshOptions['config'] = {}): RouterMesh =>
    mesh({ size, edges: Array.from({ length: size - 1 }, (_, i) => [0, i + 1] as const), config });

  /** What node `index` sent as Routed copies: to whom, the bytes, and their decoding. */
  function routedSent(net: RouterMesh, index: number): Array<{ to: string; encoded: Uint8Array }> {
    return net.node(index).sent.flatMap(({ to, out }) => {
      if (!('routed' in out.envelope)) return [];
      // The bytes are the envelope's own encoding, the same object at every read: what the
      // node writes is what was decided, encoded once.
      expect(out.bytes).toEqual(encodeEnvelope(out.envelope));
      expect(out.bytes).toBe(out.bytes);
      return [{ to, encoded: out.bytes }];
    });
  }

  it.each(['flood', 'gossip', 'plumtree'])(
    '%s: a relayed copy goes to every other neighbour as one and the same bytes',
    (router) => {
      const net = star(6, { router, gossipFanout: 64 });
      net.inject(0, 1, craftRouted(author, authorInfo, { id: 'relay-me' }, { ttl: 5, hops: 2 }));
      const sent = routedSent(net, 0);
      expect(sent.map(({ to }) => to).sort()).toEqual([2, 3, 4, 5].map((i) => net.node(i).info.id).sort());
      const first = sent[0]?.encoded;
      for (const { encoded } of sent) expect(encoded).toBe(first);
      const decoded = decodeEnvelope(first ?? new Uint8Array());
      expect(decoded.ok && decoded.value.kind === 'routed' && decoded.value.body).toMatchObject({
        ttl: 4,
        hops: 3,
      });
      expect(net.node(0).router.stats()).toMatchObject({ copiesSent: 4, forwarded: 4 });
      net.run();
      for (const i of [2, 3, 4, 5]) expect(net.node(i).delivered.map((m) => m.id)).toEqual(['relay-me']);
    },
  );

  it('an own broadcast, and a direct message flooded for want of a route, are encoded once too', () => {
    const net = star(5);
    net.node(0).router.broadcast('to all');
    net.node(0).router.send('0123456789abcdef', 'to nobody known');
    const sent = routedSent(net, 0);
    expect(sent).toHaveLength(8);
    // One encoding per message, shared by the four neighbours.
    expect(new Set(sent.slice(0, 4).map(({ encoded }) => encoded)).size).toBe(1);
    expect(new Set(sent.slice(4).map(({ encoded }) => encoded)).size).toBe(1);
    expect(sent[0]?.encoded).not.toBe(sent[4]?.encoded);
    expect(net.node(0).router.stats()).toMatchObject({ copiesSent: 8, forwarded: 0, directFlooded: 1 });
  });

  it('a reforward with more TTL is another copy with its own bytes, again one for every peer', () => {
    const net = star(4);
    const routed = craftRouted(author, authorInfo, { id: 'twice' }, { ttl: 2 });
    net.inject(0, 1, routed);
    net.inject(0, 1, { ...routed, ttl: 6 });
    const sent = routedSent(net, 0);
    expect(sent).toHaveLength(4);
    const [short, long] = [sent.slice(0, 2), sent.slice(2)].map((copies) => {
      expect(copies[0]?.encoded).toBe(copies[1]?.encoded);
      const decoded = decodeEnvelope(copies[0]?.encoded ?? new Uint8Array());
      return decoded.ok && decoded.value.kind === 'routed' ? decoded.value.body.ttl : undefined;
    });
    expect([short, long]).toEqual([1, 5]);
    expect(net.node(0).router.stats()).toMatchObject({ reforwarded: 1, copiesSent: 4 });
  });
});

describe('api and lifecycle', () => {
  it('refuses bad local input', () => {
    const net = mesh({ size: 1, edges: [] });
    const router = net.node(0).router;
    expect(() => router.broadcast('x'.repeat(4097))).toThrow(RangeError);
    expect(() => router.broadcast('x', 'r'.repeat(65))).toThrow(RangeError);
    expect(() => router.send('nope', 'x')).toThrow(RangeError);
    expect(() => router.send(net.node(0).info.id, 'x')).toThrow(RangeError);
  });

  it('stop cancels every timer, is idempotent, and ignores later input', () => {
    const net = mesh({ size: 1, edges: [], config: { router: 'plumtree' } });
    const router = net.node(0).router;
    router.send('0123456789abcdef', 'pending');
    expect(net.clock.pendingCount).toBe(1);
    router.stop();
    router.stop();
    expect(net.clock.pendingCount).toBe(0);
    expect(() => router.broadcast('late')).toThrow(/stopped/);
    net.run(60_000);
    expect(net.node(0).missing).toEqual([]);
  });

  it('counts control messages a strategy does not speak, and checks id lists', () => {
    const net = mesh({ size: 2, edges: lineEdges(2) });
    const peer = net.node(1).peers.get(0);
    if (!peer) throw new Error('no link');
    const origin = net.node(0).info.id;
    net.node(1).router.onControl(peer, 'ihave', { ids: ['a'], origins: [origin] });
    net.node(1).router.onControl(peer, 'prune', {});
    expect(net.node(1).router.stats()).toMatchObject({ 'drop.controlUnsupported': 2, controlDropped: 2 });
    expect(idListProblem({ ids: ['a', 'b'], origins: [origin, origin] }, 2)).toBeUndefined();
    expect(idListProblem({ ids: ['a', 'b', 'c'], origins: [origin, origin, origin] }, 2)).toBe(
      'idListTooLong',
    );
    expect(idListProblem({ ids: ['a', 'b'], origins: [origin] }, 2)).toBe('idListMismatch');
    expect(idListProblem({ ids: ['a'], origins: ['XYZ'] }, 2)).toBe('idListEntry');
    expect(isIdListWithinLimit({ ids: ['a', 'b', 'c'], origins: [] }, 2)).toBe(false);
    expect(isIdListWithinLimit({ ids: ['a'], origins: [] }, 2)).toBe(true);
  });

  it('Plumtree originates with maxTtl unless a TTL is set: its tree paths outrun the diameter', () => {
    expect(resolveConfig({}).ttl).toBe(16);
    expect(resolveConfig({ router: 'plumtree' }).ttl).toBe(32);
    expect(resolveConfig({ router: 'plumtree', maxTtl: 40 }).ttl).toBe(40);
    expect(resolveConfig({ router: 'plumtree', ttl: 12 }).ttl).toBe(12);
    expect(resolveConfig({ router: 'flood', ttl: 20 }).ttl).toBe(20);
  });

  it('an unknown strategy is a ConfigError naming the known ones', () => {
    const config = resolveConfig({ router: 'carrier-pigeon' });
    const identity = makeIdentity(seededRandom(5));
    const build = (): Router =>
      new Router({
        identity,
        self: nodeInfoOf(identity, 0),
        signatures: new KeyCachingChecker(),
        config,
        clock: new RouterMesh({ size: 0, edges: [] }).clock,
        random: seededRandom(5),
        log: silentLogger(),
        dataPeers: () => [],
        send: () => false,
        deliver: () => {},
        receipt: () => {},
        receiptMissing: () => {},
        punish: () => {},
      });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/carrier-pigeon.*flood, gossip, plumtree/);
    expect(() => createBroadcastStrategy('toString', {} as never)).toThrow(ConfigError);
  });
});
