/**
 * The report writers: report.json is byte-identical for the same input and keeps its schema;
 * report.html is one self-contained page with the overlay drawn, histograms and the comparison
 * table, and escapes every piece of text; the stdout table is aligned.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graphOfSnapshot, overlayMetrics } from '../lab/graph.js';
import {
  phaseReport,
  renderReportJson,
  renderReportMarkdown,
  writeReportFiles,
  type OverlaySnapshot,
  type PhaseReport,
  type ReportInput,
} from '../lab/report.js';
import { escapeHtml, renderHistogramSvg, renderOverlaySvg, renderReportHtml } from '../lab/report-html.js';
import { summarizeBroadcasts, summarizeDirect, type BroadcastObservation } from '../lab/stats.js';
import { formatTable, formatNumber } from '../lab/table.js';

const EVIL = '<script>alert("x")</script> & | co';

/** Six nodes in a ring, n5 dead (its neighbours still hold it), n0 named by a hostile user. */
function snapshot(): OverlaySnapshot {
  const ids = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
  const edges: [string, string][] = ids.flatMap((id, i) => [
    [id, ids[(i + 1) % 6] ?? ''] as [string, string],
    [id, ids[(i + 5) % 6] ?? ''] as [string, string],
  ]);
  return {
    nodes: ids.map((id) => ({ id, alive: id !== 'n5', ...(id === 'n0' ? { name: EVIL } : {}) })),
    edges: edges.filter(([from]) => from !== 'n5'),
  };
}

function phase(name: string, missed: boolean): PhaseReport {
  const observation: BroadcastObservation = {
    originId: 'n0',
    liveNodeIds: ['n0', 'n1', 'n2', 'n3', 'n4'],
    deliveries: new Map([
      ['n1', { hops: 1, latencyMs: 1.25 }],
      ['n2', { hops: 2, latencyMs: 2.5 }],
      ['n4', { hops: 1, latencyMs: 1 / 3 }],
      ...(missed ? [] : [['n3', { hops: 2, latencyMs: 3 }] as const]),
    ]),
    copiesReceived: 5,
  };
  return phaseReport({
    name,
    broadcasts: summarizeBroadcasts([observation, observation]),
    direct: summarizeDirect([{ receipted: true, hops: 2 }]),
    overlay: overlayMetrics(graphOfSnapshot(snapshot())),
    durationMs: 1000,
    extras: { healMs: missed ? null : 250, cpuMs: 12.5 },
  });
}

function input(): ReportInput {
  return {
    seed: 42,
    config: { nodes: 6, membership: ['hyparview', 'cyclon'], nested: { b: 1, a: 2 } },
    runs: [
      {
        membership: 'hyparview',
        router: 'plumtree',
        transport: 'memory',
        nodes: 6,
        phases: [phase('steady', false), phase('after-kill', true)],
        snapshot: snapshot(),
      },
      {
        membership: 'cyclon',
        router: 'flood',
        transport: 'memory',
        nodes: 6,
        phases: [phase('steady', false)],
      },
    ],
  };
}

/** Every non-void element closed in order: a stand-in for "the browser parses it as written". */
function expectBalanced(html: string): void {
  const voids = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', '!doctype']);
  const stack: string[] = [];
  for (const match of html.matchAll(/<(\/?)([!a-zA-Z][a-zA-Z0-9-]*)[^>]*?(\/?)>/g)) {
    const [, closing, rawName = '', selfClosing] = match;
    const name = rawName.toLowerCase();
    if (voids.has(name) || selfClosing) continue;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
}

/**
 * The shape of a JSON value: the type name of each leaf, objects with their keys in order,
 * arrays as the list of the distinct shapes of their elements.
 */
function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const shapes = new Map(value.map((v) => [JSON.stringify(shapeOf(v)), shapeOf(v)]));
    return [...shapes.values()];
  }
  if (typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  return typeof value;
}

const BINS = [{ value: 'number', count: 'number' }];
/** The phase fields every phase has, in schema order; the optional ones follow. */
const PHASE_SHAPE = {
  name: 'string',
  broadcasts: 'number',
  reliability: { mean: 'number', min: 'number' },
  rmr: 'number',
  ldh: 'number',
  latencyMs: { p50: 'number', p95: 'number', p99: 'number', max: 'number' },
  direct: { sent: 'number', receipted: 'number', hops: 'number', successRate: 'number' },
  overlay: {
    components: 'number',
    largestShare: 'number',
    inDegree: { mean: 'number', min: 'number', max: 'number', histogram: BINS },
    clustering: 'number',
    avgPath: 'number',
    diameter: 'number',
    symmetry: 'number',
    liveNodes: 'number',
    edges: 'number',
    pathSampled: 'boolean',
  },
  durationMs: 'number',
  ldhMax: 'number',
  hopsHistogram: BINS,
};
/** The whole of report.json for `input()`: undefined optional fields are left out. */
const REPORT_SHAPE = {
  seed: 'number',
  config: { membership: ['string'], nested: { a: 'number', b: 'number' }, nodes: 'number' },
  runs: [
    {
      membership: 'string',
      router: 'string',
      transport: 'string',
      nodes: 'number',
      phases: [
        { ...PHASE_SHAPE, healMs: 'number', cpuMs: 'number' },
        { ...PHASE_SHAPE, healMs: 'null', cpuMs: 'number' },
      ],
    },
    {
      membership: 'string',
      router: 'string',
      transport: 'string',
      nodes: 'number',
      phases: [{ ...PHASE_SHAPE, healMs: 'number', cpuMs: 'number' }],
    },
  ],
};

describe('report.json', () => {
  it('is byte-identical for the same input, however its objects were built', () => {
    const reordered = input();
    const first = reordered.runs[0];
    if (first)
      first.phases = first.phases.map((p) => Object.fromEntries(Object.entries(p).reverse()) as PhaseReport);
    reordered.config = { nested: { a: 2, b: 1 }, membership: ['hyparview', 'cyclon'], nodes: 6 };
    expect(renderReportJson(reordered)).toBe(renderReportJson(input()));
  });

  it('has exactly the schema shape, snapshots left out, numbers rounded', () => {
    const json = JSON.parse(renderReportJson(input()));
    // Compared as text, so that key order counts at every level and a mismatch prints a diff.
    expect(JSON.stringify(shapeOf(json), null, 2)).toBe(JSON.stringify(REPORT_SHAPE, null, 2));
    const steady = json.runs[0].phases[0];
    expect(steady.latencyMs).toEqual({ p50: 1.25, p95: 3, p99: 3, max: 3 });
    expect(steady.direct).toEqual({ sent: 1, receipted: 1, hops: 2, successRate: 1 });
    expect(steady.healMs).toBe(250);
    const afterKill = json.runs[0].phases[1];
    expect(afterKill.reliability).toEqual({ mean: 0.75, min: 0.75 });
    // The RMR of 5 copies to 4 nodes, 5/3 - 1, written with 6 decimals.
    expect(afterKill.rmr).toBe(0.666667);
    expect(afterKill.latencyMs).toEqual({ p50: 1.25, p95: 2.5, p99: 2.5, max: 2.5 });
    expect(afterKill.healMs).toBeNull();
    expect(afterKill.convergeMs).toBeUndefined();
    expect(renderReportJson(input())).not.toContain('snapshot');
  });

  it('writes non-finite numbers as null', () => {
    const odd = input();
    const steady = odd.runs[0]?.phases[0];
    if (steady) steady.durationMs = Number.NaN;
    expect(JSON.parse(renderReportJson(odd)).runs[0].phases[0].durationMs).toBeNull();
  });
});

describe('report.html', () => {
  const html = renderReportHtml(input());

  it('is one self-contained, well-formed page', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|@import|url\(/i);
    expectBalanced(html);
  });

  it('draws the overlay: an element per node, dead nodes crossed, coloured by component', () => {
    expect(html).toContain('<svg class="overlay"');
    expect(html.match(/class="node[ "]/g)).toHaveLength(6);
    expect(html.match(/<circle class="node"/g)).toHaveLength(5);
    expect(html).toContain('<g class="node dead" data-id="n5">');
    // n5 dead breaks the ring into a line: one component, and stale links point at n5.
    expect(html.match(/data-component="1"/g)).toHaveLength(5);
    expect(html).toContain('class="stale"');
  });

  it('has the comparison table, a row per run x phase, and histograms of in-degree and hops', () => {
    const table = html.slice(html.indexOf('<table id="comparison">'), html.indexOf('</table>'));
    expect(table.match(/<tr>/g)).toHaveLength(1 + 3);
    expect(table).toContain('<td>after-kill</td>');
    expect(table).toContain('<td class="num">0.750</td>');
    expect(html).toContain('steady: in-degree');
    expect(html).toContain('after-kill: hops');
    expect(html.match(/<rect class="bar"/g)?.length).toBeGreaterThan(0);
  });

  it('escapes text: a node name cannot become markup', () => {
    expect(html).not.toContain(EVIL);
    expect(html).toContain(escapeHtml(EVIL));
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    const hostile = input();
    if (hostile.runs[1]) hostile.runs[1].membership = '<b>bold</b>';
    expect(renderReportHtml(hostile)).not.toContain('<b>bold</b>');
  });

  it('is the same bytes twice, and carries a timestamp only when given one', () => {
    expect(renderReportHtml(input())).toBe(html);
    expect(renderReportHtml(input(), { generatedAt: '2024-01-02T03:04:05Z' })).toContain(
      '2024-01-02T03:04:05Z',
    );
  });

  it('caps the drawing and says so', () => {
    const svg = renderOverlaySvg(snapshot(), { maxDrawNodes: 3, maxDrawEdges: 1 });
    expect(svg.match(/class="node[ "]/g)).toHaveLength(3);
    expect(svg.match(/<line/g)).toHaveLength(1);
    expect(svg).toContain('Drawing the first 3 of 6 nodes');
    expect(svg).toContain('Drawing 1 of 2 links');
  });

  it('draws a histogram with a bar per value in range, empty ones included', () => {
    const svg = renderHistogramSvg('hops', [
      { value: 1, count: 3 },
      { value: 4, count: 1 },
    ]);
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(4);
    expect(svg).toContain('<title>2: 0</title>');
    expect(renderHistogramSvg('none', [])).toContain('no data');
  });

  it('lays out 2000 nodes in reasonable time', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `n${String(i).padStart(4, '0')}`);
    const big: OverlaySnapshot = {
      nodes: ids.map((id) => ({ id, alive: true })),
      edges: ids.map((id, i) => [id, ids[(i * 7 + 1) % 2000] ?? ''] as [string, string]),
    };
    const svg = renderOverlaySvg(big);
    expect(svg.match(/<circle class="node"/g)).toHaveLength(2000);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});

describe('report.md and the stdout table', () => {
  it('report.md has the comparison and escapes cells', () => {
    const hostile = input();
    if (hostile.runs[0]) hostile.runs[0].router = 'a|b';
    const md = renderReportMarkdown(hostile);
    expect(md).toContain('| membership | router | transport | nodes | phase |');
    expect(md).toContain('a\\|b');
    expect(md).toContain('```json\n{\n  "membership"');
    expect(md).toBe(renderReportMarkdown(hostile));
  });

  it('the stdout table aligns its columns', () => {
    const lines = formatTable(input()).trimEnd().split('\n');
    expect(lines).toHaveLength(2 + 3);
    expect(lines[0]).toMatch(
      /^membership\s+router\s+phase\s+rel mean\s+rel min\s+RMR\s+LDH\s+p50 ms\s+p99 ms/,
    );
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[0]).toMatch(/\s+diam\s+converge ms\s+heal ms$/);
    expect(lines[2]).toMatch(/^hyparview\s+plumtree\s+steady\s.*\s+-\s+250$/);
    expect(lines[3]).toMatch(
      /^hyparview\s+plumtree\s+after-kill\s+0\.750\s+0\.750\s+0\.67\s+2\.0\s+1\.3\s+2\.5\s+1\s+4\s+-\s+-$/,
    );
  });

  it('prints "timeout" for a settle or heal that timed out, in every table', () => {
    const timedOut = input();
    const [steady, afterKill] = timedOut.runs[0]?.phases ?? [];
    if (!steady || !afterKill) throw new Error('input() has two phases');
    Object.assign(steady, { convergeMs: null, settleTimedOut: true, healMs: 40, healTimedOut: false });
    Object.assign(afterKill, { healMs: null, healTimedOut: true });
    const lines = formatTable(timedOut).trimEnd().split('\n');
    expect(lines[2]).toMatch(/\s+timeout\s+40$/);
    expect(lines[3]).toMatch(/\s+-\s+timeout$/);
    expect(renderReportMarkdown(timedOut)).toMatch(/\| steady \|( [^|]* \|){7} timeout \| 40 \|/);
    expect(renderReportHtml(timedOut)).toContain('<td class="num">timeout</td>');
    const json = JSON.parse(renderReportJson(timedOut)).runs[0].phases;
    expect(json[0]).toMatchObject({
      convergeMs: null,
      healMs: 40,
      settleTimedOut: true,
      healTimedOut: false,
    });
    expect(json[1]).toMatchObject({ healMs: null, healTimedOut: true });
  });

  it('formats undefined figures as a dash', () => {
    expect(formatNumber(null, 2)).toBe('-');
    expect(formatNumber(-0.0001, 2)).toBe('0.00');
  });

  it('writes the three files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-report-'));
    try {
      const paths = await writeReportFiles(join(dir, 'out'), input());
      expect(await readFile(paths.json, 'utf8')).toBe(renderReportJson(input()));
      expect(await readFile(paths.markdown, 'utf8')).toBe(renderReportMarkdown(input()));
      expect(await readFile(paths.html, 'utf8')).toBe(renderReportHtml(input()));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
