/**
 * `results.json`, the bench's public interface:
 * `{node, cpu, date, config, figures: [{name, value, unit, baseline: {name, value}, ratio, target, met}]}`.
 * Names start with their section (`codec`, `link`, `broadcast`, `growth`, `memory`, `failure`, `sim`,
 * `paper`).
 * `ratio` is value / baseline (both measured in the same run); `target` is the ratio (or, where
 * the baseline is null or the target says `"of": "value"`, the value) the figure must reach,
 * `met` whether it did, null when the figure is reported without a target.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';

export interface Figure {
  name: string;
  /** Null when what it times never happened within the bench's timeout (the target is then not met). */
  value: number | null;
  unit: string;
  baseline: { name: string; value: number } | null;
  ratio: number | null;
  /**
   * `{ atLeast }` or `{ atMost }`, applied to the ratio when there is a baseline, else to the
   * value; `of: 'value'` applies it to the value even with a baseline (Plumtree's RMR must be
   * at most 0.1, whatever flood's is).
   */
  target: Target | null;
  met: boolean | null;
}

export type Target = ({ atLeast: number } | { atMost: number }) & { of?: 'value' };

export interface Results {
  node: string;
  cpu: string;
  date: string;
  config: Record<string, string | number | boolean>;
  figures: Figure[];
}

export function figure(
  name: string,
  value: number | undefined,
  unit: string,
  baseline: { name: string; value: number } | null,
  target: Figure['target'] = null,
): Figure {
  const measured = value === undefined || Number.isNaN(value) ? null : value;
  const ratio = measured !== null && baseline && baseline.value !== 0 ? measured / baseline.value : null;
  const judged = baseline && target?.of !== 'value' ? ratio : measured;
  let met: boolean | null = null;
  if (target)
    met = judged !== null && ('atLeast' in target ? judged >= target.atLeast : judged <= target.atMost);
  return { name, value: measured, unit, baseline, ratio, target, met };
}

export function machine(): { node: string; cpu: string } {
  const list = cpus();
  return { node: process.version, cpu: `${list.length} x ${list[0]?.model ?? 'unknown'}` };
}

const fmt = (n: number | null | undefined): string =>
  n === null || n === undefined ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3);

function targetText(f: Figure): string {
  if (!f.target) return '-';
  const bound = 'atLeast' in f.target ? `>= ${f.target.atLeast}` : `<= ${f.target.atMost}`;
  return f.baseline && f.target.of === 'value' ? `value ${bound}` : bound;
}

export function formatFigures(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)}` : '-',
    fmt(f.ratio),
    targetText(f),
    f.met === null ? '-' : f.met ? 'met' : 'NOT met',
  ]);
  const header = ['figure', 'value', 'baseline', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function writeResults(dir: string, results: Results): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'results.json');
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

/** Runs `fn` repeatedly for about `ms` milliseconds; returns operations per second. */
export function opsPerSecond(fn: () => number, ms: number): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    ops += fn();
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}
