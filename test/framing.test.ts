/**
 * Tier 1 of the tests (codec and framing, no sockets): framing and envelope codec with byte
 * fixtures, frames split across chunks, and one test per violation at the limit and just past it.
 *
 * docs/protocol.md section 1: a frame is a varint32 length (unsigned LEB128, at most 5 bytes) then
 * exactly that many body bytes; a length over `maxFrameBytes`, a prefix longer than 5 bytes or a
 * zero length is refused, and nothing is buffered beyond `maxFrameBytes` for a peer.
 *
 * The limit used here is 300, on purpose distinct from the 5-byte prefix cap, from the 64 KiB
 * default and from the varint boundaries (127/128), so that a swapped or hard-coded limit fails.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import {
  encodeFrame,
  FrameDecoder,
  MAX_PREFIX_BYTES,
  varintLength,
  type FrameResult,
} from '../utils/frame.js';
import {
  decodeEnvelope,
  decodePayload,
  encodeEnvelope,
  encodePayload,
  type Envelope,
  type Payload,
} from '../proto/messages.js';

const MAX = 300;
const KIB = 1024;

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Deterministic, non-constant body bytes, so that an off-by-one slice shows up in the hex. */
function patterned(length: number, seed = 0): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return out;
}

/** mulberry32: a seeded source so a failing garbage stream can be replayed. */
function seededBytes(seed: number): (length: number) => Buffer {
  let state = seed >>> 0;
  return (length) => {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 4) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const word = (t ^ (t >>> 14)) >>> 0;
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
    }
    return out;
  };
}

/** Calls next() until it stops answering `frame`; returns the bodies (as hex) and the last answer. */
function drain(decoder: FrameDecoder): { bodies: string[]; last: FrameResult } {
  const bodies: string[] = [];
  for (;;) {
    const result = decoder.next();
    if (result.type !== 'frame') return { bodies, last: result };
    bodies.push(hexOf(result.body));
    if (bodies.length > 1_000_000) throw new Error('decoder never stops answering frame');
  }
}

function reasonOf(result: FrameResult): string {
  if (result.type !== 'malformed') throw new Error(`expected malformed, got ${result.type}`);
  return result.reason;
}

/** Splits `stream` at the given cut positions (taken modulo its length + 1, so any numbers do). */
function chunked(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(stream.subarray(start, point));
    start = point;
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

describe('varintLength', () => {
  it.each([
    [0, 1],
    [1, 1],
    [127, 1],
    [128, 2],
    [MAX, 2],
    [16_383, 2],
    [16_384, 3],
    [2 ** 21 - 1, 3],
    [2 ** 21, 4],
    [2 ** 28 - 1, 4],
    [2 ** 28, 5],
    [2 ** 32 - 1, 5],
  ])('varintLength(%i) is %i', (value, length) => {
    expect(varintLength(value)).toBe(length);
  });

  it('matches the prefix protobufjs writes, for every uint32', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), (value) => {
        expect(varintLength(value)).toBe(protobuf.Writer.create().uint32(value).finish().length);
      }),
    );
  });
});

describe('encodeFrame', () => {
  it.each([
    ['one byte', hex('aa'), '01aa'],
    ['three bytes', Buffer.from('abc'), '03616263'],
    ['empty body (the decoder refuses it, the encoder just writes 00)', hex(''), '00'],
  ])('%s', (_name, body, expected) => {
    expect(hexOf(encodeFrame(body))).toBe(expected);
  });

  it.each([
    [127, '7f'],
    [128, '8001'],
    [MAX, 'ac02'],
    [MAX + 1, 'ad02'],
    [16_384, '808001'],
    [64 * KIB, '808004'],
  ])('a %i-byte body gets prefix %s then the body itself', (length, prefix) => {
    const body = patterned(length);
    const frame = encodeFrame(body);
    expect(frame.length).toBe(prefix.length / 2 + length);
    expect(hexOf(frame.subarray(0, prefix.length / 2))).toBe(prefix);
    expect(frame.subarray(prefix.length / 2).equals(body)).toBe(true);
  });

  it('encodes only the viewed bytes of a Uint8Array that is a window on a larger buffer', () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect(hexOf(encodeFrame(backing.subarray(2, 5)))).toBe('03010203');
  });

  it("is protobuf's delimited form (protobufjs Writer.bytes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2 * MAX }), (body) => {
        expect(hexOf(encodeFrame(body))).toBe(hexOf(protobuf.Writer.create().bytes(body).finish()));
      }),
    );
  });
});

describe('FrameDecoder: well-formed streams', () => {
  it('decodes one frame, then answers need-more with nothing buffered', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex('03 616263'));
    expect(decoder.bufferedBytes).toBe(4);
    const result = decoder.next();
    expect(result.type).toBe('frame');
    expect(result.type === 'frame' && Buffer.from(result.body).toString()).toBe('abc');
    expect(decoder.next()).toEqual({ type: 'need-more' });
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('answers need-more on an empty decoder and ignores empty chunks', () => {
    const decoder = new FrameDecoder(MAX);
    expect(decoder.next()).toEqual({ type: 'need-more' });
    decoder.push(new Uint8Array(0));
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.next()).toEqual({ type: 'need-more' });
  });

  it('decodes many frames from one chunk, in order, including one at the limit', () => {
    const atLimit = patterned(MAX, 3);
    const chunk = Buffer.concat([hex('01 aa'), hex('02 bbcc'), hex('03 ddeeff'), hex('ac02'), atLimit]);
    const decoder = new FrameDecoder(MAX);
    decoder.push(chunk);
    const { bodies, last } = drain(decoder);
    expect(bodies).toEqual(['aa', 'bbcc', 'ddeeff', hexOf(atLimit)]);
    expect(last).toEqual({ type: 'need-more' });
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('keeps a trailing partial frame until the rest arrives', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex('01 aa 05 1122'));
    expect(drain(decoder)).toEqual({ bodies: ['aa'], last: { type: 'need-more' } });
    expect(decoder.bufferedBytes).toBeGreaterThanOrEqual(2);
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(3);
    decoder.push(hex('334455 01'));
    expect(drain(decoder)).toEqual({ bodies: ['1122334455'], last: { type: 'need-more' } });
    decoder.push(hex('bb'));
    expect(drain(decoder)).toEqual({ bodies: ['bb'], last: { type: 'need-more' } });
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('reads a non-Buffer Uint8Array window at its own offset', () => {
    const backing = new Uint8Array([0xee, 0xee, 0x02, 0x11, 0x22, 0x01, 0x33, 0xee]);
    const decoder = new FrameDecoder(MAX);
    decoder.push(backing.subarray(2, 7));
    expect(drain(decoder)).toEqual({ bodies: ['1122', '33'], last: { type: 'need-more' } });
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('accepts a padded (non-minimal) prefix of up to 5 bytes, as protobuf readers do', () => {
    const decoder = new FrameDecoder(MAX);
    // 300 written in 5 bytes: ac 82 80 80 00; 2 written in 2 bytes: 82 00.
    decoder.push(Buffer.concat([hex('ac82808000'), patterned(MAX), hex('8200 aabb')]));
    expect(drain(decoder)).toEqual({ bodies: [hexOf(patterned(MAX)), 'aabb'], last: { type: 'need-more' } });
  });

  describe('one frame split at every possible point', () => {
    it.each([
      ['1-byte body, 1-byte prefix', 1],
      ['127-byte body, 1-byte prefix', 127],
      ['128-byte body, 2-byte prefix', 128],
      ['body at the limit, 2-byte prefix', MAX],
    ])('%s', (_name, length) => {
      const body = patterned(length, length);
      const frame = encodeFrame(body);
      for (let split = 0; split <= frame.length; split++) {
        const decoder = new FrameDecoder(MAX);
        decoder.push(frame.subarray(0, split));
        const first = drain(decoder);
        if (split < frame.length) {
          expect(first, `split at ${split}`).toEqual({ bodies: [], last: { type: 'need-more' } });
          expect(decoder.bufferedBytes, `split at ${split}`).toBeLessThanOrEqual(split);
        }
        decoder.push(frame.subarray(split));
        const second = drain(decoder);
        expect([...first.bodies, ...second.bodies], `split at ${split}`).toEqual([hexOf(body)]);
        expect(second.last).toEqual({ type: 'need-more' });
        expect(decoder.bufferedBytes).toBe(0);
      }
    });

    it('three frames, every pair of split points (prefixes and bodies spanning chunks)', () => {
      const bodies = [patterned(1, 1), patterned(129, 2), patterned(3, 3)];
      const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
      for (let a = 0; a <= stream.length; a++) {
        for (let b = a; b <= stream.length; b += 7) {
          const decoder = new FrameDecoder(MAX);
          const seen: string[] = [];
          for (const chunk of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]) {
            decoder.push(chunk);
            const { bodies: got, last } = drain(decoder);
            expect(last.type).toBe('need-more');
            seen.push(...got);
          }
          expect(seen, `splits at ${a}, ${b}`).toEqual(bodies.map(hexOf));
        }
      }
    });
  });

  it('byte-by-byte: each frame comes out exactly when its last byte arrives', () => {
    const bodies = [
      patterned(1, 1),
      patterned(127, 2),
      patterned(128, 3),
      patterned(MAX, 4),
      patterned(2, 5),
    ];
    const frames = bodies.map((b) => encodeFrame(b));
    const stream = Buffer.concat(frames);
    const ends: number[] = [];
    let offset = 0;
    for (const frame of frames) ends.push((offset += frame.length));

    const decoder = new FrameDecoder(MAX);
    const seen: string[] = [];
    const emittedAt: number[] = [];
    for (let i = 0; i < stream.length; i++) {
      decoder.push(stream.subarray(i, i + 1));
      const { bodies: got, last } = drain(decoder);
      expect(last).toEqual({ type: 'need-more' });
      for (const body of got) {
        seen.push(body);
        emittedAt.push(i + 1);
      }
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(MAX + MAX_PREFIX_BYTES);
    }
    expect(seen).toEqual(bodies.map(hexOf));
    expect(emittedAt).toEqual(ends);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('a decoder drained by protobufjs agrees: the stream is protobuf delimited messages', () => {
    const bodies = [patterned(5, 1), patterned(200, 2), patterned(1, 3)];
    const reader = protobuf.Reader.create(Buffer.concat(bodies.map((b) => encodeFrame(b))));
    const read: string[] = [];
    while (reader.pos < reader.len) read.push(hexOf(reader.bytes()));
    expect(read).toEqual(bodies.map(hexOf));
  });
});

describe('FrameDecoder: properties', () => {
  const body = fc.uint8Array({ minLength: 1, maxLength: MAX });

  it('any bodies, any chunking: exactly the bodies in order, then need-more, nothing left', () => {
    fc.assert(
      fc.property(
        fc.array(body, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.boolean(),
        (bodies, cuts, drainEachPush) => {
          const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
          const decoder = new FrameDecoder(MAX);
          const seen: string[] = [];
          for (const chunk of chunked(stream, cuts)) {
            const before = decoder.bufferedBytes;
            decoder.push(chunk);
            expect(decoder.bufferedBytes).toBe(before + chunk.length);
            if (!drainEachPush) continue;
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(MAX + MAX_PREFIX_BYTES + chunk.length);
            const { bodies: got, last } = drain(decoder);
            expect(last).toEqual({ type: 'need-more' });
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(MAX + MAX_PREFIX_BYTES);
            seen.push(...got);
          }
          const { bodies: rest, last } = drain(decoder);
          seen.push(...rest);
          expect(last).toEqual({ type: 'need-more' });
          expect(seen).toEqual(bodies.map(hexOf));
          expect(decoder.next()).toEqual({ type: 'need-more' });
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it('for any limit, a length L is accepted from its prefix alone iff 1 <= L <= limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70_000 }),
        fc.integer({ min: 0, max: 70_001 }),
        (limit, length) => {
          const decoder = new FrameDecoder(limit);
          decoder.push(encodeFrame(new Uint8Array(length)).subarray(0, varintLength(length)));
          const result = decoder.next();
          if (length >= 1 && length <= limit) expect(result).toEqual({ type: 'need-more' });
          else expect(result.type).toBe('malformed');
        },
      ),
    );
  });

  it('with an arbitrary limit, bodies up to that limit round-trip through 1-byte chunks', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 400 })
          .chain((limit) =>
            fc.tuple(
              fc.constant(limit),
              fc.array(fc.uint8Array({ minLength: 1, maxLength: limit }), { maxLength: 5 }),
            ),
          ),
        ([limit, bodies]) => {
          const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
          const decoder = new FrameDecoder(limit);
          const seen: string[] = [];
          for (let i = 0; i < stream.length; i++) {
            decoder.push(stream.subarray(i, i + 1));
            const { bodies: got, last } = drain(decoder);
            expect(last.type).toBe('need-more');
            seen.push(...got);
          }
          expect(seen).toEqual(bodies.map(hexOf));
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('FrameDecoder: refusals', () => {
  it('refuses a prefix longer than 5 bytes as soon as the 5th byte still has the continuation bit', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex('80808080'));
    expect(decoder.next()).toEqual({ type: 'need-more' }); // a 5-byte prefix may still follow
    expect(decoder.bufferedBytes).toBe(4);
    decoder.push(hex('80'));
    const result = decoder.next();
    expect(reasonOf(result)).toMatch(/longer than 5 bytes/);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it.each([['8080808080'], ['ffffffffff'], ['ffffffffff01'], ['ffffffffff7f aabbcc']])(
    'refuses the too-long prefix %s',
    (bytes) => {
      const decoder = new FrameDecoder(MAX);
      decoder.push(hex(bytes));
      expect(reasonOf(decoder.next())).toMatch(/longer than 5 bytes/);
      expect(decoder.bufferedBytes).toBe(0);
    },
  );

  it.each([['00'], ['8000'], ['8080808000']])('refuses the zero-length frame %s', (bytes) => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex(bytes));
    expect(reasonOf(decoder.next())).toMatch(/zero-length/);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('accepts a body of exactly maxFrameBytes (300)', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex('ac02'));
    expect(decoder.next()).toEqual({ type: 'need-more' });
    decoder.push(patterned(MAX - 1));
    expect(decoder.next()).toEqual({ type: 'need-more' });
    decoder.push(hex('00'));
    const result = decoder.next();
    expect(result.type).toBe('frame');
    expect(result.type === 'frame' && result.body.length).toBe(MAX);
  });

  it('refuses maxFrameBytes + 1 (301) from the prefix alone, before any body byte arrives', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex('ad02'));
    const reason = reasonOf(decoder.next());
    expect(reason).toMatch(/exceeds maxFrameBytes/);
    expect(reason).toContain('301');
    expect(reason).toContain('300');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it.each([
    [1, '01', '02'],
    [127, '7f', '8001'],
    [128, '8001', '8101'],
    [299, 'ab02', 'ac02'],
    [MAX, 'ac02', 'ad02'],
    [301, 'ad02', 'ae02'],
    [64 * KIB, '808004', '818004'],
  ])('with maxFrameBytes %i: prefix %s is accepted, %s refused', (limit, atLimit, pastLimit) => {
    const accepting = new FrameDecoder(limit);
    accepting.push(hex(atLimit));
    expect(accepting.next()).toEqual({ type: 'need-more' });
    accepting.push(patterned(limit));
    const frame = accepting.next();
    expect(frame.type === 'frame' && frame.body.length).toBe(limit);
    expect(accepting.next()).toEqual({ type: 'need-more' });

    const refusing = new FrameDecoder(limit);
    refusing.push(hex(pastLimit));
    expect(reasonOf(refusing.next())).toBe(`frame of ${limit + 1} bytes exceeds maxFrameBytes ${limit}`);
  });

  it('gives each violation its own reason', () => {
    const reasons = ['8080808080', '00', 'ad02'].map((bytes) => {
      const decoder = new FrameDecoder(MAX);
      decoder.push(hex(bytes));
      return reasonOf(decoder.next());
    });
    expect(new Set(reasons).size).toBe(3);
  });

  it('delivers the frames before a violation, then refuses', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(hex('01aa 02bbcc 00 01dd'));
    const { bodies, last } = drain(decoder);
    expect(bodies).toEqual(['aa', 'bbcc']);
    expect(reasonOf(last)).toMatch(/zero-length/);
  });

  describe('a 5-byte prefix that is well formed but over the limit is "too big", not "too long"', () => {
    it.each([
      ['8080808001', 2 ** 28],
      ['ffffffff0f', 2 ** 32 - 1],
      ['ffffffff7f', 2 ** 35 - 1],
    ])('%s declares %i bytes', (bytes, length) => {
      const decoder = new FrameDecoder(MAX);
      decoder.push(hex(bytes));
      const reason = reasonOf(decoder.next());
      expect(reason).toMatch(/exceeds maxFrameBytes 300/);
      expect(reason).toContain(String(length));
      expect(reason).not.toMatch(/longer than/);
      expect(decoder.bufferedBytes).toBe(0);
    });

    it('and is read at its full value: accepted when the limit allows it (no int32 overflow)', () => {
      for (const [bytes, limit] of [
        ['8080808001', 2 ** 28],
        ['ffffffff0f', 2 ** 32 - 1],
      ] as const) {
        const decoder = new FrameDecoder(limit);
        decoder.push(hex(bytes));
        expect(decoder.next(), bytes).toEqual({ type: 'need-more' });
        decoder.push(hex('aabb'));
        expect(decoder.next(), bytes).toEqual({ type: 'need-more' });
      }
      const oneBelow = new FrameDecoder(2 ** 28 - 1);
      oneBelow.push(hex('8080808001'));
      expect(reasonOf(oneBelow.next())).toMatch(/exceeds maxFrameBytes/);
    });
  });

  describe('stays poisoned after a failure', () => {
    it.each([
      ['too long a prefix', '8080808080', /longer than 5 bytes/],
      ['zero length', '00', /zero-length/],
      ['over the limit', 'ad02', /exceeds maxFrameBytes 300/],
    ])('%s', (_name, bytes, pattern) => {
      const decoder = new FrameDecoder(MAX);
      decoder.push(hex(bytes));
      const first = decoder.next();
      expect(reasonOf(first)).toMatch(pattern);
      for (let i = 0; i < 3; i++) {
        decoder.push(hex('01aa 02bbcc'));
        expect(decoder.bufferedBytes).toBe(0);
        expect(decoder.next()).toEqual(first);
      }
    });
  });
});

describe('FrameDecoder: memory stays bounded whatever the peer sends', () => {
  const STREAM_BYTES = 10 * KIB * KIB;
  const CHUNK = 64 * KIB;

  it('10 MB of random garbage in 64 KiB chunks, drained after each push', () => {
    const limit = 64 * KIB;
    for (const seed of [1, 2, 3, 4]) {
      const random = seededBytes(seed);
      const decoder = new FrameDecoder(limit);
      let failure: FrameResult | undefined;
      for (let sent = 0; sent < STREAM_BYTES; sent += CHUNK) {
        const chunk = random(CHUNK);
        decoder.push(chunk);
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(limit + MAX_PREFIX_BYTES + CHUNK);
        const { last } = drain(decoder);
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(limit + MAX_PREFIX_BYTES);
        if (failure) expect(last).toEqual(failure);
        if (last.type === 'malformed') {
          failure ??= last;
          expect(decoder.bufferedBytes).toBe(0);
        }
      }
    }
  });

  it('an endless stream of max-size frames in unaligned 64 KiB chunks', () => {
    const limit = 50_000; // distinct from the chunk size, so prefixes and bodies straddle chunks
    const frame = encodeFrame(patterned(limit, 9));
    const count = Math.ceil(STREAM_BYTES / frame.length);
    const stream = Buffer.concat(Array.from({ length: count }, () => frame));
    const decoder = new FrameDecoder(limit);
    let frames = 0;
    for (let offset = 0; offset < stream.length; offset += CHUNK) {
      const chunk = stream.subarray(offset, offset + CHUNK);
      decoder.push(chunk);
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(limit + MAX_PREFIX_BYTES + chunk.length);
      for (;;) {
        const result = decoder.next();
        if (result.type === 'need-more') break;
        expect(result.type).toBe('frame');
        expect(result.type === 'frame' && result.body.length).toBe(limit);
        frames++;
      }
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(limit + MAX_PREFIX_BYTES);
    }
    expect(frames).toBe(count);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('a max-size frame dripped one byte at a time never holds more than the frame', () => {
    const decoder = new FrameDecoder(MAX);
    const frame = encodeFrame(patterned(MAX));
    for (let i = 0; i < frame.length - 1; i++) {
      decoder.push(frame.subarray(i, i + 1));
      expect(decoder.next()).toEqual({ type: 'need-more' });
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(MAX + MAX_PREFIX_BYTES);
    }
    decoder.push(frame.subarray(frame.length - 1));
    expect(drain(decoder).bodies).toEqual([hexOf(patterned(MAX))]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('an oversize prefix followed by 10 MB of body holds nothing once refused', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(Buffer.concat([hex('ad02'), patterned(CHUNK - 2)]));
    const failure = decoder.next();
    expect(reasonOf(failure)).toMatch(/exceeds maxFrameBytes/);
    const filler = patterned(CHUNK, 5);
    for (let sent = CHUNK; sent < STREAM_BYTES; sent += CHUNK) {
      decoder.push(filler);
      expect(decoder.bufferedBytes).toBe(0);
      expect(decoder.next()).toEqual(failure);
    }
  });
});

describe('Envelope codec (proto/messages.ts)', () => {
  it.each<[string, Envelope, string]>([
    ['ping', { ping: { nonce: 42n } }, '5202082a'],
    ['pong', { pong: { nonce: 42n } }, '5a02082a'],
    ['join', { join: {} }, '1a00'],
    ['prune', { prune: {} }, '7a00'],
    ['leave (field 16, two-byte tag)', { leave: {} }, '820100'],
    ['neighbor', { neighbor: { highPriority: true } }, '2a020801'],
  ])('%s encodes to its fixture bytes and decodes back', (kind, envelope, bytes) => {
    expect(hexOf(encodeEnvelope(envelope))).toBe(bytes);
    const decoded = decodeEnvelope(hex(bytes));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value.kind).toBe(kind.split(' ')[0]);
    expect(decoded.value.envelope).toMatchObject(envelope);
  });

  describe('uint64 fields round-trip bit for bit', () => {
    // 2^53 + 1 is the first integer a JS number cannot hold; 2^64 - 1 is the field's maximum.
    const values: Array<[string, bigint, string]> = [
      ['0', 0n, '00'],
      ['2^32', 2n ** 32n, '8080808010'],
      ['2^53 + 1', 2n ** 53n + 1n, '8180808080808010'],
      ['2^64 - 1', 2n ** 64n - 1n, 'ffffffffffffffffff01'],
    ];

    it.each(values)('a Ping and a Pong nonce of %s', (_, nonce, varint) => {
      for (const kind of ['ping', 'pong'] as const) {
        const envelope = (kind === 'ping' ? { ping: { nonce } } : { pong: { nonce } }) satisfies Envelope;
        const bytes = encodeEnvelope(envelope);
        // Field 1 of the body, then its varint: the exact bytes another implementation sends.
        expect(Buffer.from(bytes).toString('hex')).toContain(`08${varint}`);
        const decoded = decodeEnvelope(bytes);
        expect(decoded.ok && decoded.value.envelope).toEqual(envelope);
      }
    });

    it.each(values)('a Payload sent_at_ms of %s, and the bytes re-encode identically', (_, sentAtMs) => {
      const payload: Payload = { id: 'm1', origin: null, to: '', room: '', sentAtMs, text: { body: 'hi' } };
      const bytes = encodePayload(payload);
      const decoded = decodePayload(bytes);
      expect(decoded.ok && decoded.value.sentAtMs).toBe(sentAtMs);
      // The other fields keep their decoded values and defaults (an empty `to` is a broadcast).
      expect(decoded.ok && decoded.value).toMatchObject({ id: 'm1', to: '', room: '', text: { body: 'hi' } });
      expect(decoded.ok && Buffer.from(encodePayload(decoded.value)).equals(Buffer.from(bytes))).toBe(true);
    });

    it('a nonce of another implementation, hand-encoded, decodes to its exact value', () => {
      // Envelope{ping = 10}{nonce = 1: 2^64 - 2}, written by hand as a peer would send it.
      const decoded = decodeEnvelope(Buffer.from('520b08feffffffffffffffff01', 'hex'));
      expect(decoded.ok && decoded.value.envelope).toEqual({ ping: { nonce: 2n ** 64n - 2n } });
    });
  });

  it('round-trips routed and error bodies', () => {
    const routed: Envelope = {
      routed: { payload: hex('0102030405'), signature: patterned(64), ttl: 7, hops: 2 },
    };
    const decodedRouted = decodeEnvelope(encodeEnvelope(routed));
    expect(decodedRouted.ok).toBe(true);
    if (decodedRouted.ok && 'routed' in decodedRouted.value.envelope) {
      const body = decodedRouted.value.envelope.routed;
      expect(decodedRouted.value.kind).toBe('routed');
      expect(hexOf(body.payload)).toBe('0102030405');
      expect(hexOf(body.signature)).toBe(hexOf(patterned(64)));
      expect([body.ttl, body.hops]).toEqual([7, 2]);
    }

    const error: Envelope = { error: { code: 4, reason: 'frame of 301 bytes exceeds maxFrameBytes 300' } };
    const decodedError = decodeEnvelope(encodeEnvelope(error));
    expect(decodedError.ok && decodedError.value.kind).toBe('error');
    expect(decodedError.ok && decodedError.value.envelope).toMatchObject(error);
  });

  it('a ping travels through framing: 045202082a', () => {
    const frame = encodeFrame(encodeEnvelope({ ping: { nonce: 42n } }));
    expect(hexOf(frame)).toBe('045202082a');
    const decoder = new FrameDecoder(MAX);
    decoder.push(frame);
    const result = decoder.next();
    expect(result.type).toBe('frame');
    if (result.type !== 'frame') return;
    const decoded = decodeEnvelope(result.body);
    expect(decoded.ok && decoded.value).toEqual({
      kind: 'ping',
      body: { nonce: 42n },
      envelope: { ping: { nonce: 42n } },
    });
  });

  it.each([
    ['a truncated tag varint', 'ff'],
    ['a body declared 5 bytes long with 2 present', '5205082a'],
    ['a length-delimited field with no length', '52'],
    ['wire type 7', '07'],
    ['a ping whose nonce varint never ends', '5202ff'],
  ])('refuses %s as undecodable, without throwing', (_name, bytes) => {
    const decoded = decodeEnvelope(hex(bytes));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(/undecodable/);
  });

  it.each([
    ['no bytes at all', ''],
    ['only an unknown field (100, varint 1)', 'a00601'],
  ])('refuses an Envelope with no body: %s', (_name, bytes) => {
    const decoded = decodeEnvelope(hex(bytes));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(/no body/);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const decoded = decodeEnvelope(bytes);
        if (decoded.ok) expect(decoded.value.envelope).toHaveProperty(decoded.value.kind);
        else expect(decoded.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
