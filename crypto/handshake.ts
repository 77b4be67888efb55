/**
 * The key schedule of the handshake (docs/protocol.md section 3), as pure functions so that the
 * checked-in vectors test them byte for byte.
 *
 *   T        = sha256("overlay-v1-hs" || dialer Hello body || listener Hello body)
 *   signed   = "overlay-v1-auth" || T || role          (Ed25519, identity key)
 *   proof    = HMAC-SHA256(network_key, "overlay-v1-net" || T || role)   (keyed meshes only)
 *   keys     = HKDF-SHA256(ikm = X25519 shared, salt = T, info = "overlay-v1-session" || network_key)
 *              bytes 0-31 seal dialer -> listener, bytes 32-63 listener -> dialer
 */
import {
  createHash,
  createHmac,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { okpPrivateKey, okpPublicKey, rawPublicKeyOf } from './identity.js';

export type Role = 'dialer' | 'listener';
export const ROLE_BYTE: Record<Role, number> = { dialer: 0x01, listener: 0x02 };

const ascii = (s: string): Buffer => Buffer.from(s, 'utf8');

export function networkKeyOf(passphrase: string | undefined): Uint8Array {
  if (passphrase === undefined || passphrase === '') return new Uint8Array(0);
  return createHash('sha256').update(ascii('overlay-v1-netkey')).update(ascii(passphrase)).digest();
}

export function transcriptOf(dialerHello: Uint8Array, listenerHello: Uint8Array): Uint8Array {
  return createHash('sha256')
    .update(ascii('overlay-v1-hs'))
    .update(dialerHello)
    .update(listenerHello)
    .digest();
}

export function authSignedBytes(transcript: Uint8Array, role: Role): Uint8Array {
  return Buffer.concat([ascii('overlay-v1-auth'), transcript, Uint8Array.of(ROLE_BYTE[role])]);
}

/** The key proof of a keyed mesh; empty on an unkeyed one. */
export function keyProofOf(networkKey: Uint8Array, transcript: Uint8Array, role: Role): Uint8Array {
  if (networkKey.length === 0) return new Uint8Array(0);
  return createHmac('sha256', networkKey)
    .update(ascii('overlay-v1-net'))
    .update(transcript)
    .update(Uint8Array.of(ROLE_BYTE[role]))
    .digest();
}

export function isKeyProofValid(
  networkKey: Uint8Array,
  transcript: Uint8Array,
  role: Role,
  proof: Uint8Array,
): boolean {
  const expected = keyProofOf(networkKey, transcript, role);
  return expected.length === proof.length && timingSafeEqual(expected, proof);
}

export interface SessionKeys {
  dialerToListener: Uint8Array;
  listenerToDialer: Uint8Array;
}

export function sessionKeysOf(
  shared: Uint8Array,
  transcript: Uint8Array,
  networkKey: Uint8Array,
): SessionKeys {
  const info = Buffer.concat([ascii('overlay-v1-session'), networkKey]);
  const okm = new Uint8Array(hkdfSync('sha256', shared, transcript, info, 64));
  return { dialerToListener: okm.slice(0, 32), listenerToDialer: okm.slice(32, 64) };
}

/** A fresh X25519 key pair for one handshake. */
export class EphemeralKey {
  readonly publicKey: Uint8Array;
  readonly #privateKey: KeyObject;

  /** From 32 random bytes (the injected random source, or a test vector). */
  constructor(privateBytes: Uint8Array) {
    this.#privateKey = okpPrivateKey('X25519', privateBytes);
    this.publicKey = rawPublicKeyOf(this.#privateKey);
  }

  /**
   * The shared secret with a peer's raw public key, or undefined when the key is malformed or
   * of low order (an all-zero secret would let a relay fix the session keys).
   */
  sharedSecret(peerPublic: Uint8Array): Uint8Array | undefined {
    if (peerPublic.length !== 32) return undefined;
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey: this.#privateKey, publicKey: okpPublicKey('X25519', peerPublic) });
    } catch {
      return undefined;
    }
    return shared.every((byte) => byte === 0) ? undefined : shared;
  }
}
