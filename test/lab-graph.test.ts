/**
 * Overlay-shape metrics on graphs whose answers are known by hand: line, ring, star, complete
 * graph, two cliques joined by a bridge; dead nodes and stale view entries; sampled paths.
 */
import { describe, expect, it } from 'vitest';
import {
  clusteringCoefficient,
  connectedComponents,
  graphOfSnapshot,
  inDegrees,
  overlayMetrics,
  pathMetrics,
  viewSymmetry,
  type OverlayGraph,
} from '../lab/graph.js';
import { seededRandom } from '../utils/random.js';

const ids = (n: number, prefix = 'n'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Every edge in both views, all nodes live unless `dead` says otherwise. */
function undirected(
  nodes: readonly string[],
  edges: readonly [string, string][],
  dead: string[] = [],
): OverlayGraph {
  const adjacency = new Map<string, string[]>(nodes.map((id) => [id, []]));
  for (const [a, b] of edges) {
    adjacency.get(a)?.push(b);
    adjacency.get(b)?.push(a);
  }
  return { adjacency, live: new Set(nodes.filter((id) => !dead.includes(id))) };
}

const lineEdges = (nodes: string[]): [string, string][] =>
  nodes.slice(1).map((id, i) => [nodes[i] ?? '', id] as [string, string]);
const ringEdges = (nodes: string[]): [string, string][] => [
  ...lineEdges(nodes),
  [nodes[nodes.length - 1] ?? '', nodes[0] ?? ''],
];
function cliqueEdges(nodes: string[]): [string, string][] {
  return nodes.flatMap((a, i) => nodes.slice(i + 1).map((b) => [a, b] as [string, string]));
}

describe('line', () => {
  it.each([2, 3, 7, 20])('of %i nodes: diameter n-1, avg path (n+1)/3, clustering 0', (n) => {
    const nodes = ids(n);
    const m = overlayMetrics(undirected(nodes, lineEdges(nodes)));
    expect(m.diameter).toBe(n - 1);
    expect(m.avgPath).toBeCloseTo((n + 1) / 3, 12);
    expect(m.clustering).toBe(0);
    expect(m.components).toBe(1);
    expect(m.largestShare).toBe(1);
    expect(m.symmetry).toBe(1);
    expect(m.pathSampled).toBe(false);
    expect(m.inDegree).toEqual({
      mean: (2 * (n - 1)) / n,
      min: 1,
      max: n === 2 ? 1 : 2,
      histogram:
        n === 2
          ? [{ value: 1, count: 2 }]
          : [
              { value: 1, count: 2 },
              { value: 2, count: n - 2 },
            ],
    });
  });
});

describe('ring', () => {
  it.each([
    // n, diameter, avg path: sum of distances from one node / (n - 1)
    [5, 2, (1 + 1 + 2 + 2) / 4],
    [6, 3, (1 + 1 + 2 + 2 + 3) / 5],
    [9, 4, (2 * (1 + 2 + 3 + 4)) / 8],
  ])('of %i nodes: diameter %i, avg path, clustering 0', (n, diameter, avgPath) => {
    const nodes = ids(n);
    const m = overlayMetrics(undirected(nodes, ringEdges(nodes)));
    expect(m.diameter).toBe(diameter);
    expect(m.avgPath).toBeCloseTo(avgPath, 12);
    expect(m.clustering).toBe(0);
    expect(m.inDegree).toEqual({ mean: 2, min: 2, max: 2, histogram: [{ value: 2, count: n }] });
  });

  it('of 3 nodes is a triangle: clustering 1', () => {
    const nodes = ids(3);
    expect(clusteringCoefficient(undirected(nodes, ringEdges(nodes)))).toBe(1);
  });
});

describe('star', () => {
  it('of 1 hub and 9 leaves: clustering 0, diameter 2, hub in-degree 9', () => {
    const [hub = '', ...leaves] = ids(10);
    const m = overlayMetrics(
      undirected(
        [hub, ...leaves],
        leaves.map((l) => [hub, l]),
      ),
    );
    expect(m.clustering).toBe(0);
    expect(m.diameter).toBe(2);
    // 9 hub-leaf pairs at 1, 36 leaf-leaf pairs at 2.
    expect(m.avgPath).toBeCloseTo((9 + 36 * 2) / 45, 12);
    expect(m.inDegree.max).toBe(9);
    expect(m.inDegree.histogram).toEqual([
      { value: 1, count: 9 },
      { value: 9, count: 1 },
    ]);
  });
});

describe('complete graph', () => {
  it.each([4, 12, 50])('of %i nodes: clustering 1, diameter 1, avg path 1', (n) => {
    const nodes = ids(n);
    const m = overlayMetrics(undirected(nodes, cliqueEdges(nodes)));
    expect(m.clustering).toBeCloseTo(1, 12);
    expect(m.diameter).toBe(1);
    expect(m.avgPath).toBe(1);
    expect(m.inDegree.mean).toBe(n - 1);
    expect(m.edges).toBe(n * (n - 1));
  });
});

describe('two cliques of 4 joined by one edge', () => {
  const a = ids(4, 'a');
  const b = ids(4, 'b');
  const bridge: [string, string] = ['a0', 'b0'];
  const withBridge = undirected([...a, ...b], [...cliqueEdges(a), ...cliqueEdges(b), bridge]);

  it('is one component; clustering by hand: bridge ends 3/6, the others 1', () => {
    const m = overlayMetrics(withBridge);
    expect(m.components).toBe(1);
    expect(m.largestShare).toBe(1);
    expect(m.clustering).toBeCloseTo((2 * 0.5 + 6 * 1) / 8, 12);
    expect(m.diameter).toBe(3);
    // Within cliques 12 pairs at 1; across: 1 at 1, 6 at 2, 9 at 3 = 40; 28 pairs in all.
    expect(m.avgPath).toBeCloseTo((12 + 40) / 28, 12);
  });

  it('without the bridge is two components of share 0.5 and clustering 1', () => {
    const m = overlayMetrics(undirected([...a, ...b], [...cliqueEdges(a), ...cliqueEdges(b)]));
    expect(m.components).toBe(2);
    expect(m.largestShare).toBe(0.5);
    expect(m.clustering).toBeCloseTo(1, 12);
    // Paths count only pairs that reach each other.
    expect(m.diameter).toBe(1);
    expect(m.avgPath).toBe(1);
  });

  it('lists components largest first, ties by smallest id', () => {
    const graph = undirected([...a, ...b, 'c0'], [...cliqueEdges(b), ...cliqueEdges(a.slice(1))]);
    expect(connectedComponents(graph)).toEqual([b, ['a1', 'a2', 'a3'], ['a0'], ['c0']]);
  });
});

describe('dead nodes', () => {
  const nodes = ids(5);
  // n0 - n1 - n2 - n3 - n4, with n2 dead: two live halves and stale entries pointing at n2.
  const graph = undirected(nodes, lineEdges(nodes), ['n2']);

  it('split the overlay and count in no figure', () => {
    const m = overlayMetrics(graph);
    expect(m.liveNodes).toBe(4);
    expect(m.components).toBe(2);
    expect(m.largestShare).toBe(0.5);
    expect(m.diameter).toBe(1);
    expect(m.avgPath).toBe(1);
    expect(m.edges).toBe(4);
    expect(m.symmetry).toBe(1);
    expect(connectedComponents(graph)).toEqual([
      ['n0', 'n1'],
      ['n3', 'n4'],
    ]);
  });

  it('give no in-degree to anyone, and have none themselves', () => {
    expect(inDegrees(graph)).toEqual(
      new Map([
        ['n0', 1],
        ['n1', 1],
        ['n3', 1],
        ['n4', 1],
      ]),
    );
  });

  it('leave an empty graph with null paths and symmetry when all are dead', () => {
    const m = overlayMetrics(undirected(nodes, lineEdges(nodes), nodes));
    expect(m).toMatchObject({ components: 0, largestShare: 0, clustering: 0, avgPath: null, diameter: 0 });
    expect(m.symmetry).toBeNull();
    expect(m.inDegree).toEqual({ mean: 0, min: 0, max: 0, histogram: [] });
  });
});

describe('views', () => {
  it('symmetry is the share of directed edges whose reverse exists', () => {
    const graph: OverlayGraph = {
      adjacency: new Map([
        ['a', ['b', 'c']],
        ['b', ['a']],
        ['c', []],
      ]),
      live: new Set(['a', 'b', 'c']),
    };
    expect(viewSymmetry(graph)).toBeCloseTo(2 / 3, 12);
    // A one-way link is still a link for components and paths.
    expect(overlayMetrics(graph)).toMatchObject({ components: 1, diameter: 2 });
  });

  it('drop duplicates, self-loops and unknown ids', () => {
    const graph: OverlayGraph = {
      adjacency: new Map([
        ['a', ['b', 'b', 'a', 'ghost']],
        ['b', ['a']],
      ]),
      live: new Set(['a', 'b']),
    };
    expect(overlayMetrics(graph)).toMatchObject({ edges: 2, symmetry: 1, components: 1 });
    expect(inDegrees(graph)).toEqual(
      new Map([
        ['a', 1],
        ['b', 1],
      ]),
    );
  });

  it('a live node absent from the adjacency is an isolated component', () => {
    const graph: OverlayGraph = { adjacency: new Map([['a', ['b']]]), live: new Set(['a', 'b', 'c']) };
    expect(overlayMetrics(graph)).toMatchObject({ components: 2, liveNodes: 3 });
    expect(overlayMetrics(graph).largestShare).toBeCloseTo(2 / 3, 12);
  });

  it('graphOfSnapshot reads nodes and directed edges', () => {
    const graph = graphOfSnapshot({
      nodes: [
        { id: 'a', alive: true },
        { id: 'b', alive: true },
        { id: 'c', alive: false },
      ],
      edges: [
        ['a', 'b'],
        ['a', 'c'],
        ['b', 'a'],
      ],
    });
    expect(graph.live).toEqual(new Set(['a', 'b']));
    expect(graph.adjacency.get('a')).toEqual(['b', 'c']);
  });
});

describe('sampled paths', () => {
  /** A random graph: each node links to 3 random others; seeded, so the test replays. */
  function randomGraph(n: number, seed: number): OverlayGraph {
    const random = seededRandom(seed);
    const nodes = ids(n);
    const edges: [string, string][] = nodes.flatMap((id) =>
      [0, 1, 2].map(() => [id, nodes[random.int(n)] ?? ''] as [string, string]),
    );
    return undirected(nodes, edges);
  }

  it('equal the exact figures when samples >= n', () => {
    const graph = randomGraph(60, 7);
    const exact = pathMetrics(graph);
    const random = seededRandom(1);
    const forced = pathMetrics(graph, { exactMaxNodes: 10, samples: 60, random: () => random.float() });
    expect(exact.sampled).toBe(false);
    expect(forced).toEqual(exact);
  });

  it('are used above exactMaxNodes, are deterministic for a seed, and bound the diameter', () => {
    const graph = randomGraph(300, 3);
    const exact = pathMetrics(graph);
    const run = (seed: number) => {
      const random = seededRandom(seed);
      let calls = 0;
      const metrics = pathMetrics(graph, {
        exactMaxNodes: 100,
        samples: 40,
        random: () => (calls++, random.float()),
      });
      return { metrics, calls };
    };
    const first = run(5);
    expect(first.metrics).toMatchObject({ sampled: true, sources: 40 });
    expect(first.calls).toBe(40);
    expect(run(5)).toEqual(first);
    expect(first.metrics.diameter).toBeLessThanOrEqual(exact.diameter);
    expect(first.metrics.avgPath).toBeCloseTo(exact.avgPath ?? 0, 0);
    expect(overlayMetrics(graph, { exactMaxNodes: 100, samples: 40 }).pathSampled).toBe(true);
  });

  it('survive a random source that returns 1', () => {
    const graph = randomGraph(50, 9);
    const m = pathMetrics(graph, { exactMaxNodes: 10, samples: 20, random: () => 1 });
    expect(m.sources).toBe(20);
  });
});

describe('size', () => {
  it('measures a 1000-node overlay exactly, and a full membership of 400, quickly', () => {
    const random = seededRandom(11);
    const nodes = ids(1000);
    const edges: [string, string][] = nodes.flatMap((id) =>
      Array.from({ length: 5 }, () => [id, nodes[random.int(1000)] ?? ''] as [string, string]),
    );
    const m = overlayMetrics(undirected(nodes, edges));
    expect(m.pathSampled).toBe(false);
    expect(m.components).toBe(1);
    const full = ids(400);
    expect(overlayMetrics(undirected(full, cliqueEdges(full))).clustering).toBeCloseTo(1, 12);
  });
});

describe('against brute force', () => {
  /** Clustering by definition and paths by Floyd-Warshall, on the undirected live graph. */
  function naive(graph: OverlayGraph): { clustering: number; avgPath: number | null; diameter: number } {
    const nodes = [...graph.live].sort();
    const n = nodes.length;
    const linked = (a: string, b: string) =>
      a !== b && ((graph.adjacency.get(a) ?? []).includes(b) || (graph.adjacency.get(b) ?? []).includes(a));
    const neighbours = nodes.map((a) => nodes.filter((b) => linked(a, b)));
    let clustering = 0;
    for (const ns of neighbours) {
      let links = 0;
      ns.forEach((x, i) => ns.slice(i + 1).forEach((y) => (links += linked(x, y) ? 1 : 0)));
      if (ns.length >= 2) clustering += links / ((ns.length * (ns.length - 1)) / 2);
    }
    const d = nodes.map((a, i) => nodes.map((b, j) => (i === j ? 0 : linked(a, b) ? 1 : Infinity)));
    for (let k = 0; k < n; k++)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const via = (d[i]?.[k] ?? Infinity) + (d[k]?.[j] ?? Infinity);
          if (via < (d[i]?.[j] ?? Infinity)) (d[i] as number[])[j] = via;
        }
    const finite = d.flatMap((row, i) => row.filter((x, j) => i !== j && Number.isFinite(x)));
    return {
      clustering: n === 0 ? 0 : clustering / n,
      avgPath: finite.length === 0 ? null : finite.reduce((s, x) => s + x, 0) / finite.length,
      diameter: Math.max(0, ...finite),
    };
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('agree on a random directed graph with dead nodes (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const n = 5 + random.int(30);
    const nodes = ids(n);
    const adjacency = new Map(
      nodes.map((id) => [id, Array.from({ length: random.int(5) }, () => nodes[random.int(n)] ?? '')]),
    );
    const graph: OverlayGraph = { adjacency, live: new Set(nodes.filter(() => random.float() > 0.15)) };
    const expected = naive(graph);
    const m = overlayMetrics(graph);
    expect(m.clustering).toBeCloseTo(expected.clustering, 12);
    expect(m.diameter).toBe(expected.diameter);
    if (expected.avgPath === null) expect(m.avgPath).toBeNull();
    else expect(m.avgPath).toBeCloseTo(expected.avgPath, 12);
  });
});
