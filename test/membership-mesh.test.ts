/**
 * Membership over real TCP in one process: a mesh grows from one seed, stays bounded, and
 * heals after 30% of its nodes die at once. One parameterised suite runs for every strategy;
 * each states what it promises (Cyclon's views are not symmetric, and by design it keeps dead
 * entries until shuffles age them out).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { TcpMesh, activeCount, components, isSymmetric, waitFor, type TestNode } from './helpers/tcp-mesh.js';
import { pickSome, seededRandom } from '../utils/random.js';

const NODES = 50;
const mesh = new TcpMesh();
afterEach(() => mesh.stopAll());

interface StrategyCase {
  membership: string;
  settings: Partial<NodeConfig>;
  /** Most entries of the view that `/peers` shows as active. */
  viewBound: number;
  /** Most passive entries shown. */
  passiveBound: number;
  isSymmetric: boolean;
  /** The view each survivor must at least reach again after the failure. */
  minViewAfterHeal: number;
  /** The view every node must reach once the overlay formed (0: none promised). */
  settledFloor: number;
  /** Whether survivors stop listing the dead within the test's time. */
  dropsDeadAtOnce: boolean;
}

const CASES: StrategyCase[] = [
  {
    membership: 'hyparview',
    settings: { activeSize: 5, passiveSize: 30 },
    viewBound: 5,
    passiveBound: 30,
    isSymmetric: true,
    minViewAfterHeal: 3,
    // activeSize - 1: nobody left with a view a full mesh refuses to complete.
    settledFloor: 4,
    dropsDeadAtOnce: true,
  },
  {
    membership: 'full',
    settings: { fullDegree: 5 },
    viewBound: 5 * 5,
    passiveBound: 100,
    isSymmetric: true,
    minViewAfterHeal: 3,
    settledFloor: 0,
    dropsDeadAtOnce: true,
  },
  {
    membership: 'cyclon',
    settings: { cyclonViewSize: 8, cyclonShuffleLength: 4 },
    viewBound: 8,
    passiveBound: 0,
    isSymmetric: false,
    minViewAfterHeal: 1,
    settledFloor: 0,
    dropsDeadAtOnce: false,
  },
];

describe.each(CASES)('$membership over TCP', (c) => {
  const config = { membership: c.membership, ...c.settings };

  it(`${NODES} nodes from one seed form one bounded overlay`, async () => {
    await mesh.grow(NODES, config);
    const nodes = mesh.running();
    await waitFor(
      () => components(nodes) === 1 && (!c.isSymmetric || isSymmetric(nodes)),
      30_000,
      'one component',
    );
    for (const n of nodes) {
      const { active, passive } = n.node.peers();
      expect(active.length).toBeLessThanOrEqual(c.viewBound);
      expect(passive.length).toBeLessThanOrEqual(c.passiveBound);
      const ids = [...active, ...passive].map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).not.toContain(n.node.id);
    }
    if (c.passiveBound > 0) {
      await waitFor(
        () => nodes.every((n) => n.node.peers().passive.length > 0),
        30_000,
        'passive views to fill',
      );
    }
    await waitFor(
      () => nodes.every((n) => activeCount(n) >= c.settledFloor),
      30_000,
      'every view to its floor',
    );
  });

  it('heals after 30% of the nodes die at once, and sees graceful leaves at once', async () => {
    await mesh.grow(NODES, config);
    const all = mesh.running();
    await waitFor(() => components(all) === 1, 30_000, 'initial overlay');
    const victims = pickSome(seededRandom(7), all.slice(1), Math.round(NODES * 0.3));
    await Promise.all(victims.map((v) => v.node.crash()));
    const dead = new Set(victims.map((v) => v.node.id));
    const survivors = mesh.running();
    const alive = (n: TestNode): number => n.node.peers().active.filter((p) => !dead.has(p.id)).length;
    await waitFor(
      () =>
        components(survivors) === 1 &&
        survivors.every((n) => alive(n) >= c.minViewAfterHeal) &&
        (!c.dropsDeadAtOnce || survivors.every((n) => n.node.peers().active.every((p) => !dead.has(p.id)))),
      30_000,
      'survivors to heal',
    );
    if (c.membership === 'hyparview') {
      const fullShare = (): number => survivors.filter((n) => activeCount(n) === 5).length / survivors.length;
      await waitFor(() => fullShare() > 0.5, 30_000, 'most active views to be full again');
    }
    const leaver = survivors[survivors.length - 1] as TestNode;
    // `full` gossips every address it knows, so others may teach the leaver's address again:
    // only its neighbours' active views are checked there.
    const listsLeaver = (n: TestNode): boolean =>
      [...n.node.peers().active, ...(c.membership === 'full' ? [] : n.node.peers().passive)].some(
        (p) => p.id === leaver.node.id,
      );
    const holdsLeaver = (n: TestNode): boolean => n.node.peers().active.some((p) => p.id === leaver.node.id);
    const neighbours = survivors.filter(
      (n) => n !== leaver && leaver.node.peers().active.some((p) => p.id === n.node.id),
    );
    const leavesOf = (n: TestNode): number => n.node.stats()['membership.leavesReceived'] ?? 0;
    const before = new Map(neighbours.map((n) => [n, leavesOf(n)]));
    // A neighbour that handled the Leave dropped the leaver from both views at once; a later
    // Shuffle from a node that never heard of the leave may teach its address again, as HyParView
    // allows, so for it only the active view is checked after the fact. Any other neighbour must
    // not list the leaver at all.
    const hasSeenLeave = (n: TestNode): boolean =>
      leavesOf(n) > (before.get(n) ?? 0) ? !holdsLeaver(n) : !listsLeaver(n);
    await leaver.node.stop();
    await waitFor(() => neighbours.every(hasSeenLeave), 5_000, 'the leave to be seen');
  });
});
