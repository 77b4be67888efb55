/**
 * The shape of the overlay, measured on a snapshot of every node's active view.
 *
 * Conventions, fixed here because the report's comparisons depend on them:
 * - Only live nodes count. An edge to or from a dead node is ignored: a stale view entry is
 *   exactly what these metrics must not hide.
 * - A view is a set: duplicate entries and self-loops are dropped.
 * - Components, clustering and paths treat the overlay as undirected (a link carries traffic
 *   both ways); in-degree and symmetry look at the directed views.
 * - Quantities that are undefined for the graph are `null` (see each field).
 */
import { histogram, type HistogramBin } from './stats.js';
import { seededRandom } from '../utils/random.js';

/** A snapshot of the overlay. */
export interface OverlayGraph {
  /** Directed edges: node id -> ids in its active view. Ids absent here have empty views. */
  adjacency: ReadonlyMap<string, readonly string[]>;
  /** The live nodes; every other id is dead. */
  live: ReadonlySet<string>;
}

/**
 * The graph of a list of nodes and directed edges (the report's `OverlaySnapshot`): nodes with
 * `alive: false` are dead.
 */
export function graphOfSnapshot(snapshot: {
  nodes: readonly { id: string; alive: boolean }[];
  edges: readonly (readonly [string, string])[];
}): OverlayGraph {
  const adjacency = new Map<string, string[]>();
  for (const [from, to] of snapshot.edges) {
    const targets = adjacency.get(from);
    if (targets) targets.push(to);
    else adjacency.set(from, [to]);
  }
  return { adjacency, live: new Set(snapshot.nodes.filter((n) => n.alive).map((n) => n.id)) };
}

export interface PathOptions {
  /**
   * Exact all-pairs BFS up to this many live nodes; above it, BFS from sampled sources.
   * @default 1000
   */
  exactMaxNodes?: number;
  /**
   * Number of BFS sources when sampling.
   * @default 100
   */
  samples?: number;
  /**
   * Uniform in [0, 1), picks the sampled sources. Injected so that a seeded run replays.
   * @default a fixed-seed generator, so even the default is deterministic
   */
  random?: () => number;
}

export interface PathMetrics {
  /**
   * Mean shortest-path length over ordered pairs of distinct live nodes that reach each other;
   * `null` when no such pair exists. When sampled, the mean over pairs from the sources.
   */
  avgPath: number | null;
  /**
   * Longest shortest path between live nodes that reach each other (0 without such pairs).
   * When sampled, the largest eccentricity among the sources: a lower bound.
   */
  diameter: number;
  /** True when fewer sources than live nodes were used. */
  sampled: boolean;
  /** BFS sources used. */
  sources: number;
}

export interface InDegreeMetrics {
  /** Over live nodes; 0 when there are none. */
  mean: number;
  min: number;
  max: number;
  histogram: HistogramBin[];
}

export interface OverlayMetrics {
  /** Connected components among live nodes (an isolated node is a component). */
  components: number;
  /** Largest component size / live nodes; 0 when no node is alive. */
  largestShare: number;
  inDegree: InDegreeMetrics;
  /** Average local clustering coefficient; a node with fewer than 2 neighbours counts as 0. */
  clustering: number;
  avgPath: number | null;
  diameter: number;
  /** Share of directed live edges whose reverse exists; `null` when there are no edges. */
  symmetry: number | null;
  liveNodes: number;
  /** Directed edges between live nodes, after dropping duplicates and self-loops. */
  edges: number;
  pathSampled: boolean;
}

/** The live graph with integer node indices, the form every metric below walks. */
interface Indexed {
  /** Live ids, sorted, so that indices (and sampling) do not depend on Map insertion order. */
  ids: string[];
  /** Directed out-neighbours, deduplicated. */
  out: number[][];
  /** Undirected neighbours, deduplicated. */
  und: number[][];
}

function indexGraph(graph: OverlayGraph): Indexed {
  const ids = [...graph.live].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const out: number[][] = ids.map(() => []);
  const undSets: Set<number>[] = ids.map(() => new Set());
  for (const [from, targets] of graph.adjacency) {
    const u = index.get(from);
    if (u === undefined) continue;
    const seen = new Set<number>();
    for (const to of targets) {
      const v = index.get(to);
      if (v === undefined || v === u || seen.has(v)) continue;
      seen.add(v);
      out[u]?.push(v);
      undSets[u]?.add(v);
      undSets[v]?.add(u);
    }
  }
  return { ids, out, und: undSets.map((s) => [...s]) };
}

function componentsOf(g: Indexed): number[][] {
  const seen = new Uint8Array(g.ids.length);
  const components: number[][] = [];
  for (let start = 0; start < g.ids.length; start++) {
    if (seen[start]) continue;
    seen[start] = 1;
    const members = [start];
    for (let i = 0; i < members.length; i++) {
      for (const v of g.und[members[i] ?? 0] ?? []) {
        if (!seen[v]) {
          seen[v] = 1;
          members.push(v);
        }
      }
    }
    components.push(members.sort((a, b) => a - b));
  }
  // Largest first; ties by smallest id (members are sorted, ids are sorted), so colours and
  // component numbers in the report are stable.
  return components.sort((a, b) => b.length - a.length || (a[0] ?? 0) - (b[0] ?? 0));
}

/**
 * Connected components of the live overlay, edges taken as undirected: largest first, ties
 * broken by the smallest id; ids within a component sorted.
 */
export function connectedComponents(graph: OverlayGraph): string[][] {
  const g = indexGraph(graph);
  return componentsOf(g).map((members) => members.map((i) => g.ids[i] ?? ''));
}

function inDegreesOf(g: Indexed): Int32Array {
  const degrees = new Int32Array(g.ids.length);
  for (const targets of g.out) for (const v of targets) degrees[v] = (degrees[v] ?? 0) + 1;
  return degrees;
}

/** In-degree of each live node: how many live nodes hold it in their active view. */
export function inDegrees(graph: OverlayGraph): Map<string, number> {
  const g = indexGraph(graph);
  const degrees = inDegreesOf(g);
  return new Map(g.ids.map((id, i) => [id, degrees[i] ?? 0]));
}

function inDegreeMetrics(g: Indexed): InDegreeMetrics {
  const degrees = inDegreesOf(g);
  if (degrees.length === 0) return { mean: 0, min: 0, max: 0, histogram: [] };
  // A loop, not Math.min(...degrees): spreading 100k arguments overflows the stack.
  let sum = 0;
  let least = Infinity;
  let most = 0;
  for (const d of degrees) {
    sum += d;
    least = Math.min(least, d);
    most = Math.max(most, d);
  }
  return { mean: sum / degrees.length, min: least, max: most, histogram: histogram(degrees) };
}

/**
 * Triangles through each node, each triangle found once by orienting every edge from lower to
 * higher (degree, index) rank: O(m^1.5) rather than O(sum deg^2), which matters for the full
 * membership, where every view holds every node.
 */
function trianglesOf(g: Indexed): Float64Array {
  const n = g.ids.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (g.und[a]?.length ?? 0) - (g.und[b]?.length ?? 0) || a - b,
  );
  const rank = new Int32Array(n);
  order.forEach((node, r) => (rank[node] = r));
  const higher = g.und.map((ns, u) => ns.filter((v) => (rank[v] ?? 0) > (rank[u] ?? 0)));
  const mark = new Int32Array(n).fill(-1);
  const triangles = new Float64Array(n);
  for (let u = 0; u < n; u++) {
    const up = higher[u] ?? [];
    for (const v of up) mark[v] = u;
    for (const v of up) {
      for (const w of higher[v] ?? []) {
        if (mark[w] !== u) continue;
        triangles[u] = (triangles[u] ?? 0) + 1;
        triangles[v] = (triangles[v] ?? 0) + 1;
        triangles[w] = (triangles[w] ?? 0) + 1;
      }
    }
  }
  return triangles;
}

function clusteringOf(g: Indexed): number {
  const n = g.ids.length;
  if (n === 0) return 0;
  const triangles = trianglesOf(g);
  let sum = 0;
  for (let u = 0; u < n; u++) {
    const d = g.und[u]?.length ?? 0;
    if (d >= 2) sum += (2 * (triangles[u] ?? 0)) / (d * (d - 1));
  }
  return sum / n;
}

/**
 * Average local clustering coefficient of the undirected live overlay: for each node, the
 * share of pairs of its neighbours that are linked, averaged over all live nodes, those with
 * fewer than two neighbours counting as 0 (the networkx convention); 0 for an empty graph.
 */
export function clusteringCoefficient(graph: OverlayGraph): number {
  return clusteringOf(indexGraph(graph));
}

function symmetryOf(g: Indexed): number | null {
  const edges = new Set<number>();
  const n = g.ids.length;
  // u * n + v stays exact in a double for any n below 2^26.
  g.out.forEach((targets, u) => targets.forEach((v) => edges.add(u * n + v)));
  if (edges.size === 0) return null;
  let mutual = 0;
  g.out.forEach((targets, u) => targets.forEach((v) => (mutual += edges.has(v * n + u) ? 1 : 0)));
  return mutual / edges.size;
}

/** Share of directed edges between live nodes whose reverse edge exists; `null` without edges. */
export function viewSymmetry(graph: OverlayGraph): number | null {
  return symmetryOf(indexGraph(graph));
}

/** Distinct indices in [0, n): all of them, or `k` chosen by a partial Fisher-Yates shuffle. */
function pickSources(n: number, k: number, random: () => number): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  if (k >= n) return all;
  for (let i = 0; i < k; i++) {
    // The clamp guards a source that returns exactly 1.
    const j = i + Math.min(n - i - 1, Math.floor(random() * (n - i)));
    const t = all[i] ?? 0;
    all[i] = all[j] ?? 0;
    all[j] = t;
  }
  return all.subarray(0, k);
}

function pathMetricsOf(g: Indexed, options: PathOptions): PathMetrics {
  const n = g.ids.length;
  const exactMaxNodes = options.exactMaxNodes ?? 1000;
  const k = n <= exactMaxNodes ? n : Math.max(1, options.samples ?? 100);
  const sources = pickSources(n, k, options.random ?? defaultRandom());
  const dist = new Int32Array(n);
  const queue = new Int32Array(n);
  let sum = 0;
  let pairs = 0;
  let diameter = 0;
  for (const s of sources) {
    dist.fill(-1);
    dist[s] = 0;
    queue[0] = s;
    let tail = 1;
    for (let head = 0; head < tail; head++) {
      const u = queue[head] ?? 0;
      const du = dist[u] ?? 0;
      for (const v of g.und[u] ?? []) {
        if (dist[v] !== -1) continue;
        dist[v] = du + 1;
        queue[tail++] = v;
        sum += du + 1;
        pairs++;
        if (du + 1 > diameter) diameter = du + 1;
      }
    }
  }
  return {
    avgPath: pairs === 0 ? null : sum / pairs,
    diameter,
    sampled: sources.length < n,
    sources: sources.length,
  };
}

function defaultRandom(): () => number {
  const random = seededRandom(0x1ab);
  return () => random.float();
}

/** Average shortest path and diameter of the undirected live overlay (see {@link PathMetrics}). */
export function pathMetrics(graph: OverlayGraph, options: PathOptions = {}): PathMetrics {
  return pathMetricsOf(indexGraph(graph), options);
}

/** Every overlay-shape figure of the report, from one indexing of the snapshot. */
export function overlayMetrics(graph: OverlayGraph, options: PathOptions = {}): OverlayMetrics {
  const g = indexGraph(graph);
  const components = componentsOf(g);
  const paths = pathMetricsOf(g, options);
  const n = g.ids.length;
  return {
    components: components.length,
    largestShare: n === 0 ? 0 : (components[0]?.length ?? 0) / n,
    inDegree: inDegreeMetrics(g),
    clustering: clusteringOf(g),
    avgPath: paths.avgPath,
    diameter: paths.diameter,
    symmetry: symmetryOf(g),
    liveNodes: n,
    edges: g.out.reduce((total, targets) => total + targets.length, 0),
    pathSampled: paths.sampled,
  };
}
