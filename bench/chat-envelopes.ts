/**
 * What the link benchmarks send: unique signed 200-byte chat messages in Routed envelopes,
 * encoded as a node sends them, before sealing.
 */
import { Identity } from '../crypto/identity.js';
import { encodeEnvelope, encodePayload } from '../proto/messages.js';
import { seededRandom } from '../utils/random.js';

/** The key both ends of a bare link share: it has no handshake. */
export const BARE_LINK_KEY = seededRandom(6).bytes(32);

export function signedChatEnvelopes(count: number): Uint8Array[] {
  const identity = Identity.fromSeed(seededRandom(5).bytes(32));
  const origin = {
    id: identity.id,
    name: 'bench',
    host: '127.0.0.1',
    port: 1,
    publicKey: identity.publicKey,
  };
  const envelopes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const body = `${i} `.padEnd(200, 'm');
    const payload = encodePayload({
      id: `m${i}`,
      origin,
      to: '',
      room: '',
      sentAtMs: BigInt(i),
      text: { body },
    });
    envelopes.push(
      encodeEnvelope({ routed: { payload, signature: identity.sign(payload), ttl: 16, hops: 1 } }),
    );
  }
  return envelopes;
}
