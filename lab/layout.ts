/**
 * A deterministic force-directed layout (Fruchterman-Reingold with gravity) for drawing the
 * overlay in report.html. No randomness: nodes start on a sunflower spiral in index order, so
 * the same graph always yields the same picture and report.html stays reproducible.
 */

export interface LayoutOptions {
  /** Size of the drawing, in SVG user units. */
  width: number;
  height: number;
  /** Space kept free around the drawing for node radii. */
  margin: number;
  /**
   * Force iterations.
   * @default clamp(3e7 / n^2, 20, 300): the repulsion is O(n^2) per iteration, so large graphs
   * get fewer iterations and the report stays within about a second at 2000 nodes
   */
  iterations?: number;
}

/** sqrt(5) - 1 times pi: the golden angle spreads the spiral's points evenly. */
const GOLDEN_ANGLE = Math.PI * (3 - Math.sqrt(5));
/** Pull toward the centre, so that separate components stay in frame instead of drifting off. */
const GRAVITY = 1.5;

function spiral(n: number): { x: Float64Array; y: Float64Array } {
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = 0.5 * Math.sqrt((i + 0.5) / n);
    x[i] = r * Math.cos(i * GOLDEN_ANGLE);
    y[i] = r * Math.sin(i * GOLDEN_ANGLE);
  }
  return { x, y };
}

/** Adds the pairwise repulsion k^2 / d of every pair to the displacements. */
function repel(x: Float64Array, y: Float64Array, dx: Float64Array, dy: Float64Array, k2: number): void {
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const xi = x[i] ?? 0;
    const yi = y[i] ?? 0;
    let fx = 0;
    let fy = 0;
    for (let j = i + 1; j < n; j++) {
      const ddx = xi - (x[j] ?? 0);
      const ddy = yi - (y[j] ?? 0);
      const f = k2 / Math.max(1e-12, ddx * ddx + ddy * ddy);
      fx += ddx * f;
      fy += ddy * f;
      dx[j] = (dx[j] ?? 0) - ddx * f;
      dy[j] = (dy[j] ?? 0) - ddy * f;
    }
    dx[i] = (dx[i] ?? 0) + fx;
    dy[i] = (dy[i] ?? 0) + fy;
  }
}

/** Adds the spring attraction d^2 / k of every edge to the displacements. */
function attract(
  x: Float64Array,
  y: Float64Array,
  dx: Float64Array,
  dy: Float64Array,
  edges: readonly (readonly [number, number])[],
  k: number,
): void {
  for (const [a, b] of edges) {
    const ddx = (x[a] ?? 0) - (x[b] ?? 0);
    const ddy = (y[a] ?? 0) - (y[b] ?? 0);
    const f = Math.sqrt(ddx * ddx + ddy * ddy) / k;
    dx[a] = (dx[a] ?? 0) - ddx * f;
    dy[a] = (dy[a] ?? 0) - ddy * f;
    dx[b] = (dx[b] ?? 0) + ddx * f;
    dy[b] = (dy[b] ?? 0) + ddy * f;
  }
}

/** Scales and centres the positions into the drawing area, keeping the aspect ratio. */
function fit(x: Float64Array, y: Float64Array, options: LayoutOptions): Float64Array {
  const n = x.length;
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, x[i] ?? 0);
    maxX = Math.max(maxX, x[i] ?? 0);
    minY = Math.min(minY, y[i] ?? 0);
    maxY = Math.max(maxY, y[i] ?? 0);
  }
  const innerW = options.width - 2 * options.margin;
  const innerH = options.height - 2 * options.margin;
  const scale = Math.min(innerW / Math.max(1e-9, maxX - minX), innerH / Math.max(1e-9, maxY - minY));
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = options.width / 2 + ((x[i] ?? 0) - (minX + maxX) / 2) * scale;
    out[2 * i + 1] = options.height / 2 + ((y[i] ?? 0) - (minY + maxY) / 2) * scale;
  }
  return out;
}

/**
 * Positions for `n` nodes joined by `edges` (index pairs; direction and duplicates do not
 * matter), as [x0, y0, x1, y1, ...] inside the drawing area.
 */
export function forceLayout(
  n: number,
  edges: readonly (readonly [number, number])[],
  options: LayoutOptions,
): Float64Array {
  const { x, y } = spiral(n);
  const iterations = options.iterations ?? Math.round(Math.min(300, Math.max(20, 3e7 / Math.max(1, n * n))));
  // The ideal edge length for n nodes in a unit square.
  const k = Math.sqrt(1 / Math.max(1, n));
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  const links = edges.filter(([a, b]) => a !== b && a >= 0 && b >= 0 && a < n && b < n);
  for (let it = 0; it < iterations; it++) {
    dx.fill(0);
    dy.fill(0);
    repel(x, y, dx, dy, k * k);
    attract(x, y, dx, dy, links, k);
    // Cooling: the largest step shrinks linearly, so the layout settles instead of oscillating.
    const temperature = 0.1 * (1 - it / iterations) + 0.002;
    for (let i = 0; i < n; i++) {
      const fx = (dx[i] ?? 0) - GRAVITY * (x[i] ?? 0);
      const fy = (dy[i] ?? 0) - GRAVITY * (y[i] ?? 0);
      const length = Math.sqrt(fx * fx + fy * fy);
      if (length === 0) continue;
      const step = Math.min(length, temperature) / length;
      x[i] = (x[i] ?? 0) + fx * step;
      y[i] = (y[i] ?? 0) + fy * step;
    }
  }
  return fit(x, y, options);
}
