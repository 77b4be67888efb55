/**
 * Ed25519 verification with its costs cached. Importing a raw public key costs about as much as
 * verifying with it, and a node meets the same keys again and again (every message of an
 * origin, every reconnect of a peer), so the imported KeyObjects are kept, bounded.
 *
 * The lab runs thousands of nodes in one process, where every node verifies the same broadcast:
 * `sharedSignatureChecker` also remembers results, keyed by a hash of key, signature and data
 * together, so one (key, data, signature) triple is checked once per process. A node alone
 * gains nothing from it (it checks each message id once anyway), so it is the lab's choice.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ed25519PublicKeyObject, verifyEd25519 } from './identity.js';

export interface SignatureChecker {
  /** Whether `signature` is `publicKey`'s Ed25519 signature of `data`; never throws. */
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
}

/** Keys kept by one node: the origins of a busy mesh and the peers it reconnects to. */
const NODE_KEY_CACHE_SIZE = 1024;

export class KeyCachingChecker implements SignatureChecker {
  /** Keyed by the whole key, not the 64-bit id: a forged id collision cannot poison it. */
  readonly #keys: LRUCache<string, KeyObject | false>;

  constructor(keyCacheSize = NODE_KEY_CACHE_SIZE) {
    this.#keys = new LRUCache({ maxSize: keyCacheSize, sizeCalculation: () => 1 });
  }

  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    const key = this.#keyObject(publicKey);
    return key !== false && verifyEd25519(key, data, signature);
  }

  /** The imported key, or false for bytes that are not an Ed25519 key (remembered too). */
  #keyObject(raw: Uint8Array): KeyObject | false {
    const cacheKey = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
    let key = this.#keys.get(cacheKey);
    if (key === undefined) {
      try {
        key = ed25519PublicKeyObject(raw);
      } catch {
        key = false;
      }
      this.#keys.set(cacheKey, key);
    }
    return key;
  }
}

/** Results remembered by a shared checker; a lab broadcast is one entry, whatever N. */
const SHARED_RESULT_CACHE_SIZE = 1 << 16;
const SHARED_KEY_CACHE_SIZE = 1 << 16;

class ResultCachingChecker implements SignatureChecker {
  readonly #keys = new KeyCachingChecker(SHARED_KEY_CACHE_SIZE);
  readonly #results = new LRUCache<string, boolean>({
    maxSize: SHARED_RESULT_CACHE_SIZE,
    sizeCalculation: () => 1,
  });

  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    // Lengths first: no two different triples hash the same bytes.
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32LE(publicKey.length, 0);
    lengths.writeUInt32LE(signature.length, 4);
    const cacheKey = createHash('sha256')
      .update(lengths)
      .update(publicKey)
      .update(signature)
      .update(data)
      .digest('base64');
    let valid = this.#results.get(cacheKey);
    if (valid === undefined) {
      valid = this.#keys.verify(publicKey, data, signature);
      this.#results.set(cacheKey, valid);
    }
    return valid;
  }
}

/** One checker for every node of a process (the lab's in-process clusters). */
export function sharedSignatureChecker(): SignatureChecker {
  return new ResultCachingChecker();
}

/**
 * Accepts every signature, message and handshake alike. For benchmarks and simulations that
 * measure what checking costs, in nodes that talk to nobody else: a node that used it on a
 * network would deliver forgeries and relay them, and its honest neighbours would ban it. It is
 * a dependency (`NodeDependencies.signatures`), not a setting, so that no flag or config file
 * can turn checks off in a real node.
 */
export const uncheckedSignatures: SignatureChecker = Object.freeze({ verify: () => true });
