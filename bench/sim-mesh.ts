/**
 * The simulator measured in this process (run by bench/sim-child.ts, in a process of its own):
 * N nodes (HyParView + flood) grow through one seed on `Simulation` directly, with no lab
 * around them, until the overlay settles by the lab's own rule; then memory per node idle,
 * 1,000 broadcasts from random nodes, and memory per node after them. Events per second are
 * the clock's fired timers over the wall time of each part.
 */
import { resolveConfig, type NodeConfig } from '../config.js';
import { Identity } from '../crypto/identity.js';
import type { Envelope } from '../proto/messages.js';
import { nodeSeed } from '../lab/in-process-cluster.js';
import { overlayRule } from '../lab/overlay-rules.js';
import { settledJudge } from '../lab/overlay-watch.js';
import { SETTLE_POLL_MS } from '../lab/run.js';
import { membershipFactoryOf } from '../peer-table.js';
import { Simulation, streamSeed, type SimNode } from '../sim/simulation.js';
import { pickOne, seededRandom } from '../utils/random.js';
import { memoryAfterGc } from './mesh.js';

const PORT = 7000;
/** The lab's defaults: joins 20 ms apart, settle waits at most a minute after the last join. */
const JOIN_STAGGER_MS = 20;
const CONVERGE_TIMEOUT_MS = 60_000;
/** As the memory section: 50 broadcasts a second, then two seconds for the last copies. */
const BROADCAST_SPACING_MS = 20;
const DRAIN_MS = 2000;

/** Events the clock fired during one part, and the wall time it took. */
export interface Part {
  events: number;
  wallMs: number;
}

export interface SimMeasured {
  nodes: number;
  broadcasts: number;
  /** Virtual ms from the last join until the overlay settled; null if not within the timeout. */
  settledAfterMs: number | null;
  /** Joins and settling. */
  grow: Part & { messages: number };
  /** The broadcasts and the drain after them. */
  broadcast: Part & { messages: number; delivered: number };
  /** Bytes per node: heap (V8 + Buffers) over the process before the mesh, and RSS. */
  idle: number;
  after: number;
  rss: number;
}

/**
 * Counts the messages the nodes send: each sent message is one delivery event on the clock, the
 * rest being timers, dials and closes.
 */
class CountingSimulation extends Simulation {
  messages = 0;

  override send(from: SimNode, peerId: string, envelope: Envelope): boolean {
    const sent = super.send(from, peerId, envelope);
    if (sent) this.messages++;
    return sent;
  }
}

/** Progress goes to `progress` after growing and every 100 broadcasts: a large run takes long. */
export function measureSimHere(
  nodes: number,
  broadcasts: number,
  progress: (line: string) => void = () => undefined,
  seed = 1,
): SimMeasured {
  const before = memoryAfterGc();
  let delivered = 0;
  const config: Partial<NodeConfig> = { membership: 'hyparview', router: 'flood' };
  const sim = new CountingSimulation({
    seed,
    config,
    onDeliver: () => {
      delivered++;
    },
  });
  const factory = membershipFactoryOf(resolveConfig(config).membership);

  const growStart = performance.now();
  for (let index = 0; index < nodes; index++) {
    const identity = Identity.fromSeed(seededRandom(nodeSeed(seed, index)).bytes(32));
    const node = sim.add({ identity, name: `sim-${index}`, host: `node-${index}`, port: PORT }, factory);
    node.strategy.start(index === 0 ? [] : [{ host: 'node-0', port: PORT }]);
    sim.run(JOIN_STAGGER_MS);
  }
  const settledAfterMs = settle(sim, config);
  const grow = {
    events: sim.clock.firedCount,
    wallMs: performance.now() - growStart,
    messages: sim.messages,
  };

  const idle = memoryAfterGc();
  const kib = (bytes: number): string => `${((bytes - before.heap) / nodes / 1024).toFixed(1)} KiB/node`;
  progress(
    `grown and ${settledAfterMs === null ? 'NOT settled' : 'settled'}: ${grow.events} events in ` +
      `${(grow.wallMs / 1000).toFixed(1)} s, ${kib(idle.heap)} idle`,
  );
  const random = seededRandom(streamSeed(seed, 'traffic'));
  const firedBefore = sim.clock.firedCount;
  const messagesBefore = sim.messages;
  const broadcastStart = performance.now();
  for (let i = 0; i < broadcasts; i++) {
    (pickOne(random, sim.nodes) as SimNode).router.broadcast(`sim probe ${i}`);
    sim.run(BROADCAST_SPACING_MS);
    if ((i + 1) % 100 === 0)
      progress(`${i + 1}/${broadcasts} broadcasts: ${sim.clock.firedCount - firedBefore} events`);
  }
  sim.run(DRAIN_MS);
  const broadcastPart = {
    events: sim.clock.firedCount - firedBefore,
    wallMs: performance.now() - broadcastStart,
    messages: sim.messages - messagesBefore,
    delivered,
  };
  const after = memoryAfterGc();
  return {
    nodes,
    broadcasts,
    settledAfterMs,
    grow,
    broadcast: broadcastPart,
    idle: (idle.heap - before.heap) / nodes,
    after: (after.heap - before.heap) / nodes,
    rss: after.rss / nodes,
  };
}

/**
 * Runs until the overlay settles as the lab judges it (lab/overlay-watch.ts, sampled every
 * 250 ms of virtual time from the last join); the virtual ms that took, or null at the timeout.
 */
function settle(sim: Simulation, config: Partial<NodeConfig>): number | null {
  const resolved = resolveConfig(config);
  const judge = settledJudge(overlayRule(resolved), Math.max(1000, resolved.shuffleIntervalMs / 2));
  const since = sim.clock.now();
  while (sim.clock.now() - since <= CONVERGE_TIMEOUT_MS) {
    const views = new Map<string, string[]>();
    for (const node of sim.nodes) {
      if (node.isAlive)
        views.set(
          node.id,
          node.strategy.views().active.map((peer) => peer.id),
        );
    }
    const reached = judge.observe(views, sim.clock.now());
    if (reached !== undefined) return reached - since;
    sim.run(SETTLE_POLL_MS);
  }
  return null;
}
