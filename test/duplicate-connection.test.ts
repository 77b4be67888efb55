/**
 * Two connections to one peer (docs/protocol.md section 3): "the newer wins when both were dialled by
 * the same node (the older is likely dead), else the one dialled by the node with the smaller
 * id wins; the loser closes with DUPLICATE_CONNECTION". Real nodes over the memory transport on
 * a simulated clock, so that both connections complete every time (over TCP one of them may be
 * spared by the dial seeing the other open first) and a run replays from its seed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../config.js';
import type { Identity } from '../crypto/identity.js';
import { ErrorCode } from '../proto/messages.js';
import { RawListener, RawPeer, randomIdentity } from './helpers/raw-peer.js';
import { SimNodes, addressOf, type SimNode } from './helpers/sim-nodes.js';
import { TcpMesh, waitFor } from './helpers/tcp-mesh.js';

const sims: SimNodes[] = [];
function simulation(seed: number): SimNodes {
  const sim = new SimNodes(seed);
  sims.push(sim);
  return sim;
}
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.crashAll();
});

/** Static links only, and no keepalive within these tests: only the duplicate rule decides. */
const CONFIG: Partial<NodeConfig> = { membership: 'static', pingIdleMs: 600_000, pingTimeoutMs: 600_000 };

const copiesAt = (n: SimNode, text: string): number => n.messages.filter((m) => m.text === text).length;
const activeIds = (n: SimNode): string[] => n.node.peers().active.map((p) => p.id);

/** Records peer:up and peer:down of a node. */
function peerEvents(n: SimNode): string[] {
  const events: string[] = [];
  n.node.on('peer:up', (peer) => events.push(`up ${peer.id}`));
  n.node.on('peer:down', (peer) => events.push(`down ${peer.id} ${peer.reason}`));
  return events;
}

describe('two nodes dialling each other at the same moment', () => {
  it.each([1, 2, 3, 4])(
    'seed %i: a duplicate is settled the same way at both ends: the connection dialled by the smaller id survives',
    async (seed) => {
      const sim = simulation(seed);
      const a = await sim.add('a', CONFIG);
      const b = await sim.add('b', CONFIG);
      const [smaller, larger] = a.node.id < b.node.id ? [a, b] : [b, a];
      const events = [peerEvents(a), peerEvents(b)];
      a.node.connect(addressOf(b.node));
      b.node.connect(addressOf(a.node));
      // Traffic all along the settling: each node broadcasts every virtual ms once it has a peer.
      const sent: Array<{ from: SimNode; to: SimNode; text: string }> = [];
      for (let ms = 0; ms < 40; ms++) {
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          if (activeIds(from).length === 0) continue;
          const text = `${from.host} at ${ms}`;
          from.node.broadcast(text);
          sent.push({ from, to, text });
        }
        await sim.run(1);
      }
      await sim.until(
        () => [a, b].every((n) => n.transport.open().length === 1),
        1_000,
        'one connection each',
      );

      // A duplicate happened: both connections completed at one end at least.
      const duplicates = [a, b].map((n) => n.node.stats()['node.duplicates'] ?? 0);
      expect(Math.max(...duplicates)).toBe(1);
      expect(a.transport.connections).toHaveLength(2);
      expect(b.transport.connections).toHaveLength(2);
      // The survivor is one connection, seen from both ends, dialled by the smaller id.
      const [onSmaller, onLarger] = [smaller, larger].map((n) => n.transport.open()[0]);
      expect(onSmaller?.direction).toBe('outbound');
      expect(onLarger?.direction).toBe('inbound');
      expect(onSmaller?.connection.local).toEqual(onLarger?.connection.remote);
      expect([a, b].map((n) => n.node.stats()['node.connections'])).toEqual([1, 1]);
      expect(activeIds(a)).toEqual([b.node.id]);
      expect(activeIds(b)).toEqual([a.node.id]);
      // The loser's close is not a failure: one peer:up each, no peer:down.
      expect(events).toEqual([[`up ${b.node.id}`], [`up ${a.node.id}`]]);

      // What was sent while it settled arrived at most once, and nothing was refused on the way.
      expect(sent.length).toBeGreaterThan(20);
      for (const { to, text } of sent) expect(copiesAt(to, text), text).toBeLessThanOrEqual(1);
      for (const n of [a, b]) {
        const drops = Object.entries(n.node.stats()).filter(
          ([key, value]) => /^node\.(drop|refused|ban)/.test(key) && value > 0,
        );
        expect(drops).toEqual([]);
      }
      // And once settled, every message arrives exactly once.
      a.node.broadcast('after, from a');
      b.node.broadcast('after, from b');
      await sim.until(
        () => copiesAt(b, 'after, from a') === 1 && copiesAt(a, 'after, from b') === 1,
        1_000,
        'a message each way on the survivor',
      );
      await sim.run(100);
      expect([copiesAt(b, 'after, from a'), copiesAt(a, 'after, from b')]).toEqual([1, 1]);
    },
  );
});

describe('the same node dialled both: a restarted peer over a stale link', () => {
  it('the newer connection wins at once; the stale one is closed and the peer never went down', async () => {
    const sim = simulation(7);
    const a = await sim.add('a', CONFIG);
    const before = await sim.add('b', { ...CONFIG, seeds: [addressOf(a.node)] });
    await sim.until(() => activeIds(a).length === 1 && activeIds(before).length === 1, 1_000, 'b dialled a');
    const events = peerEvents(a);
    // b dies without a hearing of it (no FIN, no RST reaches a), and comes back at once, as the
    // same node on the same address, dialling a again.
    const stale = a.transport.open();
    expect(stale.map((c) => c.direction)).toEqual(['inbound']);
    stale[0]?.connection.silence();
    await before.node.crash();
    const after = await sim.add('b', { ...CONFIG, seeds: [addressOf(a.node)] }, before.identity);
    const startedAt = sim.driver.clock.now();
    await sim.until(() => activeIds(after).length === 1, 1_000, 'the restarted b joined a');
    await sim.until(() => a.transport.open().length === 1, 1_000, 'the stale connection closed');

    expect(a.node.stats()['node.duplicates']).toBe(1);
    expect(a.transport.connections.map((c) => [c.direction, c.connection.isClosed])).toEqual([
      ['inbound', true],
      ['inbound', false],
    ]);
    expect(activeIds(a)).toEqual([after.node.id]);
    expect(events).toEqual([]); // replaced, not down and up again
    // Long before a keepalive could have told the stale link dead.
    expect(sim.driver.clock.now() - startedAt).toBeLessThan(a.node.config.pingIdleMs);

    a.node.broadcast('to the restarted b');
    after.node.broadcast('from the restarted b');
    await sim.until(
      () => copiesAt(after, 'to the restarted b') === 1 && copiesAt(a, 'from the restarted b') === 1,
      1_000,
      'a message each way on the new connection',
    );
  });
});

describe('the peer settles a duplicate before our side of the winner finished its handshake', () => {
  it('its DUPLICATE_CONNECTION on the old link takes nobody down; the winner replaces it and carries what was sent meanwhile', async () => {
    // Over TCP with a hand-driven peer, so that the peer's close of the old link reaches the
    // node while the node still waits for the peer's Auth on the new one: the order a busy
    // network can produce, where the connections' latencies differ.
    const [nodeIdentity, peerIdentity] = [randomIdentity(), randomIdentity()].sort((x, y) =>
      x.id < y.id ? -1 : 1,
    ) as [Identity, Identity];
    const mesh = new TcpMesh();
    const listener = await RawListener.listen({ identity: peerIdentity, name: 'p' });
    try {
      const a = await mesh.add({}, { identity: nodeIdentity });
      const events: string[] = [];
      a.node.on('peer:up', (peer) => events.push(`up ${peer.id}`));
      a.node.on('peer:down', (peer) => events.push(`down ${peer.id} ${peer.reason}`));
      // The old link: the peer dialled the node and joined it.
      const old = await RawPeer.dial(a.node.info.port, { identity: peerIdentity, name: 'p' });
      await old.handshake();
      old.sendSealed({ join: {} });
      await waitFor(() => a.node.peers().active.some((p) => p.id === peerIdentity.id));
      // The new link: the node dials the peer's listener. It wins the contest (both ends
      // agree: dialled by the smaller id), and the peer, ready first, closes the old one.
      a.node.connect({ host: '127.0.0.1', port: listener.port });
      const fresh = await listener.accepted();
      fresh.sendHello();
      await fresh.readHello();
      await fresh.readAuth();
      old.sendSealed({
        error: { code: ErrorCode.DUPLICATE_CONNECTION, reason: 'a preferred connection exists' },
      });
      old.socket.end();
      await old.closed;
      // The node heard the old link close before the new one is ready on its side.
      a.node.broadcast('sent while the winner completes its handshake');
      fresh.sendAuth();
      fresh.deriveKeys();
      const routed = await fresh.nextSealed();
      expect(routed.kind).toBe('routed');
      expect(events).toEqual([`up ${peerIdentity.id}`]);
      expect(a.node.peers().active.map((p) => p.id)).toEqual([peerIdentity.id]);
      expect(a.node.stats()['node.drop.awaiting-winner'] ?? 0).toBe(0);
    } finally {
      await listener.close();
      await mesh.stopAll();
    }
  });
});
