/**
 * The cryptography a Link runs: key agreement and signatures of the handshake, and the sealing
 * of every frame after it. Nodes always use `sealedLinks` (docs/protocol.md section 3). The lab may
 * inject `labPlaintextLinks` into nodes it runs itself, over the memory transport where no
 * third party exists: the same handshake messages and frame sizes, without the crypto. A
 * 10,000-node simulation spends about two thirds of its CPU in handshake crypto otherwise, and
 * membership and routing do not depend on it. It is a dependency, not a setting, so that no
 * flag or config file can turn it on in a node that talks to the network.
 */
import type { Identity } from '../crypto/identity.js';
import type { SignatureChecker } from '../crypto/signatures.js';
import { EphemeralKey, sessionKeysOf, type Role } from '../crypto/handshake.js';
import { Opener, Sealer, TAG_BYTES } from '../crypto/seal.js';
import { varintLength, writeFramePrefix } from '../utils/frame.js';

export interface KeyAgreement {
  readonly publicKey: Uint8Array;
  /** The shared secret, or undefined when the peer's key is malformed or weak. */
  sharedSecret(peerPublic: Uint8Array): Uint8Array | undefined;
}

export interface FrameSealer {
  /** The whole frame: the varint length prefix, then the sealed body. */
  sealFrame(plaintext: Uint8Array): Uint8Array;
}

export interface FrameOpener {
  /** The plaintext, or undefined when the frame does not open. */
  open(body: Uint8Array): Uint8Array | undefined;
}

export type LinkSecurityName = 'sealed' | 'plaintext';

export interface LinkSecurity {
  /** As reports name it. */
  readonly name: LinkSecurityName;
  /** A fresh key pair for one handshake, from 32 random bytes. */
  keyAgreement(privateBytes: Uint8Array): KeyAgreement;
  signAuth(identity: Identity, signed: Uint8Array): Uint8Array;
  verifyAuth(
    signatures: SignatureChecker,
    publicKey: Uint8Array,
    signed: Uint8Array,
    signature: Uint8Array,
  ): boolean;
  /** The two directions of an open link, from the handshake's shared secret. */
  session(
    shared: Uint8Array,
    transcript: Uint8Array,
    networkKey: Uint8Array,
    role: Role,
  ): { sealer: FrameSealer; opener: FrameOpener };
}

/** X25519, Ed25519 and ChaCha20-Poly1305, as the protocol says. */
export const sealedLinks: LinkSecurity = {
  name: 'sealed',
  keyAgreement: (privateBytes) => new EphemeralKey(privateBytes),
  signAuth: (identity, signed) => identity.sign(signed),
  verifyAuth: (signatures, publicKey, signed, signature) => signatures.verify(publicKey, signed, signature),
  session(shared, transcript, networkKey, role) {
    const keys = sessionKeysOf(shared, transcript, networkKey);
    const [sendKey, receiveKey] =
      role === 'dialer'
        ? [keys.dialerToListener, keys.listenerToDialer]
        : [keys.listenerToDialer, keys.dialerToListener];
    return { sealer: new Sealer(sendKey), opener: new Opener(receiveKey) };
  },
};

const PLAINTEXT_SIGNATURE = new Uint8Array(64);
const PLAINTEXT_TAG = new Uint8Array(TAG_BYTES);

/**
 * For the lab's own nodes only: the same messages and frame sizes, no secrecy, no proof. The
 * public "key" is the random bytes themselves, the signature 64 zero bytes (anything else is
 * refused, so a sealed node cannot pair with a plaintext one by accident), the tag 16 zeros.
 */
export const labPlaintextLinks: LinkSecurity = {
  name: 'plaintext',
  keyAgreement: (privateBytes) => ({
    publicKey: privateBytes,
    sharedSecret: (peerPublic) => (peerPublic.length === 32 ? peerPublic : undefined),
  }),
  signAuth: () => PLAINTEXT_SIGNATURE,
  verifyAuth: (_signatures, _publicKey, _signed, signature) =>
    signature.length === PLAINTEXT_SIGNATURE.length && signature.every((byte) => byte === 0),
  session: () => ({
    sealer: {
      sealFrame: (plaintext) => {
        const bodyLength = plaintext.length + TAG_BYTES;
        const frame = new Uint8Array(varintLength(bodyLength) + bodyLength);
        const prefixBytes = writeFramePrefix(frame, bodyLength);
        frame.set(plaintext, prefixBytes);
        frame.set(PLAINTEXT_TAG, prefixBytes + plaintext.length);
        return frame;
      },
    },
    opener: {
      open: (body) => (body.length < TAG_BYTES ? undefined : body.subarray(0, body.length - TAG_BYTES)),
    },
  }),
};
