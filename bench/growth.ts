/**
 * Growth and healing: N nodes join through one seed, 20 ms apart, until the overlay is one
 * component and every active view is full; then half of them are killed at once, and a
 * broadcast is sent every half second from a random survivor until one reaches every survivor.
 * Times are given in seconds and in membership rounds (shuffle periods), against the time the
 * joins themselves take.
 */
import { DEFAULTS } from '../config.js';
import type { Cluster } from '../lab/cluster.js';
import { connectedComponents, graphOfSnapshot } from '../lab/graph.js';
import type { Recorder } from '../lab/recorder.js';
import type { LiveViews } from '../lab/overlay-rules.js';
import { pickOne, pickSome, seededRandom, type Random } from '../utils/random.js';
import { figure, type Figure } from './results.js';
import { type MeshBenchOptions, runMesh, type MeshTransport } from './mesh.js';

const JOIN_STAGGER_MS = 20;
const POLL_MS = 250;
/** How long after the last join the views may take to fill (12 membership rounds). */
const FILL_TIMEOUT_MS = 120_000;
const PROBE_EVERY_MS = 500;
const HEAL_TIMEOUT_MS = 60_000;
/** `--quick` only checks that the section runs. */
const QUICK_TIMEOUT_MS = 3000;
/** The shuffle period of a `--quick` mesh (bench/mesh.ts). */
const QUICK_ROUND_MS = 2000;

export async function growthFigures({ quick, sizes }: MeshBenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [transport, nodes] of [
    ['tcp', sizes.tcpLarge],
    ['memory', sizes.memory],
  ] as Array<[MeshTransport, number]>) {
    const timeouts = quick
      ? { fillMs: QUICK_TIMEOUT_MS, healMs: QUICK_TIMEOUT_MS, roundMs: QUICK_ROUND_MS }
      : { fillMs: FILL_TIMEOUT_MS, healMs: HEAL_TIMEOUT_MS, roundMs: DEFAULTS.shuffleIntervalMs };
    await runMesh({ transport, nodes, steps: [], broadcasts: 0, quick }, async ({ cluster, recorder }) => {
      figures.push(...(await measure(cluster, recorder, `growth.${transport}-${nodes}`, nodes, timeouts)));
    });
  }
  return figures;
}

interface Timeouts {
  fillMs: number;
  healMs: number;
  /** One membership round: the shuffle period. */
  roundMs: number;
}

async function measure(
  cluster: Cluster,
  recorder: Recorder,
  prefix: string,
  nodes: number,
  timeouts: Timeouts,
): Promise<Figure[]> {
  const { driver } = cluster;
  const round = timeouts.roundMs;
  const started = driver.clock.now();
  for (let i = 0; i < nodes; i++) {
    await cluster.add(i === 0 ? undefined : 0);
    await driver.sleep(JOIN_STAGGER_MS);
  }
  const lastJoinMs = driver.clock.now() - started;
  let connectedMs: number | undefined;
  let fullMs: number | undefined;
  let fullShare = 0;
  while (driver.clock.now() - started < lastJoinMs + timeouts.fillMs) {
    const views = await cluster.activeViews();
    const connected = componentCount(views) === 1;
    fullShare = [...views.values()].filter((v) => v.length >= DEFAULTS.activeSize).length / views.size;
    if (connected && connectedMs === undefined) connectedMs = driver.clock.now() - started;
    if (connected && fullShare === 1) {
      fullMs = driver.clock.now() - started;
      break;
    }
    await driver.sleep(POLL_MS);
  }
  const healMs = await healAfterKillingHalf(cluster, recorder, seededRandom(nodes), timeouts.healMs);
  const joins = { name: 'last join', value: lastJoinMs / 1000 };
  const seconds = (ms: number | undefined): number => (ms === undefined ? Number.NaN : ms / 1000);
  return [
    figure(`${prefix}.connected`, seconds(connectedMs), 's', joins),
    figure(`${prefix}.views-full`, seconds(fullMs), 's', joins),
    figure(`${prefix}.views-full-rounds`, seconds(fullMs) / (round / 1000), 'rounds', null),
    figure(`${prefix}.views-full-share`, fullShare, 'share', null, { atLeast: 1 }),
    figure(`${prefix}.heal-after-kill-50`, seconds(healMs), 's', null),
    figure(`${prefix}.heal-after-kill-50-rounds`, seconds(healMs) / (round / 1000), 'rounds', null),
  ];
}

/** Time from the kill until the end of the first broadcast that reached every survivor. */
async function healAfterKillingHalf(
  cluster: Cluster,
  recorder: Recorder,
  random: Random,
  timeoutMs: number,
): Promise<number | undefined> {
  const { driver } = cluster;
  const live = (): number[] => cluster.nodes.filter((n) => n.alive).map((n) => n.index);
  const victims = pickSome(random, live(), Math.floor(live().length / 2));
  await Promise.all(victims.map((index) => cluster.kill(index)));
  const killedAt = driver.clock.now();
  while (driver.clock.now() - killedAt < timeoutMs) {
    const origin = pickOne(random, live()) as number;
    const liveIds = live().map((index) => cluster.nodes[index]?.id as string);
    recorder.reset();
    const id = await cluster.broadcast(origin, `probe after the kill ${driver.clock.now()}`);
    recorder.trackBroadcast(cluster.nodes[origin]?.id as string, id, liveIds);
    const alive = new Set(liveIds);
    if (await driver.waitUntil(() => recorder.isSettled((nodeId) => alive.has(nodeId)), PROBE_EVERY_MS, 10)) {
      return driver.clock.now() - killedAt;
    }
  }
  return undefined;
}

/** Components of the overlay of the live nodes' active views, as the lab counts them. */
function componentCount(views: LiveViews): number {
  const nodes = [...views.keys()].map((id) => ({ id, alive: true }));
  const edges = [...views].flatMap(([from, view]) => view.map((to): [string, string] => [from, to]));
  return connectedComponents(graphOfSnapshot({ nodes, edges })).length;
}
