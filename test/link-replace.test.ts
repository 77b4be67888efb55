/**
 * Nothing accepted is lost while links are replaced: a Routed that arrives on the connection
 * that just lost a duplicate-connection contest, or from a neighbour that was evicted while its
 * copy was in flight, is still delivered. Real nodes over the memory transport under the
 * simulated clock, so every race replays from its seed; each seed draws other link latencies,
 * so the frames cross the settlement at other instants.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import { Identity } from '../crypto/identity.js';
import { SimDriver } from '../lab/driver.js';
import { labPlaintextLinks } from '../link/link-security.js';
import { Node } from '../node.js';
import { MemoryNetwork } from '../transport/memory.js';
import { silentLogger } from '../utils/logger.js';
import { seededRandom } from '../utils/random.js';

const PORT = 7000;
const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);

interface World {
  driver: SimDriver;
  nodes: Node[];
}

async function world(seed: number, count: number, config: Partial<NodeConfig>): Promise<World> {
  const driver = new SimDriver();
  // Latency from 1 to 6 ms per chunk: handshakes and frames overlap differently for each seed.
  const network = new MemoryNetwork({
    clock: driver.clock,
    random: seededRandom(seed * 1000),
    latencyMs: 1,
    jitterMs: 5,
  });
  const logger = silentLogger();
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const random = seededRandom(seed * 1000 + i + 1);
    const node = new Node(
      {
        host: `node-${i}`,
        port: PORT,
        name: `n${i}`,
        originTextsPerSecond: 100_000,
        originTextsBurst: 100_000,
        ...config,
      },
      {
        transport: network.transport(`node-${i}`),
        clock: driver.clock,
        random,
        logger,
        linkSecurity: labPlaintextLinks,
        identity: Identity.fromSeed(random.bytes(32)),
      },
    );
    await node.start();
    nodes.push(node);
  }
  return { driver, nodes };
}

function isNeighbour(node: Node, other: Node): boolean {
  return node.peers().active.some((peer) => peer.id === other.id);
}

/**
 * `from` broadcasts one message every `everyMs` for `forMs`; returns the ids it sent while `to`
 * was in its active view, that is, the ones it wrote to a link toward `to`.
 */
async function broadcastWhileNeighbours(
  { driver }: World,
  from: Node,
  to: Node,
  forMs: number,
  everyMs: number,
): Promise<string[]> {
  const sent: string[] = [];
  for (let t = 0; t < forMs; t += everyMs) {
    if (isNeighbour(from, to)) sent.push(from.broadcast(`m${t}`));
    await driver.sleep(everyMs);
  }
  return sent;
}

function deliveredBy(node: Node): Set<string> {
  const ids = new Set<string>();
  node.on('message', (message) => ids.add(message.id));
  return ids;
}

describe('no Routed lost while links are replaced', () => {
  it('two nodes that dial each other at once: every broadcast crosses the duplicate settlement', async () => {
    let duplicates = 0;
    let checked = 0;
    for (const seed of SEEDS) {
      const w = await world(seed, 2, {});
      const [a, b] = w.nodes as [Node, Node];
      const delivered = deliveredBy(b);
      // Both dial at the same instant: two connections complete, one loses the contest.
      a.connect({ host: 'node-1', port: PORT });
      b.connect({ host: 'node-0', port: PORT });
      const sent = await broadcastWhileNeighbours(w, a, b, 300, 1);
      await w.driver.sleep(200);
      duplicates += (a.stats()['node.duplicates'] ?? 0) + (b.stats()['node.duplicates'] ?? 0);
      checked += sent.length;
      expect(sent.length, `seed ${seed}: the two nodes became neighbours`).toBeGreaterThan(0);
      expect(
        sent.filter((id) => !delivered.has(id)),
        `seed ${seed}: broadcasts lost`,
      ).toEqual([]);
      await Promise.all(w.nodes.map((node) => node.crash()));
    }
    // The race was forced, not dodged: duplicates happened across the seeds.
    expect(duplicates).toBeGreaterThanOrEqual(SEEDS.length);
    expect(checked).toBeGreaterThan(SEEDS.length * 100);
  });

  it('a neighbour evicted while its copies are in flight: every copy it sent is delivered', async () => {
    let evictions = 0;
    for (const seed of SEEDS) {
      // Active views of one: each new Join evicts the current neighbour with a Disconnect.
      const w = await world(seed, 4, { activeSize: 1, passiveSize: 3 });
      const [hub, talker, ...joiners] = w.nodes as [Node, Node, Node, Node];
      const delivered = deliveredBy(hub);
      talker.connect({ host: 'node-0', port: PORT });
      await w.driver.waitUntil(() => isNeighbour(hub, talker) && isNeighbour(talker, hub), 5_000);
      let wasEvicted = false;
      talker.on('peer:down', ({ id }) => (wasEvicted ||= id === hub.id));
      const sending = broadcastWhileNeighbours(w, talker, hub, 100, 1);
      // Joins land while the talker's copies are on the wire toward the hub.
      for (const joiner of joiners) {
        await w.driver.sleep(7);
        joiner.connect({ host: 'node-0', port: PORT });
      }
      const sent = await sending;
      await w.driver.sleep(200);
      if (wasEvicted) evictions++;
      expect(sent.length).toBeGreaterThan(0);
      expect(
        sent.filter((id) => !delivered.has(id)),
        `seed ${seed}: broadcasts lost`,
      ).toEqual([]);
      await Promise.all(w.nodes.map((node) => node.crash()));
    }
    expect(evictions).toBeGreaterThan(SEEDS.length / 2);
  });
});
