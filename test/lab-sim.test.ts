/**
 * The lab over the simulator (`--transport sim`, lab/sim-cluster.ts): the same scenario, flags and
 * report as with real nodes, its runs replay byte for byte, and its figures agree with the
 * full-stack memory transport, the reference for fidelity, on the same scenario and seed.
 */
import { describe, expect, it } from 'vitest';
import { parseLabFlags, runLab } from '../lab/cli.js';
import { renderReportJson, type PhaseReport, type ReportInput } from '../lab/report.js';

async function lab(args: string[]): Promise<ReportInput> {
  const flags = parseLabFlags(args);
  if (flags === 'help') throw new Error('asked for help');
  return runLab(flags, () => undefined);
}

function phase(report: ReportInput, name: string): PhaseReport {
  const found = report.runs[0]?.phases.find((p) => p.name === name);
  if (!found) throw new Error(`no phase ${name}`);
  return found;
}

const SMALL = ['--nodes', '150', '--broadcasts', '5', '--direct', '5', '--random-seed', '5'];
/** The fidelity check's size: large enough for the figures to mean something. */
const THOUSAND = ['--nodes', '1000', '--broadcasts', '5', '--direct', '5', '--random-seed', '5'];

/** Half the summed absolute difference of two normalised histograms: 0 same shape, 1 disjoint. */
function histogramDistance(
  a: ReadonlyArray<{ value: number; count: number }>,
  b: ReadonlyArray<{ value: number; count: number }>,
): number {
  const total = (h: typeof a): number => h.reduce((sum, { count }) => sum + count, 0);
  const [ta, tb] = [total(a), total(b)];
  const values = new Set([...a, ...b].map(({ value }) => value));
  const share = (h: typeof a, t: number, value: number): number =>
    (h.find((bin) => bin.value === value)?.count ?? 0) / t;
  let sum = 0;
  for (const value of values) sum += Math.abs(share(a, ta, value) - share(b, tb, value));
  return sum / 2;
}

describe('the lab over the simulator', () => {
  it('runs the default scenario: full delivery when steady and once healed, and replays byte for byte', async () => {
    const first = await lab(['--transport', 'sim', ...SMALL]);
    for (const name of ['steady', 'healed'])
      expect(phase(first, name).reliability).toEqual({ mean: 1, min: 1 });
    expect(phase(first, 'steady').direct.successRate).toBe(1);
    expect(first.config.transport).toBe('sim');
    expect(first.config.links).toBe('none');
    const again = await lab(['--transport', 'sim', ...SMALL]);
    expect(renderReportJson(again)).toBe(renderReportJson(first));
    const otherSeed = await lab(['--transport', 'sim', ...SMALL.slice(0, -1), '6']);
    expect(renderReportJson(otherSeed)).not.toBe(renderReportJson(first));
  }, 120_000);

  it('agrees with the memory transport at 1,000 nodes: reliability, RMR, LDH, in-degrees and diameter', async () => {
    const memory = await lab([
      '--transport',
      'memory',
      '--clock',
      'sim',
      '--links',
      'plaintext',
      ...THOUSAND,
    ]);
    const sim = await lab(['--transport', 'sim', ...THOUSAND]);
    for (const name of ['steady', 'healed']) {
      const [m, s] = [phase(memory, name), phase(sim, name)];
      expect(s.reliability).toEqual(m.reliability);
      // Stated tolerances: the overlays differ in detail (another order of events), not in kind.
      expect(Math.abs((s.rmr ?? 0) - (m.rmr ?? 0)), `${name} RMR ${s.rmr} vs ${m.rmr}`).toBeLessThan(
        0.1 * (m.rmr ?? 1),
      );
      expect(Math.abs((s.ldh ?? 0) - (m.ldh ?? 0)), `${name} LDH ${s.ldh} vs ${m.ldh}`).toBeLessThanOrEqual(
        1,
      );
      const [si, mi] = [s.overlay.inDegree, m.overlay.inDegree];
      expect(Math.abs(si.mean - mi.mean)).toBeLessThan(0.2);
      expect(Math.abs(si.min - mi.min)).toBeLessThanOrEqual(1);
      expect(Math.abs(si.max - mi.max)).toBeLessThanOrEqual(2);
      // At most a tenth of the nodes would have to move to another in-degree to match.
      expect(histogramDistance(si.histogram, mi.histogram), `${name} in-degrees`).toBeLessThanOrEqual(0.1);
      expect(Math.abs(s.overlay.diameter - m.overlay.diameter)).toBeLessThanOrEqual(1);
      expect(s.overlay.components).toBe(m.overlay.components);
    }
  }, 600_000);

  it('refuses what the simulator cannot do: a real clock, or links to seal', () => {
    expect(() => parseLabFlags(['--transport', 'sim', '--clock', 'real'])).toThrow(
      '--transport sim runs under --clock sim only',
    );
    expect(() => parseLabFlags(['--transport', 'sim', '--links', 'sealed'])).toThrow('leave out --links');
  });
});
