/**
 * HyParView's degree floor, over many seeds: real nodes over the memory transport, under
 * simulated time and with plaintext links (as the lab runs them), so that every seed replays
 * exactly and 50 meshes fit in a CI run.
 *
 * Each mesh grows 30 nodes from one seed, 20 ms apart (the lab's stagger). Once settled, no
 * node may be left below activeSize - 1 neighbours; after 30% of the nodes are killed at once,
 * every survivor must be back to at least 3 within 10 s of virtual time.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../config.js';
import { SimDriver } from '../lab/driver.js';
import { InProcessCluster } from '../lab/in-process-cluster.js';
import { pickSome, seededRandom } from '../utils/random.js';

const NODES = 30;
const MESHES = 50;
const JOIN_STAGGER_MS = 20;
/** Settling: two shuffle periods after the last join. */
const SETTLE_MS = 2 * DEFAULTS.shuffleIntervalMs;
const HEAL_MS = 10_000;
const FLOOR_AFTER_KILL = 3;

const ignore = (): void => undefined;

async function grownMesh(seed: number): Promise<InProcessCluster> {
  const driver = new SimDriver();
  const cluster = new InProcessCluster({
    transport: 'memory',
    links: 'plaintext',
    driver,
    config: { membership: 'hyparview', router: 'flood' },
    seed,
    observer: { delivered: ignore, receipted: ignore, copyReceived: ignore },
  });
  for (let i = 0; i < NODES; i++) {
    await cluster.add(i === 0 ? undefined : 0);
    await driver.sleep(JOIN_STAGGER_MS);
  }
  return cluster;
}

/** The fewest neighbours any live node has, counting only live ones. */
async function minDegree(cluster: InProcessCluster): Promise<number> {
  const views = await cluster.activeViews();
  let least = Infinity;
  for (const view of views.values()) least = Math.min(least, view.filter((id) => views.has(id)).length);
  return least;
}

/** Runs virtual time until every live node has at least `floor` live neighbours. */
async function reachesFloor(cluster: InProcessCluster, floor: number, withinMs: number): Promise<boolean> {
  let least = 0;
  // activeViews() is synchronous work for the in-process cluster: poll it every 50 ms.
  const poll = async (): Promise<void> => void (least = await minDegree(cluster));
  await poll();
  const deadline = cluster.driver.clock.now() + withinMs;
  while (least < floor && cluster.driver.clock.now() < deadline) {
    await cluster.driver.sleep(50);
    await poll();
  }
  return least >= floor;
}

describe(`HyParView degree floor over ${MESHES} simulated meshes of ${NODES} nodes`, () => {
  it(`leaves nobody below activeSize - 1 once settled, and every survivor of a 30% kill at ${FLOOR_AFTER_KILL}+ within ${HEAL_MS / 1000} s`, async () => {
    const settled: string[] = [];
    const healed: string[] = [];
    for (let seed = 1; seed <= MESHES; seed++) {
      const cluster = await grownMesh(seed);
      try {
        if (!(await reachesFloor(cluster, DEFAULTS.activeSize - 1, SETTLE_MS)))
          settled.push(`seed ${seed}: min degree ${await minDegree(cluster)}`);
        const victims = pickSome(seededRandom(seed), [...Array(NODES).keys()].slice(1), NODES * 0.3);
        await Promise.all(victims.map((index) => cluster.kill(index)));
        if (!(await reachesFloor(cluster, FLOOR_AFTER_KILL, HEAL_MS)))
          healed.push(`seed ${seed}: min degree ${await minDegree(cluster)}`);
      } finally {
        await cluster.close();
      }
    }
    expect({ settled, healed }).toEqual({ settled: [], healed: [] });
  }, 120_000);
});
