/**
 * What a node keeps per message it relays, measured on the V8 heap after a full collection: the
 * router's state for one message must stay a small, fixed number of bytes, so that its caps
 * (`seenCacheSize` entries) bound the memory, not the traffic that went by.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { encodePayload, type NodeInfo, type Routed } from '../proto/messages.js';
import { Router } from '../router.js';
import { KeyCachingChecker, uncheckedSignatures } from '../crypto/signatures.js';
import { SimClock } from '../utils/sim-clock.js';
import { silentLogger } from '../utils/logger.js';
import { seededRandom } from '../utils/random.js';
import { craftRouted, makeIdentity, nodeInfoOf } from './helpers/router-mesh.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A relay's router: neighbours `from` and one other; signatures checked only when told. */
function relayRouter(
  messages: number,
  verifySignatures = false,
): { router: Router; from: string; sent: () => number; punished: string[] } {
  const random = seededRandom(7);
  const identity = makeIdentity(random);
  let sent = 0;
  const punished: string[] = [];
  const from = 'a'.repeat(16);
  const other = 'b'.repeat(16);
  const router = new Router({
    identity,
    self: nodeInfoOf(identity, 0),
    config: resolveConfig({
      seenCacheSize: messages,
      originTextsPerSecond: 1_000_000,
      originTextsBurst: 1_000_000,
    }),
    clock: new SimClock(0),
    random,
    log: silentLogger(),
    signatures: verifySignatures ? new KeyCachingChecker() : uncheckedSignatures,
    dataPeers: () => [from, other],
    send: () => (sent++, true),
    deliver: () => undefined,
    receipt: () => undefined,
    receiptMissing: () => undefined,
    punish: (peerId) => punished.push(peerId),
  });
  return { router, from, sent: () => sent, punished };
}

/** Routed copies of `count` broadcasts of one origin, with ids shaped like nanoid's (21 chars). */
function broadcastsOf(origin: NodeInfo, count: number): Routed[] {
  return Array.from({ length: count }, (_, i) => ({
    payload: encodePayload({
      id: `msg-${String(i).padStart(8, '0')}-abcdefghi`,
      origin,
      to: '',
      room: '',
      sentAtMs: 0n,
      text: { body: `text ${i}` },
    }),
    signature: new Uint8Array(64),
    ttl: 4,
    hops: 1,
  }));
}

describe('memory a node keeps per relayed message', () => {
  it('a seen-cache entry costs at most 300 bytes of heap (a key kept as the tree of its pieces cost 560)', () => {
    const count = 20_000;
    const { router, from, sent } = relayRouter(count);
    const origin = nodeInfoOf(makeIdentity(seededRandom(8)), 1);
    const copies = broadcastsOf(origin, count);
    const before = heapAfterGc();
    for (const routed of copies) router.onRouted(from, routed);
    const after = heapAfterGc();
    // The copies are held until here, so that only the router's state is counted.
    expect(copies).toHaveLength(count);
    // Every copy was accepted, remembered and relayed: the heap counted is that of the entries.
    expect(router.stats()).toMatchObject({ seenEntries: count, forwarded: count });
    expect(sent()).toBe(count);
    const perEntry = (after - before) / count;
    expect(perEntry).toBeGreaterThan(0);
    expect(perEntry).toBeLessThan(300);
    router.stop();
  });

  it('a signature is checked over exactly its own payload, whatever size the one before it had', () => {
    const { router, from, punished } = relayRouter(16, true);
    const identity = makeIdentity(seededRandom(9));
    const origin = nodeInfoOf(identity, 1);
    const long = craftRouted(identity, origin, { id: 'long-1', text: { body: 'l'.repeat(4000) } });
    const short = craftRouted(identity, origin, { id: 'short-1', text: { body: 'short' } });
    const forged = { ...craftRouted(identity, origin, { id: 'short-2' }), signature: long.signature };
    const longer = craftRouted(identity, origin, { id: 'long-2', text: { body: 'L'.repeat(4090) } });
    for (const routed of [long, short, longer]) router.onRouted(from, routed);
    expect(router.stats()).toMatchObject({ delivered: 3, badSignature: 0 });
    router.onRouted(from, forged);
    expect(router.stats()).toMatchObject({ delivered: 3, badSignature: 1 });
    expect(punished).toEqual([from]);
    router.stop();
  });
});
