/**
 * Framing (docs/protocol.md section 1): every frame is a varint32 length, at most 5 bytes, then
 * exactly that many bytes of body. The decoder checks the prefix before it buffers the body,
 * so a peer can never make us hold more than one frame's worth of its bytes.
 */

/** The longest varint32 prefix, in bytes. */
export const MAX_PREFIX_BYTES = 5;

export type FrameResult =
  { type: 'need-more' } | { type: 'frame'; body: Uint8Array } | { type: 'malformed'; reason: string };

const NEED_MORE: FrameResult = { type: 'need-more' };

export function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

/** Writes the varint32 prefix of a body of `length` bytes at the start of `out`; returns its size. */
export function writeFramePrefix(out: Uint8Array, length: number): number {
  let offset = 0;
  while (length >= 0x80) {
    out[offset++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  out[offset++] = length;
  return offset;
}

/** Prefixes `body` with its varint32 length. */
export function encodeFrame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(varintLength(body.length) + body.length);
  out.set(body, writeFramePrefix(out, body.length));
  return out;
}

/**
 * A streaming decoder: push chunks as they arrive from the socket, then call `next()` until it
 * answers `need-more`. A malformed stream poisons the decoder; the connection must close.
 *
 * Invariant: between calls, the bytes held are less than one whole frame (prefix + body), so
 * held memory is at most `maxFrameBytes + MAX_PREFIX_BYTES` once the caller has drained it.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #bodyLength = -1; // length of the frame being assembled, -1 while reading its prefix
  #failure: FrameResult | undefined;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received but not yet handed out as frames. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): void {
    if (this.#failure || chunk.length === 0) return;
    this.#chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.#buffered += chunk.length;
  }

  next(): FrameResult {
    if (this.#failure) return this.#failure;
    if (this.#bodyLength < 0) {
      const prefix = this.#readPrefix();
      if (prefix.type !== 'frame') return prefix;
    }
    if (this.#buffered < this.#bodyLength) return NEED_MORE;
    const body = this.#take(this.#bodyLength);
    this.#bodyLength = -1;
    return { type: 'frame', body };
  }

  /** Reads the varint prefix into #bodyLength; answers `frame` when it is complete and valid. */
  #readPrefix(): FrameResult {
    let value = 0;
    let multiplier = 1;
    let index = 0;
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        value += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        index++;
        if ((byte & 0x80) === 0) return this.#acceptPrefix(value, index);
        if (index === MAX_PREFIX_BYTES) return this.#fail('length prefix longer than 5 bytes');
      }
    }
    return NEED_MORE;
  }

  #acceptPrefix(length: number, prefixBytes: number): FrameResult {
    if (length === 0) return this.#fail('zero-length frame');
    if (length > this.maxFrameBytes) {
      return this.#fail(`frame of ${length} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`);
    }
    this.#take(prefixBytes);
    this.#bodyLength = length;
    return { type: 'frame', body: new Uint8Array(0) };
  }

  #fail(reason: string): FrameResult {
    this.#failure = { type: 'malformed', reason };
    this.#chunks = [];
    this.#buffered = 0;
    return this.#failure;
  }

  /** Removes and returns the first `n` buffered bytes; `n` must be at most #buffered. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0] as Buffer;
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.#chunks[0] as Buffer;
      const wanted = n - copied;
      if (chunk.length <= wanted) {
        chunk.copy(out, copied);
        copied += chunk.length;
        this.#chunks.shift();
      } else {
        chunk.copy(out, copied, 0, wanted);
        this.#chunks[0] = chunk.subarray(wanted);
        copied += wanted;
      }
    }
    return out;
  }
}
