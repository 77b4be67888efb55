/**
 * The simulator (sim/simulation.ts) drives the membership state machines directly. Checked here:
 * a mesh grows through one seed into one bounded overlay, a run replays exactly from its seed,
 * a killed node's peers see it go, and a graceful leave is heard at once.
 */
import { describe, expect, it } from 'vitest';
import { Identity } from '../crypto/identity.js';
import { createCyclon } from '../membership/cyclon.js';
import type { MembershipFactory } from '../membership/strategy.js';
import { seededRandom } from '../utils/random.js';
import type { NodeConfig } from '../config.js';
import {
  Simulation,
  streamSeed,
  type SimNode,
  type SimNodeInfo,
  type SimulationOptions,
} from '../sim/simulation.js';

const PORT = 7000;

function infoOf(index: number, seed: number): SimNodeInfo {
  const identity = Identity.fromSeed(
    seededRandom(streamSeed(seed, 'membership', 1_000_000 + index)).bytes(32),
  );
  return { identity, name: `n${index}`, host: `10.0.${index >> 8}.${index & 255}`, port: PORT };
}

/** `count` nodes joining through node 0, one every `staggerMs`. */
function grow(
  seed: number,
  count: number,
  factory: MembershipFactory,
  options: {
    staggerMs?: number;
    config?: Partial<NodeConfig>;
    onDeliver?: SimulationOptions['onDeliver'];
  } = {},
): Simulation {
  const staggerMs = options.staggerMs ?? 20;
  const config = { shuffleIntervalMs: 1000, ...options.config };
  const sim = new Simulation({
    seed,
    config,
    ...(options.onDeliver ? { onDeliver: options.onDeliver } : {}),
  });
  const seedAddress = { host: infoOf(0, seed).host, port: PORT };
  for (let i = 0; i < count; i++) {
    const node = sim.add(infoOf(i, seed), factory);
    node.strategy.start(i === 0 ? [] : [seedAddress]);
    sim.run(staggerMs);
  }
  return sim;
}

/** Nodes reachable from the first live node over data peers, in either direction. */
function componentSize(sim: Simulation): number {
  const live = sim.nodes.filter((n) => n.isAlive);
  const neighbours = new Map<string, Set<string>>(live.map((n) => [n.id, new Set<string>()]));
  for (const node of live) {
    for (const peer of node.strategy.dataPeers()) {
      if (!neighbours.has(peer)) continue;
      neighbours.get(node.id)?.add(peer);
      neighbours.get(peer)?.add(node.id);
    }
  }
  const start = live[0];
  if (!start) return 0;
  const seen = new Set([start.id]);
  const queue = [start.id];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    for (const next of neighbours.get(id) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return seen.size;
}

const viewOf = (node: SimNode): readonly string[] => node.strategy.dataPeers();

describe('the simulator drives the membership state machines directly', () => {
  it('Cyclon: 300 nodes grow through one seed into one overlay of bounded views', () => {
    const sim = grow(1, 300, createCyclon);
    sim.run(20_000);
    expect(componentSize(sim)).toBe(300);
    for (const node of sim.nodes) {
      const view = viewOf(node);
      expect(view.length).toBeGreaterThan(0);
      expect(view.length).toBeLessThanOrEqual(sim.config.cyclonViewSize);
      expect(view).not.toContain(node.id);
      expect(new Set(view).size).toBe(view.length);
    }
  });

  it('the same seed replays the same run, event for event; another seed differs', () => {
    const trace = (seed: number): string =>
      JSON.stringify(
        (() => {
          const sim = grow(seed, 60, createCyclon);
          sim.run(5000);
          return { events: sim.peerEvents, views: sim.nodes.map(viewOf) };
        })(),
      );
    expect(trace(7)).toBe(trace(7));
    expect(trace(7)).not.toBe(trace(8));
  });

  it('a killed node is not heard from again; a node that leaves is heard at once by the peers linked to it', () => {
    const sim = grow(3, 40, createCyclon);
    sim.run(10_000);
    const [killed, leaver] = [sim.nodes[5], sim.nodes[6]] as [SimNode, SimNode];
    sim.kill(killed);
    // Linked at both ends: a link the leaver has already closed carries no Leave.
    const linkedToLeaver = sim.nodes.filter(
      (n) => n.isAlive && n !== leaver && n.links.has(leaver.id) && leaver.links.has(n.id),
    );
    expect(linkedToLeaver.length).toBeGreaterThan(0);
    const leavesHeard = (n: SimNode): number => n.strategy.stats().leavesReceived ?? 0;
    const before = linkedToLeaver.map(leavesHeard);
    sim.leave(leaver);
    sim.run(100);
    // Heard at once, and the entry dropped then; a shuffle may bring a stale copy back later,
    // which Cyclon ages out like any dead entry.
    expect(linkedToLeaver.map(leavesHeard)).toEqual(before.map((count) => count + 1));
    // Cyclon forgets a dead entry only through its shuffles, once it has aged to the top of
    // every view that holds a copy: rounds, not a timeout.
    const live = sim.nodes.filter((n) => n.isAlive);
    const forgotten = (): boolean => live.every((n) => !viewOf(n).includes(killed.id));
    expect(sim.runUntil(forgotten, 600_000)).toBe(true);
    for (const node of live) expect(node.links.has(killed.id)).toBe(false);
    expect(componentSize(sim)).toBe(38);
  });

  it.each(['flood', 'gossip', 'plumtree'])(
    'the router runs on the simulated overlay: %s broadcasts reach the nodes, each delivered once',
    (router) => {
      const delivered = new Map<string, number>();
      const onDeliver: SimulationOptions['onDeliver'] = (node, message) => {
        const key = `${node.id} ${message.id}`;
        delivered.set(key, (delivered.get(key) ?? 0) + 1);
      };
      const sim = grow(11, 100, createCyclon, { config: { router }, onDeliver });
      sim.run(10_000);
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        ids.push((sim.nodes[(i * 37) % 100] as SimNode).router.broadcast(`m${i}`));
        sim.run(200);
      }
      sim.run(5000);
      const reached = ids.map((id) => sim.nodes.filter((n) => delivered.has(`${n.id} ${id}`)).length);
      // Every node but the origin; gossip forwards to a random fanout, and may miss a few.
      if (router === 'gossip') expect(reached.reduce((a, b) => a + b, 0) / (10 * 99)).toBeGreaterThan(0.95);
      else expect(reached).toEqual(ids.map(() => 99));
      expect([...delivered.values()].every((count) => count === 1)).toBe(true);
    },
  );
});
