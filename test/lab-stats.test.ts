/**
 * Broadcast figures on hand-counted deliveries (flood on a triangle, a tree on a line, a missed
 * node) and nearest-rank percentiles on arrays whose answers are known.
 */
import { describe, expect, it } from 'vitest';
import {
  broadcastMetrics,
  histogram,
  mean,
  mergeHistograms,
  min,
  percentileOfSorted,
  percentiles,
  relativeMessageRedundancy,
  summarizeBroadcasts,
  summarizeDirect,
  type BroadcastObservation,
  type DeliveryObservation,
} from '../lab/stats.js';

const deliveries = (entries: Record<string, [hops: number, latencyMs: number]>) =>
  new Map<string, DeliveryObservation>(
    Object.entries(entries).map(([id, [hops, latencyMs]]) => [id, { hops, latencyMs }]),
  );

/** Flood on a triangle a-b-c from a: a sends 2 copies, b and c each forward 1 to the other. */
const floodTriangle: BroadcastObservation = {
  originId: 'a',
  liveNodeIds: ['a', 'b', 'c'],
  deliveries: deliveries({ a: [0, 0], b: [1, 10], c: [1, 12] }),
  copiesReceived: 4,
};

/** A tree on the line a-b-c-d from a: each node receives exactly one copy. */
const treeLine: BroadcastObservation = {
  originId: 'a',
  liveNodeIds: new Set(['a', 'b', 'c', 'd']),
  deliveries: deliveries({ b: [1, 5], c: [2, 9], d: [3, 14] }),
  copiesReceived: 3,
};

/** Five live nodes, d missed the message; e was not live at send time but delivered. */
const missedOne: BroadcastObservation = {
  originId: 'a',
  liveNodeIds: ['a', 'b', 'c', 'd'],
  deliveries: deliveries({ b: [1, 4], c: [2, 8], e: [2, 30] }),
  copiesReceived: 5,
};

describe('percentiles', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('take the nearest rank ceil(p/100 * N) of 1..100', () => {
    expect(percentiles(oneToHundred)).toEqual({ p50: 50, p95: 95, p99: 99, max: 100 });
  });

  it('return observed values only: p99 of 10 samples is the maximum', () => {
    expect(percentiles([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])).toEqual({ p50: 5, p95: 10, p99: 10, max: 10 });
    expect(percentiles([3.5])).toEqual({ p50: 3.5, p95: 3.5, p99: 3.5, max: 3.5 });
    expect(percentiles([1, 2, 3, 4])).toEqual({ p50: 2, p95: 4, p99: 4, max: 4 });
  });

  it('sort numerically, not as strings, and leave the input alone', () => {
    const input = [100, 20, 3];
    expect(percentiles(input)).toEqual({ p50: 20, p95: 100, p99: 100, max: 100 });
    expect(input).toEqual([100, 20, 3]);
  });

  it('of 1..200: p95 190, p99 198', () => {
    const values = Array.from({ length: 200 }, (_, i) => 200 - i);
    expect(percentiles(values)).toEqual({ p50: 100, p95: 190, p99: 198, max: 200 });
  });

  it('compute the rank without binary rounding: p7 of 1..100 is 7, not 8', () => {
    // 0.07 * 100 is 7.000000000000001 in doubles; ceil of that would skip a rank.
    expect(percentileOfSorted(oneToHundred, 7)).toBe(7);
  });

  it('are null without samples; p0 is the minimum', () => {
    expect(percentiles([])).toEqual({ p50: null, p95: null, p99: null, max: null });
    expect(percentileOfSorted([2, 4, 6], 0)).toBe(2);
    expect(percentileOfSorted([], 50)).toBeNull();
  });

  it('mean and min, null without samples', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(min([4, -1, 7])).toBe(-1);
    expect(mean([])).toBeNull();
    expect(min([])).toBeNull();
  });
});

describe('histograms', () => {
  it('count each value, ascending', () => {
    expect(histogram([3, 1, 3, 2, 3])).toEqual([
      { value: 1, count: 1 },
      { value: 2, count: 1 },
      { value: 3, count: 3 },
    ]);
  });

  it('merge bin by bin', () => {
    expect(mergeHistograms([[{ value: 2, count: 1 }], histogram([1, 2])])).toEqual([
      { value: 1, count: 1 },
      { value: 2, count: 2 },
    ]);
  });
});

describe('one broadcast', () => {
  it('flood on a triangle: m = 4, n = 3, RMR = 4/2 - 1 = 1, LDH 1, reliability 1', () => {
    expect(broadcastMetrics(floodTriangle)).toEqual({ reliability: 1, rmr: 1, ldh: 1, delivered: 3 });
  });

  it('a tree on a line of 4: RMR 0, LDH 3', () => {
    // The origin is not in the deliveries map here; it still counts in RMR's n.
    expect(broadcastMetrics(treeLine)).toEqual({ reliability: 1, rmr: 0, ldh: 3, delivered: 4 });
  });

  it('reliability counts live nodes other than the origin that delivered: 2 of 3', () => {
    const m = broadcastMetrics(missedOne);
    expect(m.reliability).toBeCloseTo(2 / 3, 12);
    // n = a, b, c, e (every node that delivered); m = 5: 5 / 3 - 1.
    expect(m.delivered).toBe(4);
    expect(m.rmr).toBeCloseTo(5 / 3 - 1, 12);
    expect(m.ldh).toBe(2);
  });

  it('flood on a complete graph of 5: RMR n - 2 = 3', () => {
    // The origin sends 4; each of the 4 others forwards to the 3 nodes besides its sender.
    const observation: BroadcastObservation = {
      originId: 'a',
      liveNodeIds: ['a', 'b', 'c', 'd', 'e'],
      deliveries: deliveries({ b: [1, 1], c: [1, 1], d: [1, 1], e: [1, 1] }),
      copiesReceived: 4 + 4 * 3,
    };
    expect(broadcastMetrics(observation).rmr).toBe(3);
  });

  it('is undefined, not perfect, when nobody else got it or nobody else was live', () => {
    const lonely: BroadcastObservation = {
      originId: 'a',
      liveNodeIds: ['a', 'b'],
      deliveries: deliveries({ a: [0, 0] }),
      copiesReceived: 0,
    };
    expect(broadcastMetrics(lonely)).toEqual({ reliability: 0, rmr: null, ldh: null, delivered: 1 });
    expect(broadcastMetrics({ ...lonely, liveNodeIds: ['a'] }).reliability).toBeNull();
    expect(relativeMessageRedundancy(0, 1)).toBeNull();
    expect(relativeMessageRedundancy(0, 0)).toBeNull();
  });
});

describe('a phase', () => {
  it('averages reliability, RMR and LDH over broadcasts and pools deliveries', () => {
    const s = summarizeBroadcasts([floodTriangle, treeLine, missedOne]);
    expect(s.broadcasts).toBe(3);
    expect(s.reliability.mean).toBeCloseTo((1 + 1 + 2 / 3) / 3, 12);
    expect(s.reliability.min).toBeCloseTo(2 / 3, 12);
    expect(s.rmr).toBeCloseTo((1 + 0 + (5 / 3 - 1)) / 3, 12);
    expect(s.ldh).toBe(2);
    expect(s.ldhMax).toBe(3);
    // Origins excluded: 10 12 | 5 9 14 | 4 8 30 -> sorted 4 5 8 9 10 12 14 30.
    expect(s.latencyMs).toEqual({ p50: 9, p95: 30, p99: 30, max: 30 });
    expect(s.hopsHistogram).toEqual([
      { value: 1, count: 4 },
      { value: 2, count: 3 },
      { value: 3, count: 1 },
    ]);
  });

  it('skips undefined figures when averaging, and is null throughout when empty', () => {
    const lonely: BroadcastObservation = {
      originId: 'a',
      liveNodeIds: ['a', 'b'],
      deliveries: new Map(),
      copiesReceived: 0,
    };
    const s = summarizeBroadcasts([floodTriangle, lonely]);
    expect(s.rmr).toBe(1);
    expect(s.reliability).toEqual({ mean: 0.5, min: 0 });
    expect(summarizeBroadcasts([])).toEqual({
      broadcasts: 0,
      reliability: { mean: null, min: null },
      rmr: null,
      ldh: null,
      ldhMax: null,
      latencyMs: { p50: null, p95: null, p99: null, max: null },
      hopsHistogram: [],
    });
  });

  it('summarizes direct messages: success rate and mean hops of the receipted', () => {
    expect(
      summarizeDirect([
        { receipted: true, hops: 2 },
        { receipted: true, hops: 4 },
        { receipted: false, hops: null },
        { receipted: true, hops: null },
      ]),
    ).toEqual({ sent: 4, receipted: 3, hops: 3, successRate: 0.75 });
    expect(summarizeDirect([])).toEqual({ sent: 0, receipted: 0, hops: null, successRate: null });
  });
});
