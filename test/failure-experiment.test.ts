/**
 * The paper's failure experiment on the simulator (sim/failure-experiment.ts), on meshes of a few
 * hundred nodes whose answers are known: no failure loses nothing, a run replays from its seed,
 * HyParView with flood heals a 30% failure within a few rounds, and the 'failures' stream kills
 * the same nodes whatever the membership or router.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import {
  healingRoundOf,
  overlayOf,
  pickIndexes,
  runFailureExperiment,
  type FailureExperimentOptions,
} from '../sim/failure-experiment.js';
import type { SimNode } from '../sim/simulation.js';
import { seededRandom } from '../utils/random.js';

const PAPER: Partial<NodeConfig> = { activeSize: 5, passiveSize: 30, arwl: 6, prwl: 3, gossipFanout: 4 };

function options(overrides: Partial<FailureExperimentOptions>): FailureExperimentOptions {
  return {
    seed: 1,
    nodes: 200,
    kill: 0.3,
    rounds: 3,
    broadcasts: 4,
    settleRounds: 3,
    config: { ...PAPER, membership: 'hyparview', router: 'flood' },
    ...overrides,
  };
}

describe('the failure experiment', () => {
  it('grows one overlay of (nearly) full active views before the failure, and with no failure loses nothing in any round', () => {
    const settled: { components: number; isolated: number; smallestView: number }[] = [];
    const result = runFailureExperiment(
      options({
        kill: 0,
        onPhase: (phase, sim) => {
          if (phase !== 'settled') return;
          const views = sim.nodes.map((n) => n.strategy.dataPeers().length);
          settled.push({ ...overlayOf(sim.nodes), smallestView: Math.min(...views) });
        },
      }),
    );
    // Symmetric views of 5 cannot all be full (the sum of degrees is even): a few hold 4.
    expect(settled).toEqual([{ components: 1, isolated: 0, smallestView: 4 }]);
    expect(result.killed).toBe(0);
    expect(result.survivors).toBe(200);
    expect(result.before).toMatchObject({ mean: 1, min: 1 });
    expect(result.rounds.map((r) => r.round)).toEqual([0, 1, 2, 3]);
    for (const round of result.rounds)
      expect(round).toMatchObject({ mean: 1, min: 1, first: 1, broadcasts: 4 });
    expect(result.healingRound).toBe(0);
  });

  it('replays identically from its seed; another seed differs', () => {
    const run = (seed: number): string =>
      JSON.stringify(
        runFailureExperiment(
          options({ seed, kill: 0.6, config: { ...PAPER, membership: 'cyclon', router: 'gossip' } }),
        ),
      );
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
  });

  it('flood over HyParView heals a 30% failure within a few rounds', () => {
    const result = runFailureExperiment(options({ kill: 0.3, rounds: 4 }));
    expect(result.killed).toBe(60);
    expect(result.survivors).toBe(140);
    expect(result.healingRound).not.toBeNull();
    expect(result.healingRound).toBeLessThanOrEqual(2);
    expect(result.rounds.at(-1)).toMatchObject({ mean: 1, min: 1 });
    expect(result.end).toEqual({ components: 1, isolated: 0 });
  });

  it('kills the same nodes and picks the same origins for two memberships and routers run with one seed', () => {
    const survivorsOf = (membership: string, router: string): number[] => {
      let survivors: readonly SimNode[] = [];
      runFailureExperiment(
        options({
          kill: 0.5,
          rounds: 0,
          config: { ...PAPER, membership, router },
          onPhase: (phase, _sim, live) => {
            if (phase === 'round 0') survivors = live;
          },
        }),
      );
      return survivors.map((n) => n.index);
    };
    const flood = survivorsOf('hyparview', 'flood');
    expect(flood).toHaveLength(100);
    expect(survivorsOf('cyclon', 'gossip')).toEqual(flood);
  });
});

describe('its parts', () => {
  it('pickIndexes draws distinct indexes in range, the same ones from the same seed', () => {
    const picked = pickIndexes(seededRandom(3), 50, 40);
    expect(new Set(picked).size).toBe(40);
    expect(picked.every((i) => Number.isInteger(i) && i >= 0 && i < 50)).toBe(true);
    expect(pickIndexes(seededRandom(3), 50, 40)).toEqual(picked);
  });

  it('the healing round is the first from which every broadcast reached every survivor', () => {
    const rounds = (mins: number[]) =>
      mins.map((min, round) => ({ round, min, mean: min, first: min, broadcasts: 1, shares: [min] }));
    expect(healingRoundOf(rounds([0.5, 1, 1]))).toBe(1);
    expect(healingRoundOf(rounds([1, 0.9, 1, 1]))).toBe(2);
    expect(healingRoundOf(rounds([0.5, 1, 0.99]))).toBeNull();
    expect(healingRoundOf(rounds([1]))).toBe(0);
  });
});
