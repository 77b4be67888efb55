/**
 * How the router reads the bytes of a Routed copy: decodes its payload, and digests it for the
 * seen cache (seen-cache.ts). A node reads every copy it receives, since each arrives in bytes of
 * its own. A simulation hands every copy of a message the same bytes objects (nothing is encoded
 * between two nodes), so there the work is done once per message instead of once per copy.
 */
import { createHash } from 'node:crypto';
import { messageKey } from '../broadcast/strategy.js';
import { decodePayload, type Decoded, type Payload } from './messages.js';

export interface PayloadReader {
  decode(bytes: Uint8Array): Decoded<Payload>;
  /** The first 128 bits of the bytes' SHA-256: a forger needs a second preimage, 2^128 work. */
  digest(bytes: Uint8Array): string;
  /** The same digest of a whole copy: payload and signature. */
  copyDigest(payload: Uint8Array, signature: Uint8Array): string;
  /** The seen-cache key of a decoded payload: `messageKey` of its origin and id. */
  key(payload: Payload): string;
}

/** Reads each copy afresh: the node's reader. */
export const readEveryCopy: PayloadReader = Object.freeze({ decode: decodePayload, digest, copyDigest, key });

/**
 * Reads each bytes object once and remembers what it found, weakly, by object: for a simulation,
 * where the bytes of a message are made once and never changed. Never for bytes off a socket,
 * whose buffers may be reused.
 */
export function readEachObjectOnce(): PayloadReader {
  const decoded = new WeakMap<Uint8Array, Decoded<Payload>>();
  const digests = new WeakMap<Uint8Array, string>();
  const copyDigests = new WeakMap<Uint8Array, { payload: Uint8Array; digest: string }>();
  // One key string per message, where each node would build its own: most of a seen-cache entry.
  const keys = new WeakMap<Payload, string>();
  return {
    key(payload) {
      let result = keys.get(payload);
      if (result === undefined) keys.set(payload, (result = key(payload)));
      return result;
    },
    decode(bytes) {
      let result = decoded.get(bytes);
      if (result === undefined) decoded.set(bytes, (result = decodePayload(bytes)));
      return result;
    },
    digest(bytes) {
      let result = digests.get(bytes);
      if (result === undefined) digests.set(bytes, (result = digest(bytes)));
      return result;
    },
    copyDigest(payload, signature) {
      // Keyed by the signature, checked against the payload: one signature object may (in a
      // forgery test) travel with other bytes.
      const known = copyDigests.get(signature);
      if (known?.payload === payload) return known.digest;
      const result = copyDigest(payload, signature);
      copyDigests.set(signature, { payload, digest: result });
      return result;
    },
  };
}

function key(payload: Payload): string {
  return messageKey(payload.origin?.id ?? '', payload.id);
}

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest().toString('latin1', 0, 16);
}

/** The payload's length first, so no two splits of the same bytes collide. */
function copyDigest(payload: Uint8Array, signature: Uint8Array): string {
  PAYLOAD_LENGTH.writeUInt32LE(payload.length);
  const hash = createHash('sha256').update(PAYLOAD_LENGTH).update(payload).update(signature);
  return hash.digest().toString('latin1', 0, 16);
}

/** Scratch space of copyDigest, which is synchronous. */
const PAYLOAD_LENGTH = Buffer.alloc(4);
