/**
 * The example of README "Adding a membership strategy": a whole strategy, written against the
 * synchronous interface of membership/strategy.ts, and its unit test, with no node, no socket and
 * no promise. Kept here so that the example in the README always compiles and passes.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../config.js';
import type { MembershipFactory, MembershipStrategy, Views } from '../membership/strategy.js';
import type { NodeInfo } from '../proto/messages.js';
import { nodeInfoOf, randomIdentity } from './helpers/raw-peer.js';
import { StrategyDriver } from './helpers/strategy-driver.js';

/** Every peer that links to us, or that we reach through a seed, is a neighbour, up to `activeSize`. */
const createEveryone: MembershipFactory = (ctx): MembershipStrategy => {
  const neighbours = new Map<string, NodeInfo>();
  const views = (): Views => ({ active: [...neighbours.values()], passive: [] });
  return {
    name: 'everyone',
    start: (seeds: readonly Address[]) => seeds.forEach((seed) => ctx.dial(seed)),
    join: (contact) => ctx.dial(contact),
    stop: () => neighbours.forEach((peer) => ctx.send(peer.id, { leave: {} })),
    onLinkUp: ({ peer }) => {
      if (neighbours.has(peer.id) || neighbours.size >= ctx.config.activeSize) return;
      neighbours.set(peer.id, peer);
      ctx.peerUp(peer);
    },
    onDialed: () => undefined,
    onDialFailed: (address) => ctx.countDrop(`unreachable-${address.port}`),
    onMessage: (from, message) => {
      if (message.kind === 'leave') ctx.disconnect(from);
    },
    onLinkDown: (peerId, reason) => {
      const peer = neighbours.get(peerId);
      if (peer && neighbours.delete(peerId)) ctx.peerDown(peer, reason === 'local' ? 'closed' : reason);
    },
    isDataPeer: (peerId) => neighbours.has(peerId),
    dataPeers: () => [...neighbours.keys()],
    views,
    stats: () => ({ neighbours: neighbours.size }),
  };
};

describe('a strategy is a plain object driven by inputs', () => {
  it('everyone: links become neighbours up to activeSize; a Leave disconnects; a closed link goes down', () => {
    const [self, a, b] = [0, 1, 2].map((i) => nodeInfoOf(randomIdentity(), `n${i}`, 7000 + i)) as [
      NodeInfo,
      NodeInfo,
      NodeInfo,
    ];
    const check = (s: MembershipStrategy): void => {
      expect(s.dataPeers().length).toBeLessThanOrEqual(1);
      expect(s.dataPeers()).not.toContain(self.id);
    };
    const driver = new StrategyDriver(createEveryone, { self, config: { activeSize: 1 }, check });
    driver.start([{ host: a.host, port: a.port }]);
    expect(driver.take()).toEqual([{ type: 'dial', address: { host: a.host, port: a.port } }]);
    driver.dialed({ host: a.host, port: a.port }, a);
    driver.linkUp(b); // the view is full: b stays a plain link
    expect(driver.take()).toEqual([{ type: 'up', peer: a }]);
    driver.message(b.id, { kind: 'leave', body: {} });
    driver.linkDown(a.id, 'timeout');
    expect(driver.take()).toEqual([
      { type: 'disconnect', peerId: b.id, code: undefined },
      { type: 'down', peerId: a.id, reason: 'timeout' },
    ]);
  });
});
