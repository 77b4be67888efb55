/**
 * Gossip ("infect and die"): each node pushes a message once, to `gossipFanout` data peers drawn
 * at random (never the sender). Fewer copies than flooding; delivery becomes probabilistic, and
 * a node with more neighbours than the fanout may leave some of them to others.
 */
import { pickSome } from '../utils/random.js';
import type { BroadcastContext, BroadcastMessage, BroadcastStrategy } from './strategy.js';

export function createGossip(context: BroadcastContext): BroadcastStrategy {
  const push = (message: BroadcastMessage, from: string | undefined): void => {
    if (!message.next) return;
    const candidates = context.dataPeers().filter((peerId) => peerId !== from);
    for (const peerId of pickSome(context.random, candidates, context.config.gossipFanout)) {
      context.sendRouted(peerId, message, message.next);
    }
  };
  return {
    name: 'gossip',
    onMessage: push,
    onReforward: push,
    onDuplicate: () => {},
    onControl: () => false,
    onPeerUp: () => {},
    onPeerDown: () => {},
    stop: () => {},
    stats: () => ({}),
  };
}
