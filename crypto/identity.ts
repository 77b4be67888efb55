/**
 * Self-certifying identity (PROTOCOL.md section 2): an Ed25519 key pair whose id is
 * `hex(sha256(public_key))[0:16]`. Raw 32-byte keys travel on the wire; node:crypto wants DER,
 * so raw keys are wrapped in the fixed ASN.1 prefixes of RFC 8410.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { NodeInfo } from '../proto/messages.js';

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export const PUBLIC_KEY_BYTES = 32;
export const ID_HEX_CHARS = 16;

export function nodeIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, ID_HEX_CHARS);
}

export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Ed25519 verification that never throws: a malformed key or signature is just `false`. */
export function verifyEd25519(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

export class Identity {
  readonly publicKey: Uint8Array;
  readonly id: string;

  private constructor(private readonly privateKey: KeyObject) {
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
    this.id = nodeIdOf(this.publicKey);
  }

  /** From a 32-byte RFC 8032 seed (from the injected random source, or a test vector). */
  static fromSeed(seed: Uint8Array): Identity {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
    return new Identity(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  }

  /** From a PKCS#8 PEM, as stored in a data dir. Throws a clear error for anything else. */
  static fromPem(pem: string): Identity {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (err) {
      throw new Error(`not a private key in PEM form (${(err as Error).message})`, { cause: err });
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new Error(`expected an ed25519 key, found ${key.asymmetricKeyType ?? 'unknown'}`);
    }
    return new Identity(key);
  }

  toPem(): string {
    return this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  sign(data: Uint8Array): Uint8Array {
    return sign(null, data, this.privateKey);
  }
}

/** Limits of a valid NodeInfo (section 2). */
export const MAX_NAME_BYTES = 32;
const MAX_HOST_BYTES = 255;

/** Why a NodeInfo is invalid, or undefined when it is valid. Never throws. */
export function nodeInfoProblem(info: NodeInfo | null | undefined): string | undefined {
  if (!info) return 'missing node info';
  if (!(info.publicKey instanceof Uint8Array) || info.publicKey.length !== PUBLIC_KEY_BYTES) {
    return 'public key is not 32 bytes';
  }
  if (typeof info.id !== 'string' || info.id !== nodeIdOf(info.publicKey))
    return 'id does not match public key';
  if (typeof info.name !== 'string' || Buffer.byteLength(info.name) > MAX_NAME_BYTES) {
    return `name longer than ${MAX_NAME_BYTES} bytes`;
  }
  if (typeof info.host !== 'string' || info.host.length === 0) return 'empty host';
  if (Buffer.byteLength(info.host) > MAX_HOST_BYTES) return 'host too long';
  if (!Number.isInteger(info.port) || info.port < 0 || info.port > 65535) return 'port out of range';
  return undefined;
}

/** A NodeInfo reduced to plain fields, for JSON output and logs. */
export function describeNode(info: NodeInfo): { id: string; name: string; host: string; port: number } {
  return { id: info.id, name: info.name, host: info.host, port: info.port };
}
