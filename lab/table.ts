/**
 * The comparison of runs x phases as rows of cells, and its plain-text rendering for stdout.
 * The column sets live here so that stdout, report.md and report.html show the same figures
 * formatted the same way.
 */
import type { PhaseReport, Report, RunReport } from './report.js';

/** One column of the comparison: a header and how to read and format a cell. */
export interface Column {
  header: string;
  /** Right-aligned (numbers) or left-aligned (names). */
  isNumeric: boolean;
  cell(run: RunReport, phase: PhaseReport): string;
}

/** Fixed decimals, or "-" for a quantity that is undefined (null) or absent. */
export function formatNumber(value: number | null | undefined, digits: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const text = value.toFixed(digits);
  // toFixed keeps the sign of a negative value that rounds to zero; "-0.00" would mislead.
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

const text = (header: string, cell: Column['cell']): Column => ({ header, isNumeric: false, cell });
const num = (
  header: string,
  digits: number,
  read: (run: RunReport, phase: PhaseReport) => number | null,
) => ({
  header,
  isNumeric: true,
  cell: (run: RunReport, phase: PhaseReport) => formatNumber(read(run, phase), digits),
});

/** A converge or heal time, or "timeout" when the overlay never got there. */
const timing = (
  header: string,
  read: (p: PhaseReport) => number | null | undefined,
  timedOut: (p: PhaseReport) => boolean | undefined,
): Column => ({
  header,
  isNumeric: true,
  cell: (_, phase) => (timedOut(phase) ? 'timeout' : formatNumber(read(phase), 0)),
});
const convergeColumn = timing(
  'converge ms',
  (p) => p.convergeMs,
  (p) => p.settleTimedOut,
);
const healColumn = timing(
  'heal ms',
  (p) => p.healMs,
  (p) => p.healTimedOut,
);

/** The columns of the stdout table. */
export const STDOUT_COLUMNS: readonly Column[] = [
  text('membership', (run) => run.membership),
  text('router', (run) => run.router),
  text('phase', (_, phase) => phase.name),
  num('rel mean', 3, (_, p) => p.reliability.mean),
  num('rel min', 3, (_, p) => p.reliability.min),
  num('RMR', 2, (_, p) => p.rmr),
  num('LDH', 1, (_, p) => p.ldh),
  num('p50 ms', 1, (_, p) => p.latencyMs.p50),
  num('p99 ms', 1, (_, p) => p.latencyMs.p99),
  num('comps', 0, (_, p) => p.overlay.components),
  num('diam', 0, (_, p) => p.overlay.diameter),
  convergeColumn,
  healColumn,
];

/** The columns of the comparison in report.md and report.html: every schema figure. */
export const COMPARISON_COLUMNS: readonly Column[] = [
  text('membership', (run) => run.membership),
  text('router', (run) => run.router),
  text('transport', (run) => run.transport),
  num('nodes', 0, (run) => run.nodes),
  text('phase', (_, phase) => phase.name),
  num('broadcasts', 0, (_, p) => p.broadcasts),
  num('rel mean', 3, (_, p) => p.reliability.mean),
  num('rel min', 3, (_, p) => p.reliability.min),
  num('RMR', 2, (_, p) => p.rmr),
  num('LDH', 1, (_, p) => p.ldh),
  num('p50 ms', 1, (_, p) => p.latencyMs.p50),
  num('p95 ms', 1, (_, p) => p.latencyMs.p95),
  num('p99 ms', 1, (_, p) => p.latencyMs.p99),
  num('max ms', 1, (_, p) => p.latencyMs.max),
  num('direct sent', 0, (_, p) => p.direct.sent),
  num('receipted', 0, (_, p) => p.direct.receipted),
  num('direct hops', 2, (_, p) => p.direct.hops),
  num('comps', 0, (_, p) => p.overlay.components),
  num('largest', 3, (_, p) => p.overlay.largestShare),
  num('in-deg mean', 2, (_, p) => p.overlay.inDegree.mean),
  num('clustering', 3, (_, p) => p.overlay.clustering),
  num('avg path', 2, (_, p) => p.overlay.avgPath),
  num('diam', 0, (_, p) => p.overlay.diameter),
  num('symmetry', 3, (_, p) => p.overlay.symmetry),
  num('duration ms', 0, (_, p) => p.durationMs),
];

/** The per-run figures of report.md and report.html that the comparison leaves out. */
export const DETAIL_COLUMNS: readonly Column[] = [
  text('phase', (_, phase) => phase.name),
  num('LDH max', 0, (_, p) => p.ldhMax ?? null),
  num('in-deg min', 0, (_, p) => p.overlay.inDegree.min),
  num('in-deg max', 0, (_, p) => p.overlay.inDegree.max),
  num('live nodes', 0, (_, p) => p.overlay.liveNodes),
  num('edges', 0, (_, p) => p.overlay.edges),
  text('path sampled', (_, p) => (p.overlay.pathSampled ? 'yes' : 'no')),
  num('direct rate', 3, (_, p) => p.direct.successRate),
  convergeColumn,
  healColumn,
  num('memory/node B', 0, (_, p) => p.memoryPerNodeBytes ?? null),
  num('cpu ms', 0, (_, p) => p.cpuMs ?? null),
];

/** One row of cells per phase of every run, in report order. */
export function comparisonRows(report: Pick<Report, 'runs'>, columns: readonly Column[]): string[][] {
  return report.runs.flatMap((run) => run.phases.map((phase) => columns.map((c) => c.cell(run, phase))));
}

/** Columns padded to their widest cell, separated by two spaces; no trailing spaces. */
export function alignColumns(
  headers: readonly string[],
  rows: readonly string[][],
  isNumeric: boolean[],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (isNumeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...rows.map(line)].join('\n') + '\n';
}

/**
 * The comparison table printed on stdout: membership, router, phase, reliability mean/min,
 * RMR, LDH, p50/p99 latency, components and diameter, one line per run x phase.
 */
export function formatTable(
  report: Pick<Report, 'runs'>,
  columns: readonly Column[] = STDOUT_COLUMNS,
): string {
  return alignColumns(
    columns.map((c) => c.header),
    comparisonRows(report, columns),
    columns.map((c) => c.isNumeric),
  );
}
