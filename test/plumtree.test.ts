/**
 * Plumtree (Leitão, Pereira, Rodrigues, SRDS 2007) over the in-memory mesh: exactly-once
 * delivery, a tree that prunes itself down to almost no redundant copies, and recovery of lost
 * messages through IHave/Graft when a tree link dies, after which the tree is whole again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom, type Random } from '../utils/random.js';
import { isConnected, RouterMesh, randomEdges, type Edge, type MeshOptions } from './helpers/router-mesh.js';

const meshes: RouterMesh[] = [];

function mesh(options: MeshOptions): RouterMesh {
  const created = new RouterMesh(options);
  meshes.push(created);
  return created;
}

afterEach(() => {
  for (const created of meshes.splice(0)) created.stop();
});

/**
 * Link delays from 5 ms to 5 + spread - 1 ms, fixed per link, so that the first copy is not
 * always the shortest path.
 */
function edgeDelays(spreadMs: number): (a: number, b: number) => number {
  return (a, b) => {
    const [low, high] = a < b ? [a, b] : [b, a];
    return 5 + ((low * 31 + high * 17) % spreadMs);
  };
}
const edgeLatency = edgeDelays(20);

/** Plumtree over a random graph of degree 5, and the seeded source that also picks origins. */
function randomPlumtreeMesh(
  size: number,
  seed: number,
  latencyMs: (a: number, b: number) => number,
  config: MeshOptions['config'] = {},
): { net: RouterMesh; random: Random } {
  const random = seededRandom(seed);
  const edges = randomEdges(size, 5, random);
  return { net: mesh({ size, edges, seed, latencyMs, config: { router: 'plumtree', ...config } }), random };
}

/** Redundant copies per node reached: 0 on a perfect tree (the RMR of the paper). */
function rmr(net: RouterMesh, id: string): number {
  return net.copiesReceived(id) / (net.nodes.length - 1) - 1;
}

function expectExactlyOnce(net: RouterMesh, id: string, origin: number): void {
  for (const node of net.nodes) {
    const copies = node.delivered.filter((message) => message.id === id).length;
    expect(copies, `node ${node.index}`).toBe(node.index === origin ? 0 : 1);
  }
}

describe('plumtree on a random graph of 50 nodes', () => {
  const size = 50;
  const random = seededRandom(2024);
  const edges = randomEdges(size, 5, random);

  function network(): RouterMesh {
    return mesh({ size, edges, seed: 2024, latencyMs: edgeLatency, config: { router: 'plumtree' } });
  }

  function broadcastFrom(net: RouterMesh, origin: number, text: string): string {
    const id = net.node(origin).router.broadcast(text);
    net.run(5_000);
    expectExactlyOnce(net, id, origin);
    return id;
  }

  it('delivers exactly once, and redundancy falls near zero once the tree has formed', () => {
    const net = network();
    const first = broadcastFrom(net, 0, 'warm-up 0');
    expect(rmr(net, first)).toBeGreaterThan(1); // the first broadcast floods
    for (let i = 1; i < 5; i++) broadcastFrom(net, random.int(size), `warm-up ${i}`);
    const measured: number[] = [];
    for (let i = 0; i < 20; i++)
      measured.push(rmr(net, broadcastFrom(net, random.int(size), `measured ${i}`)));
    const mean = measured.reduce((a, b) => a + b, 0) / measured.length;
    expect(mean).toBeLessThan(0.1);
    expect(net.sum('prunesSent')).toBeGreaterThan(0);
    expect(net.sum('ihaveSent')).toBeGreaterThan(0);
    expect(net.sum('graftsSent')).toBe(0); // nothing was ever lost
  });

  it('recovers messages through IHave/Graft after a tree link dies, and the tree repairs', () => {
    const net = network();
    for (let i = 0; i < 6; i++) broadcastFrom(net, random.int(size), `warm-up ${i}`);
    // A tree link: one that carried a full copy of the last broadcast, whose loss keeps the graph whole.
    const origin = 3;
    const probe = broadcastFrom(net, origin, 'probe');
    const cut = treeLinks(net, probe).find(
      ([a, b]) =>
        a !== origin &&
        isConnected(
          size,
          edges.filter(([x, y]) => !sameEdge([x, y], [a, b])),
        ),
    );
    if (!cut) throw new Error('no tree link to cut');
    net.cut(cut[0], cut[1]);

    const graftsBefore = net.sum('graftsSent');
    broadcastFrom(net, origin, 'after the cut');
    expect(net.sum('graftsSent')).toBeGreaterThan(graftsBefore);
    expect(net.sum('graftAnswers')).toBeGreaterThan(0);

    // The grafted links now belong to the tree: the next broadcasts need no graft.
    const graftsAfterRepair = net.sum('graftsSent');
    const ids = [origin, 11, 27].map((from, i) => broadcastFrom(net, from, `repaired ${i}`));
    expect(net.sum('graftsSent')).toBe(graftsAfterRepair);
    for (const id of ids) expect(rmr(net, id)).toBeLessThan(0.2);
  });
});

describe('plumtree under concurrent broadcasts', () => {
  it('still delivers exactly once when many origins send at the same time', () => {
    // Concurrent floods from several origins prune links of one another's trees, so the eager
    // graph may split for a while: IHave/Graft must make up for it, never a second delivery.
    const size = 30;
    const { net, random } = randomPlumtreeMesh(size, 77, edgeLatency);
    const ids: Array<[string, number]> = [];
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 4; k++) {
        const origin = random.int(size);
        ids.push([net.node(origin).router.broadcast(`r${round} k${k}`), origin]);
      }
      net.run(5_000);
    }
    for (const [id, origin] of ids) expectExactlyOnce(net, id, origin);
    const mean = ids.reduce((total, [id]) => total + rmr(net, id), 0) / ids.length;
    expect(mean).toBeLessThan(2); // flooding this graph costs about 4
  });
});

describe('plumtree under overlapping broadcasts', () => {
  /** Links of 5 to 44 ms: a broadcast takes a few hundred ms to cross, the next starts 50 ms later. */
  const slowEdge = edgeDelays(40);

  /** Grafts sent while the second half of 120 broadcasts, one every 50 ms, went out. */
  function graftsOnceWarm(plumtreePruneGraceMs: number): { grafts: number; deliveries: number } {
    const size = 50;
    const { net, random } = randomPlumtreeMesh(size, 9, slowEdge, { plumtreePruneGraceMs });
    const ids: Array<[string, number]> = [];
    let graftsBefore = 0;
    for (let i = 0; i < 120; i++) {
      if (i === 60) graftsBefore = net.sum('graftsSent');
      const origin = random.int(size);
      ids.push([net.node(origin).router.broadcast(`m${i}`), origin]);
      net.run(50);
    }
    net.run(10_000);
    for (const [id, origin] of ids) expectExactlyOnce(net, id, origin);
    return { grafts: net.sum('graftsSent') - graftsBefore, deliveries: 60 * (size - 1) };
  }

  it('keeps its tree: links that just carried a first copy are spared, so Grafts stay rare', () => {
    const spared = graftsOnceWarm(1000);
    expect(spared.grafts / spared.deliveries).toBeLessThan(0.05);
  });

  it("with the paper's rule alone the tree falls apart into Grafts (what the grace is for)", () => {
    const paper = graftsOnceWarm(0);
    expect(paper.grafts / paper.deliveries).toBeGreaterThan(0.2);
  });
});

describe('plumtree on a triangle', () => {
  // 0-1, 0-2 and 1-2, all 1 ms: after one broadcast from 0, 1-2 is lazy both ways.
  function triangle(): RouterMesh {
    const edges: Edge[] = [
      [0, 1],
      [0, 2],
      [1, 2],
    ];
    return mesh({ size: 3, edges, config: { router: 'plumtree' } });
  }

  it('prunes the redundant link, then grafts through it when the tree link dies', () => {
    const net = triangle();
    net.node(0).router.broadcast('first');
    net.run(1_000);
    expect(net.node(1).router.stats()).toMatchObject({ lazyPeers: 1, eagerPeers: 1 });
    expect(net.node(2).router.stats()).toMatchObject({ lazyPeers: 1, eagerPeers: 1 });

    net.cut(0, 2);
    const id = net.node(0).router.broadcast('lost without a graft');
    net.run(50);
    expect(net.node(2).delivered).toHaveLength(1); // only 'first' so far: node 2 got an IHave
    net.run(2_000);
    const recovered = net.node(2).delivered.find((message) => message.id === id);
    expect(recovered?.hops).toBe(2);
    expect(net.node(2).router.stats()).toMatchObject({ graftsSent: 1, eagerPeers: 1, lazyPeers: 0 });
    expect(net.node(1).router.stats()).toMatchObject({ graftsReceived: 1, graftAnswers: 1, eagerPeers: 2 });

    const next = net.node(0).router.broadcast('through the repaired tree');
    net.run(10); // well below the graft timeout: an eager push
    expect(net.node(2).delivered.map((message) => message.id)).toContain(next);
    expect(net.node(2).router.stats().graftsSent).toBe(1);
  });

  it('forgets a message whose only announcer went away before the graft, and grafts nobody', () => {
    const net = triangle();
    net.node(0).router.broadcast('first');
    net.run(1_000);
    // Node 2 hears of a message from node 1 only; node 1 then goes away before the graft.
    const peer = net.node(2).peers.get(1);
    if (!peer) throw new Error('no link');
    const origin = net.node(0).info.id;
    net.node(2).router.onControl(peer, 'ihave', { ids: ['ghost'], origins: [origin] });
    expect(net.node(2).router.stats().missingTracked).toBe(1);
    net.cut(1, 2);
    net.run(5_000);
    expect(net.node(2).router.stats()).toMatchObject({ missingTracked: 0, graftsSent: 0 });
  });

  it('drops IHave and Graft lists over the limit or with mismatched lengths', () => {
    const net = mesh({
      size: 2,
      edges: [[0, 1]],
      config: { router: 'plumtree', maxIdsPerMessage: 3 },
    });
    const peer = net.node(1).peers.get(0);
    if (!peer) throw new Error('no link');
    const origin = net.node(0).info.id;
    const router = net.node(1).router;
    router.onControl(peer, 'ihave', { ids: ['a', 'b', 'c', 'd'], origins: [origin, origin, origin, origin] });
    router.onControl(peer, 'graft', { ids: ['a', 'b'], origins: [origin] });
    router.onControl(peer, 'ihave', { ids: ['a', 'b', 'c'], origins: [origin, origin, origin] });
    expect(router.stats()).toMatchObject({
      'drop.idListTooLong': 1,
      'drop.idListMismatch': 1,
      controlDropped: 2,
      ihaveReceived: 1,
      graftsReceived: 0,
      missingTracked: 3,
    });
  });

  it('batches IHave announcements and never exceeds maxIdsPerMessage', () => {
    const net = mesh({
      size: 3,
      edges: [
        [0, 1],
        [0, 2],
        [1, 2],
      ],
      config: { router: 'plumtree', maxIdsPerMessage: 4, plumtreeLazyFlushMs: 100 },
    });
    net.node(0).router.broadcast('prune round');
    net.run(1_000);
    for (let i = 0; i < 10; i++) net.node(0).router.broadcast(`burst ${i}`);
    net.run(1_000);
    // Node 1 announced 10 ids to its lazy peer 2: two full lists at once, the rest at the flush.
    expect(net.node(1).router.stats()).toMatchObject({ ihaveIdsSent: 10, ihaveSent: 3 });
    expect(net.node(2).router.stats()).toMatchObject({ 'drop.idListTooLong': 0, graftsSent: 0 });
  });
});

describe('plumtree grafts on a line of three', () => {
  it('asks the next announcer when the first one does not answer', () => {
    // 0 - 2 - 1, and only node 0 has the message: it sent it while it had no link at all.
    const graftTimeoutMs = 400;
    const net = mesh({
      size: 3,
      edges: [[1, 2]],
      config: { router: 'plumtree', plumtreeGraftTimeoutMs: graftTimeoutMs },
    });
    const id = net.node(0).router.broadcast('only node 0 has it');
    net.link(0, 2);
    const origin = net.node(0).info.id;
    const announcedBy = (from: number): void => {
      const peer = net.node(2).peers.get(from);
      if (!peer) throw new Error('no link');
      net.node(2).router.onControl(peer, 'ihave', { ids: [id], origins: [origin] });
    };
    announcedBy(1); // first, and wrongly: node 1 has nothing to answer a Graft with
    announcedBy(0);
    net.run(graftTimeoutMs + 100);
    expect(net.node(1).router.stats()).toMatchObject({ graftsReceived: 1, graftMisses: 1 });
    expect(net.node(0).router.stats().graftsReceived).toBe(0);
    expect(net.node(2).delivered).toEqual([]);

    net.run(graftTimeoutMs);
    expect(net.node(0).router.stats()).toMatchObject({ graftsReceived: 1, graftAnswers: 1 });
    expect(net.node(2).delivered.map((message) => message.id)).toEqual([id]);
    expect(net.node(2).router.stats()).toMatchObject({ graftsSent: 2, missingTracked: 0 });
    net.run(5_000);
    expect(net.node(2).delivered).toHaveLength(1);
    expect(net.node(2).router.stats().graftsSent).toBe(2);
  });
});

function sameEdge([a, b]: Edge, [c, d]: Edge): boolean {
  return (a === c && b === d) || (a === d && b === c);
}

/** The links a message crossed as a full copy, as (sender, receiver) index pairs. */
function treeLinks(net: RouterMesh, id: string): Edge[] {
  const byId = new Map(net.nodes.map((node) => [node.info.id, node.index]));
  return net.nodes.flatMap((node) =>
    node.observations
      .filter((event) => event.type === 'send' && event.id === id)
      .map((event) => [node.index, byId.get(event.type === 'send' ? event.toPeer : '') ?? -1] as const),
  );
}
