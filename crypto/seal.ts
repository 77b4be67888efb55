/**
 * Sealed frames (docs/protocol.md section 3): ChaCha20-Poly1305 with nonce = 4 zero bytes || 8-byte
 * little-endian counter, one counter per direction starting at 0, no associated data. The body
 * on the wire is ciphertext || 16-byte tag.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const TAG_BYTES = 16;
const ALGORITHM = 'chacha20-poly1305';

function nonceOf(counter: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  return nonce;
}

/** Seals what one side sends; the counter advances with every frame. */
export class Sealer {
  #counter = 0n;
  constructor(private readonly key: Uint8Array) {}

  seal(plaintext: Uint8Array): Buffer {
    const cipher = createCipheriv(ALGORITHM, this.key, nonceOf(this.#counter++), {
      authTagLength: TAG_BYTES,
    });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }
}

/** Opens what the other side sent, in order. A failed open means the link is compromised. */
export class Opener {
  #counter = 0n;
  constructor(private readonly key: Uint8Array) {}

  /** The plaintext, or undefined when the tag does not verify (the counter does not advance). */
  open(body: Uint8Array): Buffer | undefined {
    if (body.length < TAG_BYTES) return undefined;
    const split = body.length - TAG_BYTES;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, nonceOf(this.#counter), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAuthTag(body.subarray(split));
      const plaintext = Buffer.concat([decipher.update(body.subarray(0, split)), decipher.final()]);
      this.#counter++;
      return plaintext;
    } catch {
      return undefined;
    }
  }
}
