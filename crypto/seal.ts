/**
 * Sealed frames (docs/protocol.md section 3): ChaCha20-Poly1305 with nonce = 4 zero bytes || 8-byte
 * little-endian counter, one counter per direction starting at 0, no associated data. The body
 * on the wire is ciphertext || 16-byte tag.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { varintLength, writeFramePrefix } from '../utils/frame.js';

export const TAG_BYTES = 16;
const ALGORITHM = 'chacha20-poly1305';

/**
 * Writes the nonce of `counter` into `nonce`, reused frame after frame: node:crypto copies the
 * IV when a cipher is created, and a fresh 12-byte Buffer per frame was one more allocation
 * outside the V8 heap for every frame sent or received.
 */
function nonceOf(nonce: Buffer, counter: bigint): Buffer {
  nonce.writeBigUInt64LE(counter, 4);
  return nonce;
}

/** Seals what one side sends; the counter advances with every frame. */
export class Sealer {
  #counter = 0n;
  readonly #nonce = Buffer.alloc(12);
  constructor(private readonly key: Uint8Array) {}

  /** The sealed body: ciphertext || tag. */
  seal(plaintext: Uint8Array): Buffer {
    return this.#seal(plaintext, 0);
  }

  /** The whole frame, varint length prefix and sealed body, built in one Buffer. */
  sealFrame(plaintext: Uint8Array): Buffer {
    return this.#seal(plaintext, varintLength(plaintext.length + TAG_BYTES));
  }

  /**
   * Writes ciphertext and tag after `prefixBytes` of room for the frame's length prefix: the
   * frame is the only copy made of update's output (sealing, then framing, copied each frame
   * twice, and every copy is garbage outside the V8 heap until the next collection).
   */
  #seal(plaintext: Uint8Array, prefixBytes: number): Buffer {
    const cipher = createCipheriv(ALGORITHM, this.key, nonceOf(this.#nonce, this.#counter++), {
      authTagLength: TAG_BYTES,
    });
    const ciphertext = cipher.update(plaintext);
    const rest = cipher.final(); // empty for a stream cipher
    const bodyLength = ciphertext.length + rest.length + TAG_BYTES;
    const out = Buffer.allocUnsafe(prefixBytes + bodyLength);
    if (prefixBytes > 0) writeFramePrefix(out, bodyLength);
    ciphertext.copy(out, prefixBytes);
    rest.copy(out, prefixBytes + ciphertext.length);
    cipher.getAuthTag().copy(out, prefixBytes + ciphertext.length + rest.length);
    return out;
  }
}

/** Opens what the other side sent, in order. A failed open means the link is compromised. */
export class Opener {
  #counter = 0n;
  readonly #nonce = Buffer.alloc(12);
  constructor(private readonly key: Uint8Array) {}

  /** The plaintext, or undefined when the tag does not verify (the counter does not advance). */
  open(body: Uint8Array): Buffer | undefined {
    if (body.length < TAG_BYTES) return undefined;
    const split = body.length - TAG_BYTES;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, nonceOf(this.#nonce, this.#counter), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAuthTag(body.subarray(split));
      const update = decipher.update(body.subarray(0, split));
      // A stream cipher's final() holds nothing back: the plaintext is update's output, not a
      // copy of it (a frame's worth of Buffer less per frame received).
      const rest = decipher.final();
      const plaintext = rest.length === 0 ? update : Buffer.concat([update, rest]);
      this.#counter++;
      return plaintext;
    } catch {
      return undefined;
    }
  }
}
