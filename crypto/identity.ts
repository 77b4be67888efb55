/**
 * Self-certifying identity (docs/protocol.md section 2): an Ed25519 key pair whose id is
 * `hex(sha256(public_key))[0:16]`. Raw 32-byte keys travel on the wire; they are imported as
 * JWK (RFC 8037), not as DER: OpenSSL's DER decoder costs about ten times more per key, and a
 * node imports keys on every handshake.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { NodeInfo } from '../proto/messages.js';

export const PUBLIC_KEY_BYTES = 32;
export const ID_HEX_CHARS = 16;

export function nodeIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, ID_HEX_CHARS);
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** A zero `x` in a private JWK: OpenSSL derives the public key from `d` and ignores `x`. */
const PLACEHOLDER_X = base64url(new Uint8Array(32));

/** A private OKP key from its raw 32 bytes (an Ed25519 seed or an X25519 scalar). */
export function okpPrivateKey(curve: 'Ed25519' | 'X25519', raw: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: curve, d: base64url(raw), x: PLACEHOLDER_X },
    format: 'jwk',
  });
}

/** A public OKP key from its raw 32 bytes; throws on a malformed key. */
export function okpPublicKey(curve: 'Ed25519' | 'X25519', raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: curve, x: base64url(raw) }, format: 'jwk' });
}

/** The raw 32-byte public key of a private OKP key. */
export function rawPublicKeyOf(privateKey: KeyObject): Uint8Array {
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(x ?? '', 'base64url'));
}

export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return okpPublicKey('Ed25519', raw);
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
    this.publicKey = rawPublicKeyOf(privateKey);
    this.id = nodeIdOf(this.publicKey);
  }

  /** From a 32-byte RFC 8032 seed (from the injected random source, or a test vector). */
  static fromSeed(seed: Uint8Array): Identity {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    return new Identity(okpPrivateKey('Ed25519', seed));
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

/**
 * Public keys checked lately, each with its id. One NodeInfo travels in many messages (every
 * Shuffle entry, every payload origin), and hashing its key at each was a tenth of a simulation's
 * CPU. Bounded: past CHECKED_KEYS_KEPT keys the oldest leaves first, so a flood of new keys only
 * costs the hashing it would have cost anyway.
 */
const CHECKED_KEYS_KEPT = 16_384;
const checkedIds = new Map<string, string>();

/** `nodeIdOf(publicKey)`, from the cache of keys checked lately when it is there. */
function checkedIdOf(publicKey: Uint8Array): string {
  const key = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64');
  let id = checkedIds.get(key);
  if (id === undefined) {
    id = nodeIdOf(publicKey);
    if (checkedIds.size >= CHECKED_KEYS_KEPT) checkedIds.delete(checkedIds.keys().next().value as string);
    checkedIds.set(key, id);
  }
  return id;
}

/**
 * NodeInfo objects judged valid. Nothing in the project changes a NodeInfo once made (a changed
 * one is a new object), so an object found valid stays valid: in a simulation, where one object
 * travels in every message that names its node, each is judged once. Weak, so it holds nothing.
 */
const validInfos = new WeakSet<NodeInfo>();

/** Why a NodeInfo is invalid, or undefined when it is valid. Never throws. */
export function nodeInfoProblem(info: NodeInfo | null | undefined): string | undefined {
  if (!info) return 'missing node info';
  if (validInfos.has(info)) return undefined;
  const problem = judgeNodeInfo(info);
  if (problem === undefined) validInfos.add(info);
  return problem;
}

function judgeNodeInfo(info: NodeInfo): string | undefined {
  if (!(info.publicKey instanceof Uint8Array) || info.publicKey.length !== PUBLIC_KEY_BYTES) {
    return 'public key is not 32 bytes';
  }
  if (typeof info.id !== 'string' || info.id !== checkedIdOf(info.publicKey))
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
