/**
 * The HyParView paper's failure experiment (Leitão, Pereira, Rodrigues, DSN 2007, section 5) on
 * the simulator: N nodes grow through one seed and settle, a share of them dies at once without
 * Leave, and broadcasts from random survivors are sent right after the failure and after each of
 * the next membership rounds. Reliability is the share of the other survivors that delivered a
 * broadcast; the healing time is the first round from which every broadcast reaches every
 * survivor. Synchronous: the caller owns no clock, no lab, no promise.
 *
 * How the mesh grows, and why. The paper joins nodes one at a time, each join complete before the
 * next, then runs membership cycles (shuffles) until the overlay is stable. Here each node starts
 * `joinStaggerMs` after the previous one, all through node 0. A join's work (the contact's
 * ForwardJoin walks of ARWL hops, the dial and Neighbor request at each walk's end) takes about
 * 15 ms of simulated time at the default 1-2 ms latencies, so the default stagger of 2 ms lets
 * a few joins overlap, as joins overlap in a real mesh, but keeps the grow short: 10,000 nodes
 * join in 20 s, two shuffle periods, instead of the 200 s (twenty periods) of the lab's 20 ms.
 * The shuffles of the grow are most of its cost, and they are what the settle rounds do anyway;
 * the settle (`settleRounds` shuffle periods, default 10) is then the paper's stabilisation. A
 * test checks that the settled mesh is one component whose active views hold activeSize - 1 or
 * more (symmetric views cannot all be full).
 *
 * Random streams (sim/simulation.ts `streamSeed`): 'failures' picks who dies, 'traffic' the
 * origins of the broadcasts, so two routers or memberships run with one seed lose the same nodes.
 */
import type { NodeConfig } from '../config.js';
import { Identity } from '../crypto/identity.js';
import { membershipFactoryOf } from '../peer-table.js';
import { seededRandom, type Random } from '../utils/random.js';
import type { NetworkModel } from './network.js';
import { Simulation, streamSeed, type SimNode, type SimNodeInfo } from './simulation.js';

const PORT = 7000;

export interface FailureExperimentOptions {
  seed: number;
  nodes: number;
  /** Share of the nodes that die at once, 0 to 1. */
  kill: number;
  /** Node settings, with `membership` and `router` by name; a round is `shuffleIntervalMs`. */
  config: Partial<NodeConfig>;
  /** Membership rounds after the failure, each measured. @default 10 */
  rounds?: number;
  /** Broadcasts per measurement (before the failure, right after it, after each round). @default 10 */
  broadcasts?: number;
  /** Between two broadcasts of one measurement; the first goes at the measurement's instant. @default 50 */
  spacingMs?: number;
  /** Shuffle periods run after the last join, before the failure. @default 10 */
  settleRounds?: number;
  /** Between two joins. @default 2 */
  joinStaggerMs?: number;
  network?: NetworkModel;
  /** Called after the grow, the settle, and each measurement, with the simulation as it stands. */
  onPhase?: (phase: string, sim: Simulation, survivors: readonly SimNode[]) => void;
}

export interface Reliability {
  /** Mean over the broadcasts of the share of the other live nodes that delivered each. */
  mean: number;
  /** The least of those shares. */
  min: number;
  /** The share of the first broadcast, sent at the measurement's instant. */
  first: number;
  broadcasts: number;
  /** Each broadcast's share, in the order sent (`spacingMs` apart). */
  shares: number[];
}

export interface RoundReliability extends Reliability {
  /** Membership rounds since the failure: 0 is right after it. */
  round: number;
}

export interface FailureExperimentResult {
  nodes: number;
  killed: number;
  survivors: number;
  /** Broadcasts just before the failure: 1.0 on a settled overlay. */
  before: Reliability;
  /** Round 0 (right after the failure), then one per membership round. */
  rounds: RoundReliability[];
  /** The first round from which every broadcast reached every survivor; null if the last did not. */
  healingRound: number | null;
  /** The survivors at the end, over their data peers: how many pieces, and how many alone. */
  end: { components: number; isolated: number };
  /** Simulated time from the first join to the last delivery counted. */
  simulatedMs: number;
}

/** Where the deliveries of one broadcast are counted: one byte per node index. */
interface Tracked {
  origin: number;
  delivered: Uint8Array;
}

/** Identities and addresses from the seed alone; hosts are distinct private addresses up to 16M nodes. */
export function experimentNodeInfo(index: number, seed: number): SimNodeInfo {
  const identity = Identity.fromSeed(
    seededRandom(streamSeed(seed, 'membership', 1_000_000 + index)).bytes(32),
  );
  const host = `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
  return { identity, name: `n${index}`, host, port: PORT };
}

/** `count` distinct indexes of `0..n-1`, drawn by a partial Fisher-Yates shuffle. */
export function pickIndexes(random: Random, n: number, count: number): number[] {
  const indexes = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + random.int(n - i);
    [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
  }
  return indexes.slice(0, count);
}

/** Grows `nodes` nodes through node 0, one every `staggerMs`, then runs `settleMs`. */
export function growMesh(
  sim: Simulation,
  seed: number,
  nodes: number,
  staggerMs: number,
  settleMs: number,
): void {
  const factory = membershipFactoryOf(sim.config.membership);
  const seedInfo = experimentNodeInfo(0, seed);
  const seedAddress = { host: seedInfo.host, port: seedInfo.port };
  for (let i = 0; i < nodes; i++) {
    const node = sim.add(i === 0 ? seedInfo : experimentNodeInfo(i, seed), factory);
    node.strategy.start(i === 0 ? [] : [seedAddress]);
    sim.run(staggerMs);
  }
  sim.run(settleMs);
}

export function runFailureExperiment(options: FailureExperimentOptions): FailureExperimentResult {
  const { seed, nodes, kill } = options;
  if (!(kill >= 0 && kill < 1)) throw new RangeError(`kill ${kill} is not in [0, 1)`);
  if (!Number.isInteger(nodes) || nodes < 2) throw new RangeError(`nodes ${nodes} is not an integer >= 2`);
  const rounds = options.rounds ?? 10;
  const broadcasts = options.broadcasts ?? 10;
  const spacingMs = options.spacingMs ?? 50;
  const tracked = new Map<string, Tracked>();
  const sim = new Simulation({
    seed,
    config: options.config,
    ...(options.network ? { network: options.network } : {}),
    onDeliver: (node, message) => {
      const entry = tracked.get(message.id);
      if (entry) entry.delivered[node.index] = 1;
    },
  });
  const roundMs = sim.config.shuffleIntervalMs;
  const phase = (name: string): void =>
    options.onPhase?.(
      name,
      sim,
      sim.nodes.filter((n) => n.isAlive),
    );

  growMesh(sim, seed, nodes, options.joinStaggerMs ?? 2, 0);
  phase('grown');
  sim.run((options.settleRounds ?? 10) * roundMs);
  phase('settled');

  const traffic = seededRandom(streamSeed(seed, 'traffic'));
  /** Sends one measurement's broadcasts from random live nodes, spaced; returns their ids. */
  const send = (live: readonly SimNode[]): string[] => {
    const ids: string[] = [];
    for (let i = 0; i < broadcasts; i++) {
      if (i > 0) sim.run(spacingMs);
      const origin = live[traffic.int(live.length)] as SimNode;
      const id = origin.router.broadcast(`m${tracked.size}`);
      tracked.set(id, { origin: origin.index, delivered: new Uint8Array(nodes) });
      ids.push(id);
    }
    return ids;
  };

  // Before: every broadcast has left and arrived before anyone dies.
  const beforeIds = send(sim.nodes);
  sim.run(Math.min(roundMs, 5000));
  const before = reliabilityOf(beforeIds, tracked, sim.nodes);
  phase('before');

  const killedIndexes = pickIndexes(
    seededRandom(streamSeed(seed, 'failures')),
    nodes,
    Math.round(kill * nodes),
  );
  for (const index of killedIndexes) sim.kill(sim.nodes[index] as SimNode);
  const survivors = sim.nodes.filter((n) => n.isAlive);
  const failedAtMs = sim.clock.now();

  const sent: string[][] = [];
  for (let round = 0; round <= rounds; round++) {
    sim.run(failedAtMs + round * roundMs - sim.clock.now());
    sent.push(send(survivors));
    phase(`round ${round}`);
  }
  // The last broadcasts get as long to spread as the others had.
  sim.run(failedAtMs + (rounds + 1) * roundMs - sim.clock.now());

  const measured = sent.map((ids, round) => ({ round, ...reliabilityOf(ids, tracked, survivors) }));
  return {
    nodes,
    killed: killedIndexes.length,
    survivors: survivors.length,
    before,
    rounds: measured,
    healingRound: healingRoundOf(measured),
    end: overlayOf(survivors),
    simulatedMs: sim.clock.now(),
  };
}

/** Connected components of the live nodes over live data peers (either end's view), and nodes with none. */
export function overlayOf(live: readonly SimNode[]): { components: number; isolated: number } {
  const parent = new Map(live.map((n) => [n.id, n.id]));
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    for (let at = id; at !== root;) {
      const next = parent.get(at) as string;
      parent.set(at, root);
      at = next;
    }
    return root;
  };
  const linked = new Set<string>();
  for (const node of live) {
    for (const peer of node.strategy.dataPeers()) {
      if (!parent.has(peer)) continue;
      linked.add(peer).add(node.id);
      parent.set(find(peer), find(node.id));
    }
  }
  const roots = new Set(live.map((n) => find(n.id)));
  return { components: roots.size, isolated: live.filter((n) => !linked.has(n.id)).length };
}

/** The share of `live` nodes (the origin aside) that delivered each broadcast. */
function reliabilityOf(
  ids: readonly string[],
  tracked: Map<string, Tracked>,
  live: readonly SimNode[],
): Reliability {
  const shares = ids.map((id) => {
    const entry = tracked.get(id) as Tracked;
    let delivered = 0;
    for (const node of live) if (node.index !== entry.origin) delivered += entry.delivered[node.index] ?? 0;
    return live.length > 1 ? delivered / (live.length - 1) : 1;
  });
  const mean = shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length);
  return { mean, min: Math.min(...shares), first: shares[0] ?? 0, broadcasts: shares.length, shares };
}

/** The first round from which on every broadcast reached every survivor. */
export function healingRoundOf(rounds: readonly RoundReliability[]): number | null {
  let healed: number | null = null;
  for (const { round, min } of rounds) {
    if (min < 1) healed = null;
    else healed ??= round;
  }
  return healed;
}
