/**
 * Membership over real TCP in one process: a mesh grows from one seed, stays bounded and
 * symmetric, and heals after 30% of its nodes die at once. One parameterised suite runs for
 * every strategy that keeps symmetric active views.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TcpMesh, activeCount, components, isSymmetric, waitFor, type TestNode } from './helpers/tcp-mesh.js';
import { pickSome, seededRandom } from '../utils/random.js';

const NODES = 50;
const mesh = new TcpMesh();
afterEach(() => mesh.stopAll());

/** Kills nodes without Leave: their sockets are cut as if the process died. */
async function crash(victims: TestNode[]): Promise<void> {
  await Promise.all(victims.map((v) => v.node.crash()));
}

describe.each([{ membership: 'hyparview', activeSize: 5, passiveSize: 30 }])(
  '$membership over TCP',
  (settings) => {
    it(`${NODES} nodes from one seed form one bounded, symmetric overlay`, async () => {
      await mesh.grow(NODES, settings);
      const nodes = mesh.running();
      await waitFor(() => components(nodes) === 1 && isSymmetric(nodes), 30_000, 'one symmetric component');
      for (const n of nodes) {
        const { active, passive } = n.node.peers();
        expect(active.length).toBeLessThanOrEqual(settings.activeSize);
        expect(passive.length).toBeLessThanOrEqual(settings.passiveSize);
        const ids = [...active, ...passive].map((p) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).not.toContain(n.node.id);
      }
      await waitFor(
        () => nodes.filter((n) => n.node.peers().passive.length > 0).length === nodes.length,
        30_000,
        'passive views to fill',
      );
    });

    it('heals after 30% of the nodes die at once, and sees graceful leaves at once', async () => {
      await mesh.grow(NODES, settings);
      const all = mesh.running();
      await waitFor(() => components(all) === 1 && isSymmetric(all), 30_000, 'initial overlay');
      const victims = pickSome(seededRandom(7), all.slice(1), Math.round(NODES * 0.3));
      await crash(victims);
      const dead = new Set(victims.map((v) => v.node.id));
      const survivors = mesh.running();
      await waitFor(
        () =>
          components(survivors) === 1 &&
          survivors.every((n) => activeCount(n) >= 3 && n.node.peers().active.every((p) => !dead.has(p.id))),
        30_000,
        'survivors to heal',
      );
      const full = survivors.filter((n) => activeCount(n) === settings.activeSize).length;
      expect(full / survivors.length).toBeGreaterThan(0.5);
      const leaver = survivors[survivors.length - 1] as TestNode;
      const neighbours = leaver.node.peers().active.map((p) => p.id);
      await leaver.node.stop();
      const rest = mesh.running();
      await waitFor(
        () =>
          rest
            .filter((n) => neighbours.includes(n.node.id))
            .every(
              (n) =>
                !n.node.peers().active.some((p) => p.id === leaver.node.id) &&
                !n.node.peers().passive.some((p) => p.id === leaver.node.id),
            ),
        5_000,
        'the leave to be seen',
      );
    });
  },
);
