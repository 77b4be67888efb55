/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no external resource)
 * with the comparison table, each run's final overlay drawn, and histograms of in-degree and
 * hops per phase. Every piece of text from the input passes through {@link escapeHtml}: node
 * names are chosen by users and must not become markup.
 */
import { connectedComponents, graphOfSnapshot, inDegrees } from './graph.js';
import { stableJsonText } from './json.js';
import { forceLayout } from './layout.js';
import type { HistogramBin } from './stats.js';
import type { OverlaySnapshot, ReportInput, RunInput } from './report.js';
import { COMPARISON_COLUMNS, DETAIL_COLUMNS, comparisonRows, type Column } from './table.js';

export interface HtmlOptions {
  /** @default 'p2pchat lab report' */
  title?: string;
  /** Printed under the title when given; the report itself never reads the clock. */
  generatedAt?: string;
  /**
   * Nodes drawn per overlay; beyond it the first nodes by id are drawn and a note says so.
   * @default 2000
   */
  maxDrawNodes?: number;
  /**
   * Links drawn per overlay, for the same reason (a full membership of 2000 has 2M links).
   * @default 20000
   */
  maxDrawEdges?: number;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Tableau 10: distinct to most eyes; components past the tenth get golden-angle hues. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f'];
PALETTE.push('#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac');

function componentColour(rank: number): string {
  return PALETTE[rank] ?? `hsl(${((rank * 137.508) % 360).toFixed(1)}, 55%, 50%)`;
}

const f1 = (v: number | undefined): string => (v ?? 0).toFixed(1);

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.overlay { border: 1px solid #ddd; background: #fff; max-width: 100%; height: auto; }
.edges line { stroke: #888; stroke-opacity: 0.45; stroke-width: 0.7; }
.edges line.one-way { stroke-dasharray: 3 2; }
.edges line.stale { stroke: #c33; stroke-opacity: 0.25; stroke-dasharray: 1 2; }
circle.node { stroke: #fff; stroke-width: 0.5; }
g.node.dead path { stroke: #888; stroke-width: 1.5; }
.legend span { display: inline-block; margin-right: 1em; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }
rect.bar { fill: #4e79a7; }
svg.histogram text { font-size: 10px; fill: #444; }
.note { color: #a33; }
`;

function htmlTable(id: string, report: Pick<ReportInput, 'runs'>, columns: readonly Column[]): string {
  const head = columns.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('');
  const body = comparisonRows(report, columns)
    .map((row) => {
      const cells = row.map((cell, i) => {
        const cls = columns[i]?.isNumeric ? ' class="num"' : '';
        return `<td${cls}>${escapeHtml(cell)}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table id="${escapeHtml(id)}">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/**
 * Bars of a histogram as an inline SVG. Values between the smallest and the largest get a bar
 * each, empty ones included, so the x axis reads as a scale (unless the range is very wide).
 */
export function renderHistogramSvg(title: string, bins: readonly HistogramBin[]): string {
  const [width, height, pad, top] = [320, 150, 24, 22];
  const first = bins[0]?.value ?? 0;
  const last = bins[bins.length - 1]?.value ?? 0;
  const isDense = bins.every((b) => Number.isInteger(b.value)) && last - first <= 200;
  const slots = isDense
    ? Array.from({ length: bins.length === 0 ? 0 : last - first + 1 }, (_, i) => ({
        value: first + i,
        count: bins.find((b) => b.value === first + i)?.count ?? 0,
      }))
    : [...bins];
  const peak = Math.max(1, ...slots.map((s) => s.count));
  const slotWidth = (width - 2 * pad) / Math.max(1, slots.length);
  const labelEvery = Math.max(1, Math.ceil(slots.length / 16));
  const bars = slots.map((slot, i) => {
    const barHeight = ((height - top - pad) * slot.count) / peak;
    const x = pad + i * slotWidth;
    const label =
      i % labelEvery === 0
        ? `<text x="${f1(x + slotWidth / 2)}" y="${height - pad + 12}" text-anchor="middle">${slot.value}</text>`
        : '';
    return (
      `<rect class="bar" x="${f1(x + 0.5)}" y="${f1(height - pad - barHeight)}" width="${f1(Math.max(0.5, slotWidth - 1))}"` +
      ` height="${f1(barHeight)}"><title>${slot.value}: ${slot.count}</title></rect>${label}`
    );
  });
  const empty =
    slots.length === 0 ? `<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>` : '';
  return (
    `<svg class="histogram" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">` +
    `<text x="${pad}" y="14">${escapeHtml(title)} (max ${peak})</text>` +
    `<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#444"/>` +
    `${bars.join('')}${empty}</svg>`
  );
}

interface DrawnGraph {
  ids: string[];
  alive: boolean[];
  /** Undirected links between drawn nodes, each once, with how they appear in the views. */
  links: Array<{ a: number; b: number; isMutual: boolean; isStale: boolean }>;
}

/** The nodes to draw (the first `maxNodes` by id) and their links, deduplicated. */
function drawnGraph(snapshot: OverlaySnapshot, maxNodes: number): DrawnGraph {
  const nodes = [...snapshot.nodes]
    .sort((p, q) => (p.id < q.id ? -1 : p.id > q.id ? 1 : 0))
    .slice(0, maxNodes);
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const directed = new Set(snapshot.edges.map(([from, to]) => `${from}\u0000${to}`));
  const links = new Map<string, DrawnGraph['links'][number]>();
  for (const [from, to] of snapshot.edges) {
    const a = index.get(from);
    const b = index.get(to);
    if (a === undefined || b === undefined || a === b) continue;
    const key = a < b ? `${a},${b}` : `${b},${a}`;
    if (links.has(key)) continue;
    const isMutual = directed.has(`${to}\u0000${from}`);
    const isStale = !nodes[a]?.alive || !nodes[b]?.alive;
    links.set(key, { a: Math.min(a, b), b: Math.max(a, b), isMutual, isStale });
  }
  return { ids: nodes.map((n) => n.id), alive: nodes.map((n) => n.alive), links: [...links.values()] };
}

function nodeElement(
  id: string,
  label: string,
  xy: readonly [number, number],
  live: { component: number; inDegree: number } | undefined,
  radius: number,
): string {
  const [x, y] = xy;
  if (!live) {
    const s = f1(radius);
    const path = `M${f1(x)} ${f1(y)}m-${s} -${s}l${s} ${s}l${s} ${s}m-${f1(2 * radius)} 0l${f1(2 * radius)} -${f1(2 * radius)}`;
    const title = `<title>${escapeHtml(label)} (dead)</title>`;
    return `<g class="node dead" data-id="${escapeHtml(id)}"><path d="${path}"/>${title}</g>`;
  }
  const title = `${label} (component ${live.component + 1}, in-degree ${live.inDegree})`;
  return (
    `<circle class="node" data-id="${escapeHtml(id)}" data-component="${live.component + 1}" data-in-degree="${live.inDegree}"` +
    ` cx="${f1(x)}" cy="${f1(y)}" r="${f1(radius)}" fill="${componentColour(live.component)}">` +
    `<title>${escapeHtml(title)}</title></circle>`
  );
}

/**
 * The overlay as an inline SVG: live nodes coloured by component (largest first) and sized by
 * in-degree, dead nodes as grey crosses; links dashed when only one side holds the other,
 * red-dotted when they point at a dead node (a stale view entry).
 */
export function renderOverlaySvg(snapshot: OverlaySnapshot, options: HtmlOptions = {}): string {
  const maxNodes = options.maxDrawNodes ?? 2000;
  const maxEdges = options.maxDrawEdges ?? 20_000;
  const graph = graphOfSnapshot(snapshot);
  const componentOf = new Map<string, number>();
  connectedComponents(graph).forEach((members, rank) => members.forEach((id) => componentOf.set(id, rank)));
  const degrees = inDegrees(graph);
  const drawn = drawnGraph(snapshot, maxNodes);
  const size = 760;
  const xy = forceLayout(
    drawn.ids.length,
    drawn.links.map((l) => [l.a, l.b] as const),
    { width: size, height: size, margin: 16 },
  );
  const at = (i: number): [number, number] => [xy[2 * i] ?? 0, xy[2 * i + 1] ?? 0];
  const meanDegree = Math.max(
    1,
    graph.live.size === 0 ? 1 : [...degrees.values()].reduce((s, d) => s + d, 0) / degrees.size,
  );
  const baseRadius = Math.max(1.5, Math.min(7, 90 / Math.sqrt(Math.max(1, drawn.ids.length))));
  const lines = drawn.links.slice(0, maxEdges).map((l) => {
    const [[x1, y1], [x2, y2]] = [at(l.a), at(l.b)];
    const cls = l.isStale ? ' class="stale"' : l.isMutual ? '' : ' class="one-way"';
    return `<line${cls} x1="${f1(x1)}" y1="${f1(y1)}" x2="${f1(x2)}" y2="${f1(y2)}"/>`;
  });
  const names = new Map(snapshot.nodes.map((n) => [n.id, n.name]));
  const circles = drawn.ids.map((id, i) => {
    const component = componentOf.get(id);
    const inDegree = degrees.get(id) ?? 0;
    const live = drawn.alive[i] && component !== undefined ? { component, inDegree } : undefined;
    const radius = live
      ? baseRadius * Math.min(2.5, 0.5 + 0.5 * Math.sqrt(inDegree / meanDegree))
      : baseRadius;
    return nodeElement(id, names.get(id) ?? id, at(i), live, radius);
  });
  return (
    `<svg class="overlay" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" role="img">\n` +
    `<g class="edges">${lines.join('\n')}</g>\n<g class="nodes">\n${circles.join('\n')}\n</g>\n</svg>` +
    overlayNotes(snapshot, drawn, maxEdges)
  );
}

function overlayNotes(snapshot: OverlaySnapshot, drawn: DrawnGraph, maxEdges: number): string {
  const notes: string[] = [];
  if (drawn.ids.length < snapshot.nodes.length) {
    notes.push(`Drawing the first ${drawn.ids.length} of ${snapshot.nodes.length} nodes (by id).`);
  }
  if (drawn.links.length > maxEdges) notes.push(`Drawing ${maxEdges} of ${drawn.links.length} links.`);
  return notes.map((note) => `\n<p class="note">${escapeHtml(note)}</p>`).join('');
}

function legend(snapshot: OverlaySnapshot): string {
  const components = connectedComponents(graphOfSnapshot(snapshot));
  const items = components.slice(0, 8).map((members, rank) => {
    const swatch = `<span class="swatch" style="background:${componentColour(rank)}"></span>`;
    return `<span>${swatch}component ${rank + 1}: ${members.length} nodes</span>`;
  });
  if (components.length > 8) items.push(`<span>... ${components.length - 8} more components</span>`);
  const dead = snapshot.nodes.filter((n) => !n.alive).length;
  items.push(`<span>&#x2715; dead: ${dead}</span>`);
  return `<p class="legend">${items.join('')}</p>`;
}

function runSection(run: RunInput, index: number, options: HtmlOptions): string {
  const title = `${run.membership} x ${run.router} (${run.transport}, ${run.nodes} nodes)`;
  const parts = [`<section class="run" id="run-${index}">`, `<h2>${escapeHtml(title)}</h2>`];
  if (run.snapshot) {
    parts.push(`<figure>\n${renderOverlaySvg(run.snapshot, options)}`);
    parts.push(
      `<figcaption>Final overlay. Size: in-degree.</figcaption>\n${legend(run.snapshot)}\n</figure>`,
    );
  } else {
    parts.push('<p>No overlay snapshot for this run.</p>');
  }
  parts.push(htmlTable(`details-${index}`, { runs: [run] }, DETAIL_COLUMNS));
  const charts = run.phases.flatMap((phase) => [
    renderHistogramSvg(`${phase.name}: in-degree`, phase.overlay.inDegree.histogram),
    renderHistogramSvg(`${phase.name}: hops`, phase.hopsHistogram ?? []),
  ]);
  parts.push(`<div class="charts">\n${charts.join('\n')}\n</div>`, '</section>');
  return parts.join('\n');
}

/** The whole page. Deterministic: the same input and options give the same bytes. */
export function renderReportHtml(input: ReportInput, options: HtmlOptions = {}): string {
  const title = options.title ?? 'p2pchat lab report';
  const generated = options.generatedAt ? `, generated ${escapeHtml(options.generatedAt)}` : '';
  const config = stableJsonText(input.config);
  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n<style>${CSS}</style>\n</head>`,
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>Seed: ${escapeHtml(String(input.seed))}${generated}</p>`,
    '<h2>Comparison</h2>',
    htmlTable('comparison', input, COMPARISON_COLUMNS),
    ...input.runs.map((run, i) => runSection(run, i, options)),
    `<h2>Configuration</h2>\n<pre>${escapeHtml(config)}</pre>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
