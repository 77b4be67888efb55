/**
 * When the lab calls an overlay settled or healed, per strategy, on hand-made views; and the
 * watch that samples the views on the clock from an event on.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { checkOverlay, liveDegrees, overlayRule } from '../lab/overlay-rules.js';
import { healedJudge, OverlayWatch, settledJudge, type Judge } from '../lab/overlay-watch.js';
import { SimClock } from '../utils/sim-clock.js';

type Views = Map<string, string[]>;

/** Symmetric views of the live nodes from undirected edges; `extra` adds one-way entries. */
function views(nodes: string[], edges: Array<[string, string]>, extra: Array<[string, string]> = []): Views {
  const out: Views = new Map(nodes.map((id) => [id, []]));
  for (const [a, b] of edges) {
    out.get(a)?.push(b);
    out.get(b)?.push(a);
  }
  for (const [from, to] of extra) out.get(from)?.push(to);
  return out;
}

/** A ring of n live nodes n0..n(n-1), each linked to the next `reach` nodes. */
function ring(n: number, reach: number): { nodes: string[]; edges: Array<[string, string]> } {
  const nodes = Array.from({ length: n }, (_, i) => `n${i}`);
  const edges: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) for (let k = 1; k <= reach; k++) edges.push([`n${i}`, `n${(i + k) % n}`]);
  return { nodes, edges };
}

const hyparview = overlayRule(resolveConfig({ membership: 'hyparview', activeSize: 5 }));
const cyclon = overlayRule(
  resolveConfig({ membership: 'cyclon', cyclonViewSize: 8, cyclonShuffleLength: 3 }),
);

describe('overlay rules', () => {
  it('checks components over live entries, dead entries, and nodes short of their degree', () => {
    const { nodes, edges } = ring(6, 1);
    // n0 still lists "dead"; n3-n4 cut: the ring is a line, still one component.
    const v = views(
      nodes,
      edges.filter(([a, b]) => !(a === 'n3' && b === 'n4')),
      [['n0', 'dead']],
    );
    expect(liveDegrees(v).get('n0')).toBe(2);
    expect(checkOverlay(v, () => 2)).toEqual({ liveNodes: 6, components: 1, deadEntries: 1, belowDegree: 2 });
    const split = views(
      ['a', 'b', 'c', 'd'],
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
    );
    expect(checkOverlay(split, () => 0).components).toBe(2);
  });

  it('HyParView heals at activeSize - 1 live links each, or what the node had before, not one', () => {
    const { nodes, edges } = ring(10, 2); // every node at 4 links
    const before = new Map(nodes.map((id) => [id, 5]));
    expect(healedJudge(hyparview, before).observe(views(nodes, edges), 7)).toBe(7);
    // n0 left with one neighbour (n9): connected, no dead entry, but not refilled. n1, n2 and
    // n8 lose a link to it too; they held 3 before the failure, so 3 is all they are owed.
    const thin = edges.filter(([a, b]) => !(a === 'n0' || (b === 'n0' && a !== 'n9')));
    for (const id of ['n1', 'n2', 'n8']) before.set(id, 3);
    const judge = healedJudge(hyparview, before);
    expect(judge.observe(views(nodes, thin), 8)).toBeUndefined();
    expect(judge.why()).toBe('1 nodes short of live entries');
    // Had it held one link before the failure, one is all a heal owes it.
    expect(healedJudge(hyparview, new Map([...before, ['n0', 1]])).observe(views(nodes, thin), 9)).toBe(9);
    // A view naming a dead node is not healed.
    const stale = healedJudge(hyparview, before);
    expect(stale.observe(views(nodes, edges, [['n5', 'gone']]), 10)).toBeUndefined();
    expect(stale.why()).toBe('1 dead entries');
  });

  it('Cyclon heals with dead entries left, once each node holds a Shuffle of live ones', () => {
    const { nodes, edges } = ring(12, 2); // 4 live entries each, 3 asked
    const dead: Array<[string, string]> = nodes.map((id) => [id, 'dead']);
    const before = new Map(nodes.map((id) => [id, 8]));
    expect(healedJudge(cyclon, before).observe(views(nodes, edges, dead), 1)).toBe(1);
    const { edges: sparse } = ring(12, 1); // 2 live entries each
    expect(healedJudge(cyclon, before).observe(views(nodes, sparse, dead), 2)).toBeUndefined();
  });

  it('settles at the start of a quiet stretch as long as the quiet window', () => {
    const { nodes, edges } = ring(10, 1);
    const judge = settledJudge(hyparview, 1000);
    const quiet = views(nodes, edges);
    expect(judge.observe(quiet, 0)).toBeUndefined();
    expect(judge.observe(quiet, 500)).toBeUndefined();
    // One node in ten changing its view is more than 2%: the stretch starts again at 750.
    const moved = views(nodes, edges, [['n0', 'n5']]);
    expect(judge.observe(moved, 750)).toBeUndefined();
    expect(judge.why()).toBe('views still changing (1 of 10 nodes)');
    expect(judge.observe(moved, 1500)).toBeUndefined();
    expect(judge.observe(moved, 1750)).toBe(750);
  });

  it('checks again when a node goes though no view array changed (its peers keep a dead entry)', () => {
    const { nodes, edges } = ring(10, 3);
    const judge = settledJudge(hyparview, 1000);
    const whole = views(nodes, edges);
    expect(judge.observe(whole, 0)).toBeUndefined();
    expect(judge.observe(whole, 1000)).toBe(0);
    // The same arrays, one node fewer: every peer of n3 still lists it.
    const withoutN3 = new Map(whole);
    withoutN3.delete('n3');
    expect(judge.observe(withoutN3, 1250)).toBeUndefined();
    expect(judge.why()).toMatch(/dead/);
  });

  it('Cyclon settles on full views though they keep changing', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => `n${i}`);
    const full = (shift: number): Views =>
      new Map(nodes.map((id, i) => [id, nodes.filter((_, j) => j !== i && j !== (i + shift) % 10)]));
    const judge = settledJudge(cyclon, 1000);
    // 8 entries each (all others but one); every sample a different entry is left out.
    expect(judge.observe(full(1), 0)).toBeUndefined();
    expect(judge.observe(full(2), 500)).toBeUndefined();
    expect(judge.observe(full(3), 1000)).toBe(0);
    // 6 entries: short of cyclonViewSize - 1.
    const short = new Map(nodes.map((id, i) => [id, nodes.filter((_, j) => j !== i).slice(0, 6)]));
    const other = settledJudge(cyclon, 1000);
    expect(other.observe(short, 0)).toBeUndefined();
    expect(other.why()).toBe('10 nodes short of live entries');
  });
});

describe('OverlayWatch', () => {
  /** A judge that is reached at the first sample at or after `at`; records the sample times. */
  function reachedFrom(at: number): Judge & { samples: number[] } {
    const samples: number[] = [];
    return {
      samples,
      observe: (_views, now) => (samples.push(now), now >= at ? now : undefined),
      why: () => 'not yet',
    };
  }

  it('samples from the event on, every pollMs on the clock, and reports from the event', async () => {
    const clock = new SimClock(1000);
    const judge = reachedFrom(1250);
    const watch = new OverlayWatch({
      clock,
      views: async () => new Map(),
      judge,
      startedAt: 900,
      pollMs: 100,
      timeoutMs: 10_000,
    });
    await Promise.resolve();
    for (let i = 0; i < 5 && !watch.isFinished; i++) {
      clock.advance(100);
      await Promise.resolve();
      await Promise.resolve();
    }
    expect(judge.samples).toEqual([1000, 1100, 1200, 1300]);
    expect(watch.outcome()).toEqual({ state: 'reached', at: 1300, ms: 400 });
  });

  it('times out at its deadline from the event, saying why', async () => {
    const clock = new SimClock(0);
    const watch = new OverlayWatch({
      clock,
      views: async () => new Map(),
      judge: reachedFrom(Infinity),
      startedAt: 0,
      pollMs: 100,
      timeoutMs: 250,
    });
    for (let i = 0; i < 10 && !watch.isFinished; i++) {
      await Promise.resolve();
      await Promise.resolve();
      clock.advance(100);
    }
    expect(watch.outcome()).toEqual({ state: 'timeout', ms: 200, why: 'not yet' });
  });
});
