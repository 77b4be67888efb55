/**
 * The handshake of docs/protocol.md section 3 checked byte for byte against the protocol's test
 * vectors, `test/fixtures/protocol-vectors.json` (each field described in docs/protocol.md
 * section 10).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Identity } from '../crypto/identity.js';
import {
  EphemeralKey,
  authSignedBytes,
  keyProofOf,
  networkKeyOf,
  sessionKeysOf,
  transcriptOf,
  type Role,
} from '../crypto/handshake.js';
import { Opener, Sealer } from '../crypto/seal.js';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../proto/messages.js';
import { FrameDecoder, encodeFrame } from '../utils/frame.js';

interface SideVector {
  identity_seed: string;
  public_key: string;
  id: string;
  node: { id: string; name: string; host: string; port: number; public_key: string };
  ephemeral_private: string;
  ephemeral_public: string;
  nonce: string;
  hello: string;
  auth: {
    role: number;
    signed: string;
    signature: string;
    key_proof: string;
    envelope: string;
    unkeyed_envelope: string;
  };
}
interface Vectors {
  network: string;
  passphrase: string;
  network_key: string;
  dialer: SideVector;
  listener: SideVector;
  transcript: string;
  shared_secret: string;
  session_keys: { dialer_to_listener: string; listener_to_dialer: string };
  unkeyed_session_keys: { dialer_to_listener: string; listener_to_dialer: string };
  sealed: {
    envelope: string;
    dialer_to_listener: { body: string; frame: string };
    listener_to_dialer: { body: string; frame: string };
  };
}

const vectors = JSON.parse(
  readFileSync(new URL('./fixtures/protocol-vectors.json', import.meta.url), 'utf8'),
) as Vectors;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const sides: Array<[Role, SideVector]> = [
  ['dialer', vectors.dialer],
  ['listener', vectors.listener],
];
const transcript = hex(vectors.transcript);

describe('protocol vectors', () => {
  it.each(sides)('%s identity: public key and id from the seed', (_role, side) => {
    const identity = Identity.fromSeed(hex(side.identity_seed));
    expect(toHex(identity.publicKey)).toBe(side.public_key);
    expect(identity.id).toBe(side.id);
  });

  it.each(sides)('%s Hello encodes to the exact body bytes', (_role, side) => {
    const { node } = side;
    const hello: Envelope = {
      hello: {
        version: 1,
        node: {
          id: node.id,
          name: node.name,
          host: node.host,
          port: node.port,
          publicKey: hex(node.public_key),
        },
        nonce: hex(side.nonce),
        network: vectors.network,
        ephemeralKey: hex(side.ephemeral_public),
      },
    };
    expect(toHex(encodeEnvelope(hello))).toBe(side.hello);
    const decoded = decodeEnvelope(hex(side.hello));
    expect(decoded.ok && decoded.value.kind).toBe('hello');
  });

  it('transcript hashes both Hello bodies as sent', () => {
    expect(toHex(transcriptOf(hex(vectors.dialer.hello), hex(vectors.listener.hello)))).toBe(
      vectors.transcript,
    );
  });

  it.each(sides)('%s Auth: signature, key proof and envelopes', (role, side) => {
    const identity = Identity.fromSeed(hex(side.identity_seed));
    const signed = authSignedBytes(transcript, role);
    expect(toHex(signed)).toBe(side.auth.signed);
    const signature = identity.sign(signed);
    expect(toHex(signature)).toBe(side.auth.signature);
    const networkKey = networkKeyOf(vectors.passphrase);
    expect(toHex(networkKey)).toBe(vectors.network_key);
    const keyProof = keyProofOf(networkKey, transcript, role);
    expect(toHex(keyProof)).toBe(side.auth.key_proof);
    expect(toHex(encodeEnvelope({ auth: { keyProof, signature } }))).toBe(side.auth.envelope);
    const unkeyedProof = keyProofOf(networkKeyOf(''), transcript, role);
    expect(toHex(encodeEnvelope({ auth: { keyProof: unkeyedProof, signature } }))).toBe(
      side.auth.unkeyed_envelope,
    );
  });

  it('X25519 shared secret and session keys, keyed and unkeyed', () => {
    const dialerKey = new EphemeralKey(hex(vectors.dialer.ephemeral_private));
    const listenerKey = new EphemeralKey(hex(vectors.listener.ephemeral_private));
    expect(toHex(dialerKey.publicKey)).toBe(vectors.dialer.ephemeral_public);
    const shared = dialerKey.sharedSecret(listenerKey.publicKey);
    expect(shared && toHex(shared)).toBe(vectors.shared_secret);
    expect(toHex(listenerKey.sharedSecret(dialerKey.publicKey) ?? new Uint8Array())).toBe(
      vectors.shared_secret,
    );
    const keyed = sessionKeysOf(hex(vectors.shared_secret), transcript, hex(vectors.network_key));
    expect(toHex(keyed.dialerToListener)).toBe(vectors.session_keys.dialer_to_listener);
    expect(toHex(keyed.listenerToDialer)).toBe(vectors.session_keys.listener_to_dialer);
    const unkeyed = sessionKeysOf(hex(vectors.shared_secret), transcript, new Uint8Array(0));
    expect(toHex(unkeyed.dialerToListener)).toBe(vectors.unkeyed_session_keys.dialer_to_listener);
    expect(toHex(unkeyed.listenerToDialer)).toBe(vectors.unkeyed_session_keys.listener_to_dialer);
  });

  it('refuses low-order and malformed X25519 keys', () => {
    const key = new EphemeralKey(hex(vectors.dialer.ephemeral_private));
    expect(key.sharedSecret(new Uint8Array(32))).toBeUndefined();
    expect(key.sharedSecret(Uint8Array.of(1, ...new Uint8Array(31)))).toBeUndefined();
    expect(key.sharedSecret(new Uint8Array(31))).toBeUndefined();
  });

  it.each([
    ['dialer_to_listener', 'dialerToListener'],
    ['listener_to_dialer', 'listenerToDialer'],
  ] as const)('first sealed frame %s', (direction, keyName) => {
    const keys = sessionKeysOf(hex(vectors.shared_secret), transcript, hex(vectors.network_key));
    const plaintext = hex(vectors.sealed.envelope);
    const body = new Sealer(keys[keyName]).seal(plaintext);
    expect(toHex(body)).toBe(vectors.sealed[direction].body);
    expect(toHex(encodeFrame(body))).toBe(vectors.sealed[direction].frame);
    expect(toHex(new Opener(keys[keyName]).open(body) ?? new Uint8Array())).toBe(vectors.sealed.envelope);
    expect(toHex(new Sealer(keys[keyName]).sealFrame(plaintext))).toBe(vectors.sealed[direction].frame);
  });

  it('frame after frame, each sealed under the next counter and opened in order', () => {
    const keys = sessionKeysOf(hex(vectors.shared_secret), transcript, hex(vectors.network_key));
    const plaintext = hex(vectors.sealed.envelope);
    const sealer = new Sealer(keys.dialerToListener);
    const frames = [sealer.sealFrame(plaintext), sealer.sealFrame(plaintext), sealer.seal(plaintext)];
    // Frame 0 is the vector; later ones differ from it and from each other (a nonce never repeats).
    expect(toHex(frames[0] as Buffer)).toBe(vectors.sealed.dialer_to_listener.frame);
    expect(new Set(frames.map((frame) => toHex(frame.subarray(-100)))).size).toBe(3);
    const decoder = new FrameDecoder(1 << 16);
    decoder.push(Buffer.concat(frames.slice(0, 2)));
    const opener = new Opener(keys.dialerToListener);
    const opened = [decoder.next(), decoder.next()].map((result) =>
      result.type === 'frame' ? opener.open(result.body) : undefined,
    );
    opened.push(opener.open(frames[2] as Buffer));
    expect(opened.map((p) => toHex(p ?? new Uint8Array()))).toEqual(Array(3).fill(vectors.sealed.envelope));
  });

  it('a tampered sealed body does not open, and the counter does not advance', () => {
    const keys = sessionKeysOf(hex(vectors.shared_secret), transcript, hex(vectors.network_key));
    const body = hex(vectors.sealed.dialer_to_listener.body);
    const tampered = Buffer.from(body);
    tampered[0] = (tampered[0] as number) ^ 1;
    const opener = new Opener(keys.dialerToListener);
    expect(opener.open(tampered)).toBeUndefined();
    expect(opener.open(new Uint8Array(5))).toBeUndefined();
    expect(opener.open(body)).toBeDefined();
    expect(opener.open(body)).toBeUndefined(); // replay: counter 1 now
  });
});
