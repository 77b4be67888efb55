/**
 * The simulation regression check (lab/regression.ts): the comparison on synthetic figures, so
 * the check itself is tested, then the fixed set on the simulator against the committed
 * expectations (test/fixtures/sim-regression.json, `npm run sim:expect`).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseLabFlags } from '../lab/cli.js';
import {
  REGRESSION_SET,
  compareFigures,
  expectationsOf,
  labArgs,
  phaseFigures,
  toleranceOf,
  type Expectations,
  type Figures,
} from '../lab/regression.js';
import type { PhaseReport } from '../lab/report.js';
import { isCi } from './helpers/ci.js';

const FLOOD_2 = 'hyparview/flood seed 2';

/** One scenario, one phase: after the kill, RMR 3.26 within 2% (0.0652), reliability 1 exactly. */
function expectations(): Expectations['scenarios'] {
  return {
    [FLOOD_2]: {
      'after-kill': {
        rmr: { expected: 3.26, tolerance: 0.0652 },
        reliabilityMin: { expected: 1, tolerance: 0 },
      },
    },
  };
}

function measured(rmr: number | null, reliabilityMin: number | null = 1): Figures {
  return { [FLOOD_2]: { 'after-kill': { rmr, reliabilityMin } } };
}

describe('compareFigures', () => {
  it('fails a figure worse beyond its tolerance, saying which figure moved and by how much', () => {
    const { failures } = compareFigures(expectations(), measured(3.41));
    expect(failures).toEqual([`${FLOOD_2} after-kill RMR 3.410 > 3.260 (+4.6%, tolerance 2.0%)`]);
  });

  it('fails a lower reliability: for it lower is worse, and a tolerance of 0 allows no loss', () => {
    const { failures } = compareFigures(expectations(), measured(3.26, 0.998));
    expect(failures).toEqual([
      `${FLOOD_2} after-kill reliability min 0.9980 < 1.0000 (-0.2%, tolerance 0.0%)`,
    ]);
  });

  it('passes a figure worse within its tolerance, up to the tolerance itself, and notes it', () => {
    for (const rmr of [3.3, 3.26 + 0.0652]) {
      const { failures, tolerated } = compareFigures(expectations(), measured(rmr));
      expect(failures).toEqual([]);
      expect(tolerated).toHaveLength(1);
    }
    expect(compareFigures(expectations(), measured(3.26 + 0.0653)).failures).toHaveLength(1);
  });

  it('passes better figures, however far, as improvements: the expectations can be tightened', () => {
    const { failures, improvements } = compareFigures(expectations(), measured(2.5));
    expect(failures).toEqual([]);
    expect(improvements).toEqual([`${FLOOD_2} after-kill RMR 2.500 < 3.260 (-23.3%, tolerance 2.0%)`]);
  });

  it('says nothing of figures equal to their expectations', () => {
    expect(compareFigures(expectations(), measured(3.26))).toEqual({
      failures: [],
      tolerated: [],
      improvements: [],
    });
  });

  it('gives an absolute change when the expected figure is 0', () => {
    const scenarios = { [FLOOD_2]: { steady: { rmr: { expected: 0, tolerance: 0.01 } } } };
    const { failures } = compareFigures(scenarios, { [FLOOD_2]: { steady: { rmr: 0.05 } } });
    expect(failures).toEqual([`${FLOOD_2} steady RMR 0.050 > 0.000 (+0.050, tolerance 0.010)`]);
  });

  it('fails a figure no longer measured (a heal that timed out), and notes one measured anew', () => {
    const timedOut = compareFigures(
      { [FLOOD_2]: { healed: { healRounds: { expected: 0.37, tolerance: 0.46 } } } },
      { [FLOOD_2]: { healed: { healRounds: null } } },
    );
    expect(timedOut.failures).toEqual([
      `${FLOOD_2} healed heal rounds: not measured (no delivery or timeout), expected 0.37`,
    ]);
    const healedNow = compareFigures(
      { [FLOOD_2]: { healed: { healRounds: { expected: null, tolerance: 0.46 } } } },
      { [FLOOD_2]: { healed: { healRounds: 0.5 } } },
    );
    expect(healedNow.failures).toEqual([]);
    expect(healedNow.improvements).toHaveLength(1);
  });

  it('fails a scenario, phase or figure missing on either side, naming it', () => {
    expect(compareFigures(expectations(), {}).failures).toEqual([`${FLOOD_2}: expected but not run`]);
    expect(compareFigures(expectations(), { [FLOOD_2]: { steady: { rmr: 3 } } }).failures).toEqual([
      `${FLOOD_2} after-kill: phase expected but not measured`,
      `${FLOOD_2} steady RMR: measured but not expected (regenerate the expectations)`,
    ]);
    expect(compareFigures(expectations(), { [FLOOD_2]: { 'after-kill': { rmr: 3.26 } } }).failures).toEqual([
      `${FLOOD_2} after-kill reliability min: expected but not measured`,
    ]);
    const extra = { ...measured(3.26), 'hyparview/flood seed 4': { 'after-kill': { rmr: 3 } } };
    expect(compareFigures(expectations(), extra).failures).toEqual([
      'hyparview/flood seed 4 after-kill RMR: measured but not expected (regenerate the expectations)',
    ]);
  });
});

describe('the expectations', () => {
  it('take the spread across the seeds of a scenario as tolerance, never below the floor', () => {
    expect(toleranceOf('rmr', [3.1, 3.16, 3.13])).toBeCloseTo(0.06, 9);
    expect(toleranceOf('rmr', [3.1, 3.1, 3.1])).toBe(0.01);
    expect(toleranceOf('reliabilityMin', [1, 1, 1])).toBe(0);
    expect(toleranceOf('healRounds', [0.5, null, 1.5])).toBe(1);
  });

  it('are met exactly by the figures they were made from, each seed with its group tolerance', () => {
    const checked: Figures = {
      'hyparview/flood seed 1': { steady: { rmr: 3.1, ldh: 7 } },
      'hyparview/flood seed 2': { steady: { rmr: 3.2, ldh: 7 } },
      'hyparview/plumtree seed 1': { steady: { rmr: 0.01, ldh: 18 } },
    };
    // A spread seed widens its group's tolerance and gets no expectation of its own.
    const spread: Figures = { 'hyparview/flood seed 4': { steady: { rmr: 3.4, ldh: 7 } } };
    const made = expectationsOf(REGRESSION_SET, { ...checked, ...spread });
    expect(Object.keys(made.scenarios)).toEqual(Object.keys(checked));
    expect(made.scenarios['hyparview/flood seed 2']?.steady?.rmr).toEqual({
      expected: 3.2,
      tolerance: toleranceOf('rmr', [3.1, 3.2, 3.4]),
    });
    expect(made.scenarios['hyparview/plumtree seed 1']?.steady?.ldh).toEqual({
      expected: 18,
      tolerance: 0.1,
    });
    expect(compareFigures(made.scenarios, checked)).toEqual({
      failures: [],
      tolerated: [],
      improvements: [],
    });
  });

  it('read a phase of report.json: times in membership rounds, figures a phase lacks left out', () => {
    const phase = {
      reliability: { mean: 1, min: 0.5 },
      rmr: 3,
      ldh: null,
      healMs: 6200,
    } as unknown as PhaseReport;
    expect(phaseFigures(phase, 10_000)).toEqual({
      reliabilityMean: 1,
      reliabilityMin: 0.5,
      rmr: 3,
      ldh: null,
      healRounds: 0.62,
    });
  });

  it('are measured by the lab over the simulator, with the lab flags of the set', () => {
    const flags = parseLabFlags(labArgs(REGRESSION_SET, 2), {});
    if (flags === 'help') throw new Error('asked for help');
    expect(flags).toMatchObject({ transport: 'sim', clock: 'sim', nodes: 1000, seed: 2, direct: 0 });
    expect(flags.routers).toEqual(['flood', 'plumtree']);
    expect(flags.steps).toContainEqual({ kill: 0.5 });
  });
});

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/sim-regression.json', import.meta.url), 'utf8'),
) as Expectations;

/** Generous: the set takes about 40 s of CPU, several times that on a crowded machine. */
const SET_TIMEOUT_MS = 600_000;

/**
 * The set's figures, measured by the built script (dist/ is built once per test run) in a plain
 * Node process: the same `runRegression`, about a third less CPU than in this worker.
 */
async function measureSet(): Promise<Figures> {
  const script = fileURLToPath(new URL('../dist/scripts/sim-expectations.js', import.meta.url));
  // Killed before the test's own timeout, so that no run outlives the test.
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--print'], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: SET_TIMEOUT_MS - 10_000,
  });
  return JSON.parse(stdout) as Figures;
}

describe('the simulation regression set', () => {
  // About 40 s of CPU (the set's 6 lab runs). SIM_REGRESSION=0 skips it locally, never in CI.
  it.skipIf(process.env.SIM_REGRESSION === '0' && !isCi())(
    'is no worse than its committed expectations',
    async () => {
      expect(fixture.set, 'the expectations were made for another set: npm run sim:expect').toEqual(
        REGRESSION_SET,
      );
      const { failures, tolerated, improvements } = compareFigures(fixture.scenarios, await measureSet());
      for (const line of tolerated) console.log(`sim regression, worse within tolerance: ${line}`);
      if (improvements.length > 0) {
        console.log(
          `sim regression: ${improvements.length} figures better than expected; the expectations can be tightened (npm run sim:expect):\n  ${improvements.join('\n  ')}`,
        );
      }
      expect(failures, 'figures worse than their expectations beyond tolerance').toEqual([]);
    },
    SET_TIMEOUT_MS,
  );
});
