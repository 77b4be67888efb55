/**
 * Flooding, the default (docs/protocol.md section 5): every data peer but the sender gets a copy.
 * Reliable and the lowest latency, at the cost of one copy per link and direction per message.
 */
import type { BroadcastContext, BroadcastMessage, BroadcastStrategy } from './strategy.js';

export function createFlood(context: BroadcastContext): BroadcastStrategy {
  const push = (message: BroadcastMessage, from: string | undefined): void => {
    if (!message.next) return;
    for (const peerId of context.dataPeers()) {
      if (peerId !== from) context.sendRouted(peerId, message, message.next);
    }
  };
  return {
    name: 'flood',
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
