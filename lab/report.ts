/**
 * The lab report: its public schema and the writers of report.json, report.md and report.html.
 *
 * report.json is read by scripts, so its schema is stable: fields are only ever added (as
 * optional phase fields), never renamed or retyped. Its bytes are a function of the input
 * alone: keys in schema order (free-form config keys sorted), numbers rounded to 6 decimals,
 * non-finite numbers as null, no timestamp unless the caller put one in `config`.
 *
 *   {
 *     "seed": 42,
 *     "config": { ... },                      // free-form, as the orchestrator ran it
 *     "runs": [{
 *       "membership": "hyparview", "router": "plumtree", "transport": "memory", "nodes": 100,
 *       "phases": [{
 *         "name": "steady", "broadcasts": 50,
 *         "reliability": { "mean": 1, "min": 1 },  // share of live nodes other than the origin
 *         "rmr": 0.02, "ldh": 6.1,                 // ldh: mean over broadcasts (Plumtree paper)
 *         "latencyMs": { "p50": 3.2, "p95": 7, "p99": 9.1, "max": 12 },
 *         "direct": { "sent": 20, "receipted": 20, "hops": 3.4, "successRate": 1 },
 *         "overlay": { "components": 1, "largestShare": 1,
 *                      "inDegree": { "mean": 5, "min": 4, "max": 7, "histogram": [{ "value": 4, "count": 9 }] },
 *                      "clustering": 0.1, "avgPath": 3.3, "diameter": 6, "symmetry": 1,
 *                      "liveNodes": 100, "edges": 500, "pathSampled": false },
 *         "durationMs": 5000,
 *         "ldhMax": 8, "hopsHistogram": [...], "convergeMs": ..., "healMs": ...,   // optional
 *         "memoryPerNodeBytes": ..., "cpuMs": ..., "settleTimedOut": false, "healTimedOut": false
 *       }]
 *     }]
 *   }
 *
 * Any figure that is undefined for its phase (no broadcast delivered, no edges) is null.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OverlayMetrics } from './graph.js';
import type { BroadcastSummary, DirectSummary, HistogramBin, Percentiles } from './stats.js';
import { COMPARISON_COLUMNS, DETAIL_COLUMNS, comparisonRows, type Column } from './table.js';
import { renderReportHtml, type HtmlOptions } from './report-html.js';
import { jsonNumber, normalizeJson, stableJsonText, type JsonValue } from './json.js';

// One import for the orchestrator: the schema's parts, the snapshot reader, the HTML writer.
export type { HistogramBin, Percentiles, DirectSummary, OverlayMetrics, JsonValue, HtmlOptions };
export type { InDegreeMetrics } from './graph.js';
export { graphOfSnapshot } from './graph.js';
export { jsonNumber, renderReportHtml };

/** The figures of one phase (grow, steady, after-kill, healed, ...) of one run. */
export interface PhaseReport {
  name: string;
  broadcasts: number;
  /** Per broadcast: delivered live nodes other than the origin / (live nodes - 1). */
  reliability: { mean: number | null; min: number | null };
  /** Mean relative message redundancy, m / (n - 1) - 1. */
  rmr: number | null;
  /** Mean last delivery hop over broadcasts. */
  ldh: number | null;
  /** Nearest-rank percentiles of send-to-deliver time over every delivery of the phase. */
  latencyMs: Percentiles;
  direct: DirectSummary;
  /** The overlay at the end of the phase. */
  overlay: OverlayMetrics;
  durationMs: number;
  /** Largest last delivery hop of the phase. */
  ldhMax?: number | null;
  hopsHistogram?: HistogramBin[];
  /**
   * On the phase after a settle: from the last join to the instant the overlay met its
   * strategy's settled rule (lab/overlay-rules.ts) and kept it over the quiet window; null when
   * it timed out.
   */
  convergeMs?: number | null;
  /**
   * On the phase after a heal: from the failure (or the partition lifted) to the first instant
   * the overlay met its strategy's healed rule; null when it timed out.
   */
  healMs?: number | null;
  memoryPerNodeBytes?: number | null;
  cpuMs?: number | null;
  /** On the phase after a settle: true when the overlay did not settle before the timeout. */
  settleTimedOut?: boolean;
  /** On the phase after a heal: true when the overlay did not heal before the timeout. */
  healTimedOut?: boolean;
}

/** One membership x router x transport combination. */
export interface RunReport {
  membership: string;
  router: string;
  transport: string;
  nodes: number;
  phases: PhaseReport[];
}

/** The content of report.json. */
export interface Report {
  seed: number | string;
  config: { [key: string]: JsonValue };
  runs: RunReport[];
}

/** A node of the final overlay, for drawing. */
export interface SnapshotNode {
  id: string;
  alive: boolean;
  name?: string;
}

/** The final overlay of a run, drawn in report.html; not part of report.json. */
export interface OverlaySnapshot {
  nodes: SnapshotNode[];
  /** Directed edges [from, to]: `to` is in the active view of `from`. */
  edges: Array<[string, string]>;
}

export interface RunInput extends RunReport {
  snapshot?: OverlaySnapshot;
}

/** What the writers take: the report plus, per run, the final overlay to draw. */
export interface ReportInput extends Omit<Report, 'runs'> {
  runs: RunInput[];
}

/** The optional phase fields beyond the broadcast, direct and overlay figures. */
export type PhaseExtras = Pick<
  PhaseReport,
  'convergeMs' | 'healMs' | 'memoryPerNodeBytes' | 'cpuMs' | 'settleTimedOut' | 'healTimedOut'
>;

/** Assembles a phase from the summaries of stats.ts and graph.ts. */
export function phaseReport(parts: {
  name: string;
  broadcasts: BroadcastSummary;
  direct: DirectSummary;
  overlay: OverlayMetrics;
  durationMs: number;
  extras?: PhaseExtras;
}): PhaseReport {
  const { broadcasts: b } = parts;
  return {
    name: parts.name,
    broadcasts: b.broadcasts,
    reliability: b.reliability,
    rmr: b.rmr,
    ldh: b.ldh,
    latencyMs: b.latencyMs,
    direct: parts.direct,
    overlay: parts.overlay,
    durationMs: parts.durationMs,
    ldhMax: b.ldhMax,
    hopsHistogram: b.hopsHistogram,
    ...parts.extras,
  };
}

function overlayJson(o: OverlayMetrics): { [key: string]: unknown } {
  const { mean, min, max, histogram } = o.inDegree;
  return {
    components: o.components,
    largestShare: o.largestShare,
    inDegree: { mean, min, max, histogram: histogram.map(({ value, count }) => ({ value, count })) },
    clustering: o.clustering,
    avgPath: o.avgPath,
    diameter: o.diameter,
    symmetry: o.symmetry,
    liveNodes: o.liveNodes,
    edges: o.edges,
    pathSampled: o.pathSampled,
  };
}

/** The phase with its keys in schema order, whatever order the caller built it in. */
function phaseJson(p: PhaseReport): { [key: string]: unknown } {
  const { p50, p95, p99, max } = p.latencyMs;
  const { sent, receipted, hops, successRate } = p.direct;
  return {
    name: p.name,
    broadcasts: p.broadcasts,
    reliability: { mean: p.reliability.mean, min: p.reliability.min },
    rmr: p.rmr,
    ldh: p.ldh,
    latencyMs: { p50, p95, p99, max },
    direct: { sent, receipted, hops, successRate },
    overlay: overlayJson(p.overlay),
    durationMs: p.durationMs,
    ldhMax: p.ldhMax,
    hopsHistogram: p.hopsHistogram?.map(({ value, count }) => ({ value, count })),
    convergeMs: p.convergeMs,
    healMs: p.healMs,
    memoryPerNodeBytes: p.memoryPerNodeBytes,
    cpuMs: p.cpuMs,
    settleTimedOut: p.settleTimedOut,
    healTimedOut: p.healTimedOut,
  };
}

/** The report.json object: snapshots dropped, keys ordered, numbers rounded. */
export function reportJson(input: ReportInput): Report {
  return {
    seed: input.seed,
    config: normalizeJson(input.config, true) as Report['config'],
    runs: input.runs.map((run) => ({
      membership: run.membership,
      router: run.router,
      transport: run.transport,
      nodes: run.nodes,
      phases: run.phases.map((p) => normalizeJson(phaseJson(p), false) as unknown as PhaseReport),
    })),
  };
}

/** report.json: byte-identical for identical input. */
export function renderReportJson(input: ReportInput): string {
  return JSON.stringify(reportJson(input), null, 2) + '\n';
}

/** Text as a Markdown table cell: no pipes, no line breaks, no raw HTML. */
export function escapeMarkdownCell(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ');
}

function markdownTable(report: Pick<Report, 'runs'>, columns: readonly Column[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(escapeMarkdownCell).join(' | ')} |`;
  const rule = `|${columns.map((c) => (c.isNumeric ? ' ---: ' : ' --- ')).join('|')}|`;
  const rows = comparisonRows(report, columns);
  return [line(columns.map((c) => c.header)), rule, ...rows.map(line)].join('\n') + '\n';
}

export interface MarkdownOptions {
  /** Printed under the title when given; the report itself never reads the clock. */
  generatedAt?: string;
}

/** report.md: the comparison table, then one section of details per run. */
export function renderReportMarkdown(input: ReportInput, options: MarkdownOptions = {}): string {
  const parts = ['# p2pchat lab report\n'];
  const seedLine = `Seed: ${escapeMarkdownCell(String(input.seed))}`;
  parts.push(
    options.generatedAt
      ? `${seedLine}, generated ${escapeMarkdownCell(options.generatedAt)}\n`
      : `${seedLine}\n`,
  );
  parts.push('## Comparison\n');
  parts.push(markdownTable(input, COMPARISON_COLUMNS));
  for (const run of input.runs) {
    parts.push(
      `## ${escapeMarkdownCell(`${run.membership} x ${run.router} (${run.transport}, ${run.nodes} nodes)`)}\n`,
    );
    parts.push(markdownTable({ runs: [run] }, DETAIL_COLUMNS));
  }
  // A fence longer than any backtick run in the config, so config text cannot close it.
  const configText = stableJsonText(input.config);
  const fence = '`'.repeat(Math.max(3, ...(configText.match(/`+/g) ?? []).map((r) => r.length + 1)));
  parts.push(`## Configuration\n\n${fence}json\n${configText}\n${fence}\n`);
  return parts.join('\n');
}

export interface WrittenReport {
  json: string;
  markdown: string;
  html: string;
}

/** Writes report.json, report.md and report.html into `dir` (created if missing). */
export async function writeReportFiles(
  dir: string,
  input: ReportInput,
  options: HtmlOptions = {},
): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const paths = {
    json: join(dir, 'report.json'),
    markdown: join(dir, 'report.md'),
    html: join(dir, 'report.html'),
  };
  await writeFile(paths.json, renderReportJson(input));
  await writeFile(paths.markdown, renderReportMarkdown(input, options));
  await writeFile(paths.html, renderReportHtml(input, options));
  return paths;
}
