/**
 * Codec: Routed chat frames through our streaming framer (encode, then decode from
 * TCP-sized chunks) against a plain protobufjs encodeDelimited/decodeDelimited loop on the
 * same messages, and against JSON with newline framing of the same content.
 */
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { Identity } from '../crypto/identity.js';
import { decodeEnvelope, encodeEnvelope, encodePayload, type Envelope } from '../proto/messages.js';
import { FrameDecoder, encodeFrame } from '../utils/frame.js';
import { seededRandom } from '../utils/random.js';
import { figure, opsPerSecond, type Figure } from './results.js';

const CHUNK_BYTES = 64 * 1024;
const MESSAGES = 2000;

function chatEnvelopes(): Envelope[] {
  const random = seededRandom(1);
  const identity = Identity.fromSeed(random.bytes(32));
  const origin = {
    id: identity.id,
    name: 'bench',
    host: '127.0.0.1',
    port: 9000,
    publicKey: identity.publicKey,
  };
  return Array.from({ length: MESSAGES }, (_, i) => {
    const text = `message ${i} `.padEnd(200, 'x');
    const payload = encodePayload({
      id: `bench-${i}`,
      origin,
      to: '',
      room: '',
      sentAtMs: BigInt(1_700_000_000_000 + i),
      text: { body: text },
    });
    return { routed: { payload, signature: identity.sign(payload), ttl: 16, hops: 1 } };
  });
}

function chunks(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += CHUNK_BYTES) out.push(stream.subarray(i, i + CHUNK_BYTES));
  return out;
}

function ours(envelopes: Envelope[], maxFrameBytes: number): () => number {
  return () => {
    const stream = Buffer.concat(envelopes.map((e) => encodeFrame(encodeEnvelope(e))));
    const decoder = new FrameDecoder(maxFrameBytes);
    let decoded = 0;
    for (const chunk of chunks(stream)) {
      decoder.push(chunk);
      for (let r = decoder.next(); r.type === 'frame'; r = decoder.next()) {
        if (decodeEnvelope(r.body).ok) decoded++;
      }
    }
    return decoded;
  };
}

function rawProtobuf(envelopes: Envelope[]): () => number {
  const root = protobuf.loadSync(fileURLToPath(new URL('../proto/overlay.proto', import.meta.url)));
  const type = root.lookupType('overlay.v1.Envelope');
  return () => {
    const stream = Buffer.concat(
      envelopes.map((e) => type.encodeDelimited(e as unknown as Record<string, unknown>).finish()),
    );
    const reader = protobuf.Reader.create(stream);
    let decoded = 0;
    while (reader.pos < reader.len) {
      type.decodeDelimited(reader);
      decoded++;
    }
    return decoded;
  };
}

function json(envelopes: Envelope[]): () => number {
  const plain = envelopes.map((e) => {
    const r = (e as { routed: { payload: Uint8Array; signature: Uint8Array; ttl: number; hops: number } })
      .routed;
    return {
      routed: {
        payload: Buffer.from(r.payload).toString('base64'),
        signature: Buffer.from(r.signature).toString('base64'),
        ttl: r.ttl,
        hops: r.hops,
      },
    };
  });
  return () => {
    const stream = Buffer.from(plain.map((p) => `${JSON.stringify(p)}\n`).join(''));
    let decoded = 0;
    let rest = '';
    for (const chunk of chunks(stream)) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const parsed = JSON.parse(line) as { routed: { payload: string } };
        if (Buffer.from(parsed.routed.payload, 'base64').length > 0) decoded++;
      }
    }
    return decoded;
  };
}

export function codecFigures(quick: boolean): Figure[] {
  const envelopes = chatEnvelopes();
  const ms = quick ? 300 : 2000;
  // Interleave the contenders so that a noisy neighbour slows all of them alike.
  const rates = { ours: 0, raw: 0, json: 0 };
  const rounds = quick ? 2 : 3;
  const runOurs = ours(envelopes, 65536);
  const runRaw = rawProtobuf(envelopes);
  const runJson = json(envelopes);
  // Warm every contender up first: the JIT must not favour whoever runs last.
  for (const run of [runOurs, runRaw, runJson]) opsPerSecond(run, quick ? 150 : 500);
  for (let i = 0; i < rounds; i++) {
    rates.ours += opsPerSecond(runOurs, ms) / rounds;
    rates.raw += opsPerSecond(runRaw, ms) / rounds;
    rates.json += opsPerSecond(runJson, ms) / rounds;
  }
  return [
    figure(
      'codec.routed.framer',
      rates.ours,
      'frames/s',
      { name: 'protobufjs delimited loop', value: rates.raw },
      { atLeast: 0.8 },
    ),
    figure('codec.routed.vs-json', rates.ours, 'frames/s', {
      name: 'JSON, newline framing',
      value: rates.json,
    }),
  ];
}
