/**
 * The fuzzing harness shared by `scripts/fuzz.ts` (10^5 cases and more, by hand) and
 * `test/hardening-fuzz.test.ts` (a few hundred, in CI):
 *
 * - fast-check arbitraries for every Envelope kind with random fields (valid and invalid
 *   NodeInfos, signed and forged payloads, counts at and past their limits), and mutations
 *   (bit flips, truncation, insertion, deletion, repetition) of their encodings;
 * - `FuzzClient`, a hand-driven TCP peer built from the `crypto/` primitives only, that can stop
 *   before the handshake, complete it and send sealed plaintexts of its choosing, or tamper with
 *   sealed frames;
 * - `FuzzRunner`, which feeds one case to a listening node and returns only once the node has
 *   handled it: a Ping round trip after sealed frames (a link handles its frames in order), or
 *   the node's close after our FIN when the case ends the connection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Identity, nodeInfoProblem } from '../crypto/identity.js';
import {
  EphemeralKey,
  authSignedBytes,
  keyProofOf,
  sessionKeysOf,
  transcriptOf,
} from '../crypto/handshake.js';
import { Opener, Sealer } from '../crypto/seal.js';
import {
  decodeEnvelope,
  decodePayload,
  encodeEnvelope,
  encodePayload,
  type Envelope,
  type EnvelopeKind,
  type Hello,
  type IdList,
  type NodeInfo,
  type Payload,
  type PeerEntry,
  type Routed,
} from '../proto/messages.js';
import { idListProblem, payloadProblem } from '../router-rules.js';
import { FrameDecoder, MAX_PREFIX_BYTES, encodeFrame } from '../utils/frame.js';
import { within } from '../utils/within.js';
import { systemClock } from '../utils/clock.js';

const MESSAGE_CONTEXT = Buffer.from('overlay-v1-msg');
const UINT32_MAX = 4294967295;

// --- generators -------------------------------------------------------------------------------

/** What the generators draw from: signing keys, and the ports gossiped NodeInfos point at. */
export interface FuzzWorld {
  pool: readonly Identity[];
  ports: readonly number[];
}

export function identityPool(count: number): Identity[] {
  return Array.from({ length: count }, () => Identity.fromSeed(randomBytes(32)));
}

export function infoOf(identity: Identity, name: string, port: number): NodeInfo {
  return { id: identity.id, name, host: '127.0.0.1', port, publicKey: identity.publicKey };
}

/** Values around every limit of the protocol, and anything else a uint32 can hold. */
const uint32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 6, 16, 31, 32, 33, 255, 256, 2 ** 31, UINT32_MAX),
  fc.nat({ max: UINT32_MAX }),
);
/** Mostly the small values honest peers send, so that checks past the first are reached. */
const smallOrAny = fc.oneof({ arbitrary: fc.nat({ max: 8 }), weight: 3 }, uint32);
const shortText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const nodeId = fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), fc.string({ maxLength: 20 }), fc.constant(''));
const messageId = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{21}$/), fc.string({ maxLength: 70 }));

function nodeInfo(world: FuzzWorld): fc.Arbitrary<NodeInfo | null> {
  const valid = fc
    .record({
      identity: fc.constantFrom(...world.pool),
      name: shortText,
      port: fc.constantFrom(...world.ports),
    })
    .map(({ identity, name, port }) => infoOf(identity, name, port));
  const invalid = fc.record({
    id: nodeId,
    name: fc.oneof(shortText, fc.constant('n'.repeat(33))),
    host: fc.oneof(fc.constant('127.0.0.1'), fc.constant(''), fc.string({ maxLength: 300 })),
    port: fc.oneof(fc.constantFrom(...world.ports), uint32),
    publicKey: fc.uint8Array({ maxLength: 40 }),
  });
  return fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: invalid, weight: 2 }, fc.constant(null));
}

function peerEntries(world: FuzzWorld): fc.Arbitrary<PeerEntry[]> {
  const entry = fc.record({ node: nodeInfo(world), age: uint32 });
  return fc.oneof(fc.array(entry, { maxLength: 8 }), fc.array(entry, { minLength: 30, maxLength: 40 }));
}

function idList(): fc.Arbitrary<{ ids: string[]; origins: string[] }> {
  const size = fc.oneof(fc.nat({ max: 4 }), fc.constantFrom(255, 256, 257, 300));
  return size.chain((n) =>
    fc.record({
      ids: fc.array(messageId, { minLength: n, maxLength: n }),
      origins: fc.array(nodeId, { minLength: Math.max(0, n - 1), maxLength: n + 1 }),
    }),
  );
}

/** A Routed message: a payload (encoded Payload, or junk) signed well, badly, or not at all. */
function routed(world: FuzzWorld): fc.Arbitrary<Envelope> {
  const content = fc.oneof(
    fc.record({
      text: fc.record({ body: fc.oneof(shortText, fc.constantFrom('t'.repeat(4096), 't'.repeat(4097))) }),
    }),
    fc.record({ receipt: fc.record({ messageId }) }),
    fc.constant({}),
  );
  const payload = fc.record({
    signer: fc.constantFrom(...world.pool),
    originIsSigner: fc.boolean(),
    origin: nodeInfo(world),
    id: messageId,
    to: fc.oneof(fc.constant(''), nodeId, fc.constantFrom(...world.pool.map((i) => i.id))),
    room: fc.oneof(fc.constant(''), shortText, fc.constant('r'.repeat(65))),
    // Mostly around now, so that the live node's window lets most cases reach the signature check;
    // else any uint64.
    sentAtMs: fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.integer({ min: -60_000, max: 10_000 }).map((ms) => BigInt(systemClock.now() + ms)),
    ),
    content,
  });
  return fc
    .record({
      payload,
      junk: fc.option(fc.uint8Array({ maxLength: 200 }), { freq: 4 }),
      signature: fc.constantFrom('valid', 'valid', 'forged', 'empty'),
      ttl: smallOrAny,
      hops: smallOrAny,
    })
    .map(({ payload: p, junk, signature, ttl, hops }) => {
      const origin = p.originIsSigner ? infoOf(p.signer, 'signer', 0) : p.origin;
      const fields: Payload = {
        id: p.id,
        origin,
        to: p.to,
        room: p.room,
        sentAtMs: p.sentAtMs,
        ...p.content,
      };
      const bytes = junk ?? encodePayload(fields);
      const signed =
        signature === 'valid'
          ? p.signer.sign(Buffer.concat([MESSAGE_CONTEXT, bytes]))
          : signature === 'forged'
            ? randomBytes(64)
            : new Uint8Array(0);
      return { routed: { payload: bytes, signature: signed, ttl, hops } };
    });
}

function hello(world: FuzzWorld): fc.Arbitrary<Envelope> {
  return fc
    .record({
      version: fc.constantFrom(0, 1, 1, 1, 2),
      node: nodeInfo(world),
      nonce: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 20 })),
      network: fc.constantFrom('', 'default', 'other'),
      ephemeralKey: fc.oneof(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 40 }),
      ),
    })
    .map((fields): Envelope => ({ hello: fields as Hello }));
}

/** Any Envelope, of every kind, with random fields. */
export function envelope(world: FuzzWorld): fc.Arbitrary<Envelope> {
  const empty = fc.constant({});
  const node = nodeInfo(world);
  return fc.oneof(
    fc.constant<Envelope>({ join: {} }),
    fc.record({ forwardJoin: fc.record({ node, ttl: uint32 }) }),
    fc.record({ neighbor: fc.record({ highPriority: fc.boolean() }) }),
    fc.record({ neighborReply: fc.record({ accepted: fc.boolean() }) }),
    fc.record({ disconnect: fc.record({ alive: fc.boolean() }) }),
    fc.record({ shuffle: fc.record({ origin: node, entries: peerEntries(world), ttl: uint32 }) }),
    fc.record({ shuffleReply: fc.record({ entries: peerEntries(world) }) }),
    fc.record({ ping: fc.record({ nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }) }),
    fc.record({ pong: fc.record({ nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }) }),
    { arbitrary: routed(world), weight: 4 },
    fc.record({ ihave: idList() }),
    fc.record({ graft: idList() }),
    fc.record({ prune: empty }),
    fc.record({ leave: empty }),
    fc.record({ error: fc.record({ code: fc.nat({ max: 20 }), reason: shortText }) }),
    hello(world),
    fc.record({
      auth: fc.record({
        keyProof: fc.uint8Array({ maxLength: 40 }),
        signature: fc.uint8Array({ maxLength: 70 }),
      }),
    }),
  ) as fc.Arbitrary<Envelope>;
}

/** One edit of a byte string; positions are taken modulo its length. */
export type Mutation =
  | { flip: number; bit: number }
  | { set: number; byte: number }
  | { truncate: number }
  | { insert: number; bytes: Uint8Array }
  | { remove: number; length: number }
  | { repeat: number; length: number };

export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    { arbitrary: fc.record({ flip: fc.nat(), bit: fc.nat({ max: 7 }) }), weight: 4 },
    fc.record({ set: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xff) }),
    fc.record({ truncate: fc.nat() }),
    fc.record({ insert: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ remove: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ repeat: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  ),
  { minLength: 1, maxLength: 4 },
);

export function mutate(input: Uint8Array, edits: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const edit of edits) {
    const at = (position: number): number => (bytes.length === 0 ? 0 : position % bytes.length);
    if ('flip' in edit) {
      if (bytes.length > 0) bytes[at(edit.flip)] = (bytes[at(edit.flip)] as number) ^ (1 << edit.bit);
    } else if ('set' in edit) {
      if (bytes.length > 0) bytes[at(edit.set)] = edit.byte;
    } else if ('truncate' in edit) {
      bytes = bytes.subarray(0, at(edit.truncate));
    } else if ('insert' in edit) {
      const i = at(edit.insert);
      bytes = Buffer.concat([bytes.subarray(0, i), edit.bytes, bytes.subarray(i)]);
    } else if ('remove' in edit) {
      const i = at(edit.remove);
      bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + edit.length)]);
    } else {
      const i = at(edit.repeat);
      bytes = Buffer.concat([bytes.subarray(0, i + edit.length), bytes.subarray(i)]);
    }
  }
  return bytes;
}

/** One input to a node. */
export type FuzzCase =
  /** Clear bytes on a fresh connection, in chunks, then our FIN. */
  | { kind: 'clear'; bytes: Uint8Array; cuts: number[] }
  /** After the handshake (and a Join), sealed plaintexts, then a Ping round trip. */
  | { kind: 'sealed'; join: boolean; plaintexts: Uint8Array[] }
  /** After the handshake, a sealed frame mutated in transit, then our FIN. */
  | { kind: 'tampered'; plaintext: Uint8Array; edits: Mutation[] };

export function fuzzCase(world: FuzzWorld): fc.Arbitrary<FuzzCase> {
  const anyEnvelope = envelope(world);
  const encoded = anyEnvelope.map((e) => encodeEnvelope(e));
  const mutated = fc.tuple(encoded, mutations).map(([bytes, edits]) => mutate(bytes, edits));
  const clearBytes = fc.oneof(
    fc
      .tuple(
        hello(world).map((e) => encodeFrame(encodeEnvelope(e))),
        mutations,
      )
      .map(([b, e]) => mutate(b, e)),
    encoded.map((b) => encodeFrame(b)),
    mutated.map((b) => encodeFrame(b)),
    fc.uint8Array({ maxLength: 300 }),
  );
  return fc.oneof(
    fc.record({
      kind: fc.constant('clear' as const),
      bytes: clearBytes,
      cuts: fc.array(fc.nat(), { maxLength: 4 }),
    }),
    {
      arbitrary: fc.record({
        kind: fc.constant('sealed' as const),
        join: fc.boolean(),
        plaintexts: fc.array(fc.oneof({ arbitrary: encoded, weight: 3 }, mutated), {
          minLength: 1,
          maxLength: 4,
        }),
      }),
      weight: 4,
    },
    fc.record({ kind: fc.constant('tampered' as const), plaintext: encoded, edits: mutations }),
  );
}

// --- properties of the pure layers ------------------------------------------------------------

/**
 * The frame decoder, fed a mutated stream of frames in random chunks, never throws; the frames
 * wholly before the first damaged byte come out intact; once malformed it stays malformed; and
 * between calls it never holds a whole frame (maxFrameBytes + prefix).
 */
export function frameDecoderProperty(
  maxFrameBytes = 300,
): fc.IProperty<[Uint8Array[], Mutation[], number[]]> {
  const bodies = fc.array(fc.uint8Array({ minLength: 1, maxLength: maxFrameBytes }), {
    minLength: 1,
    maxLength: 5,
  });
  return fc.property(bodies, mutations, fc.array(fc.nat(), { maxLength: 6 }), (frames, edits, cutPoints) => {
    const original = Buffer.concat(frames.map((body) => encodeFrame(body)));
    const stream = mutate(original, edits);
    let damagedAt = 0;
    while (damagedAt < stream.length && stream[damagedAt] === original[damagedAt]) damagedAt++;
    const intact: string[] = [];
    let end = 0;
    for (const body of frames) {
      end += encodeFrame(body).length;
      if (end <= damagedAt) intact.push(Buffer.from(body).toString('hex'));
    }
    const decoder = new FrameDecoder(maxFrameBytes);
    const out: string[] = [];
    const cuts = [...new Set(cutPoints.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
    chunks: for (const [from, to] of [0, ...cuts].map(
      (c, i, all) => [c, all[i + 1] ?? stream.length] as const,
    )) {
      decoder.push(stream.subarray(from, to));
      for (let result = decoder.next(); result.type !== 'need-more'; result = decoder.next()) {
        if (result.type === 'malformed') {
          assert.deepEqual(decoder.next(), result, 'a malformed stream poisons the decoder');
          break chunks;
        }
        out.push(Buffer.from(result.body).toString('hex'));
      }
      assert.ok(
        decoder.bufferedBytes < maxFrameBytes + MAX_PREFIX_BYTES,
        'the decoder holds less than a frame',
      );
    }
    assert.deepEqual(out.slice(0, intact.length), intact, 'frames before the damage come out intact');
  });
}

const KINDS: ReadonlySet<EnvelopeKind> = new Set<EnvelopeKind>([
  'hello',
  'auth',
  'join',
  'forwardJoin',
  'neighbor',
  'neighborReply',
  'disconnect',
  'shuffle',
  'shuffleReply',
  'ping',
  'pong',
  'routed',
  'ihave',
  'graft',
  'prune',
  'leave',
  'error',
]);

const isProblem = (problem: unknown): boolean => problem === undefined || typeof problem === 'string';

/**
 * Envelopes of every kind, mutated or not: decoding never throws; what decodes has exactly one
 * known body; and the input rules the handlers apply (payload, id lists, NodeInfos) judge it
 * without throwing.
 */
export function codecProperty(world: FuzzWorld): fc.IProperty<[Envelope, Mutation[], boolean]> {
  return fc.property(envelope(world), mutations, fc.boolean(), (input, edits, shouldMutate) => {
    const bytes = encodeEnvelope(input);
    const decoded = decodeEnvelope(shouldMutate ? mutate(bytes, edits) : bytes);
    if (!decoded.ok) {
      assert.ok(decoded.reason.length > 0, 'a refusal has a reason');
      return;
    }
    const { kind, envelope: received } = decoded.value;
    assert.ok(KINDS.has(kind), `unknown kind ${kind}`);
    const body = (received as Record<string, unknown>)[kind];
    assert.equal(typeof body, 'object', 'the body is an object');
    if (kind === 'routed') {
      const payload = decodePayload((body as Routed).payload);
      if (payload.ok) assert.ok(isProblem(payloadProblem(payload.value)));
    }
    if (kind === 'ihave' || kind === 'graft') assert.ok(isProblem(idListProblem(body as IdList, 256)));
    if (kind === 'shuffle' || kind === 'shuffleReply') {
      for (const entry of (body as { entries: PeerEntry[] }).entries)
        assert.ok(isProblem(nodeInfoProblem(entry.node)));
    }
    if (kind === 'forwardJoin') assert.ok(isProblem(nodeInfoProblem((body as { node?: NodeInfo }).node)));
  });
}

// --- a hand-driven peer -----------------------------------------------------------------------

/** A TCP peer speaking docs/protocol.md section 3 by hand, as the dialer, with a fresh identity. */
export class FuzzClient {
  readonly identity = Identity.fromSeed(randomBytes(32));
  readonly info: NodeInfo = infoOf(this.identity, 'fuzz', 0);
  readonly closed: Promise<void>;
  #isClosed = false;
  readonly #decoder = new FrameDecoder(16 * 1024 * 1024);
  readonly #clear: Uint8Array[] = [];
  #sealer: Sealer | undefined;
  #opener: Opener | undefined;
  #nonce = 0n;
  #wake: () => void = () => undefined;
  #pongs = new Set<bigint>();

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<FuzzClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new FuzzClient(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  writeRaw(bytes: Uint8Array): void {
    if (!this.#isClosed) this.socket.write(bytes);
  }

  /** Our FIN: the node reads what came before it, then closes its side. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The honest handshake; throws when the node refuses it or closes. */
  async handshake(): Promise<void> {
    const ephemeral = new EphemeralKey(randomBytes(32));
    const ownHello = encodeEnvelope({
      hello: {
        version: 1,
        node: this.info,
        nonce: randomBytes(16),
        network: 'default',
        ephemeralKey: ephemeral.publicKey,
      },
    });
    this.writeRaw(encodeFrame(ownHello));
    const peerHello = await this.#nextClear();
    const decoded = decodeEnvelope(peerHello);
    if (!decoded.ok || decoded.value.kind !== 'hello') throw new Error('expected the node to send Hello');
    const theirs = (decoded.value.envelope as { hello: Hello }).hello;
    const transcript = transcriptOf(ownHello, peerHello);
    const none = new Uint8Array(0);
    this.writeRaw(
      encodeFrame(
        encodeEnvelope({
          auth: {
            keyProof: keyProofOf(none, transcript, 'dialer'),
            signature: this.identity.sign(authSignedBytes(transcript, 'dialer')),
          },
        }),
      ),
    );
    const auth = decodeEnvelope(await this.#nextClear());
    if (!auth.ok || auth.value.kind !== 'auth') throw new Error('expected the node to send Auth');
    const shared = ephemeral.sharedSecret(theirs.ephemeralKey);
    if (!shared) throw new Error('the node sent an unusable ephemeral key');
    const keys = sessionKeysOf(shared, transcript, none);
    this.#sealer = new Sealer(keys.dialerToListener);
    this.#opener = new Opener(keys.listenerToDialer);
  }

  /** The frame (prefix and sealed body) of `plaintext`; advances the send counter. */
  sealedFrame(plaintext: Uint8Array): Buffer {
    if (!this.#sealer) throw new Error('no session keys yet');
    return encodeFrame(this.#sealer.seal(plaintext));
  }

  sendSealed(plaintext: Uint8Array): void {
    this.writeRaw(this.sealedFrame(plaintext));
  }

  /** A Ping, then its Pong: every frame sent before was handled. 'closed' when the node closed first. */
  async roundTrip(): Promise<'pong' | 'closed'> {
    const nonce = ++this.#nonce;
    this.sendSealed(encodeEnvelope({ ping: { nonce } }));
    for (;;) {
      if (this.#pongs.delete(nonce)) return 'pong';
      if (this.#isClosed) return 'closed';
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async #nextClear(): Promise<Uint8Array> {
    for (;;) {
      const frame = this.#clear.shift();
      if (frame) return frame;
      if (this.#isClosed) throw new Error('the node closed the connection during the handshake');
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #onData(chunk: Buffer): void {
    this.#decoder.push(chunk);
    for (let result = this.#decoder.next(); result.type === 'frame'; result = this.#decoder.next()) {
      if (!this.#opener) this.#clear.push(result.body);
      else this.#onSealed(result.body);
    }
    this.#wake();
  }

  #onSealed(body: Uint8Array): void {
    const plaintext = this.#opener?.open(body);
    if (!plaintext) return;
    const decoded = decodeEnvelope(plaintext);
    if (!decoded.ok) return;
    const { kind, envelope: received } = decoded.value;
    if (kind === 'pong') this.#pongs.add((received as { pong: { nonce: bigint } }).pong.nonce);
    if (kind === 'ping') {
      this.sendSealed(
        encodeEnvelope({ pong: { nonce: (received as { ping: { nonce: bigint } }).ping.nonce } }),
      );
    }
  }
}

// --- running cases ----------------------------------------------------------------------------

export type Outcome = 'kept' | 'closed';

/**
 * Feeds cases to the node listening on `port`. A sealed session is reused from case to case
 * while the node keeps it open, so that most cases cost no handshake.
 */
export class FuzzRunner {
  readonly outcomes: Record<FuzzCase['kind'], Record<Outcome, number>> = {
    clear: { kept: 0, closed: 0 },
    sealed: { kept: 0, closed: 0 },
    tampered: { kept: 0, closed: 0 },
  };
  #session: FuzzClient | undefined;

  constructor(
    private readonly port: number,
    private readonly timeoutMs = 10_000,
  ) {}

  async run(input: FuzzCase): Promise<Outcome> {
    const outcome = await within(this.#run(input), `a ${input.kind} case`, this.timeoutMs);
    this.outcomes[input.kind][outcome]++;
    return outcome;
  }

  close(): void {
    this.#session?.destroy();
    this.#session = undefined;
  }

  async #run(input: FuzzCase): Promise<Outcome> {
    if (input.kind === 'clear') {
      const client = await FuzzClient.connect(this.port);
      let from = 0;
      for (const cut of [...input.cuts].map((c) => c % (input.bytes.length + 1)).sort((x, y) => x - y)) {
        client.writeRaw(input.bytes.subarray(from, cut));
        from = cut;
      }
      client.writeRaw(input.bytes.subarray(from));
      client.end();
      await client.closed;
      return 'closed';
    }
    const session = await this.#sessionFor(input.kind === 'sealed' && input.join);
    if (input.kind === 'tampered') {
      this.#session = undefined;
      session.writeRaw(mutate(session.sealedFrame(input.plaintext), input.edits));
      session.end();
      await session.closed;
      return 'closed';
    }
    for (const plaintext of input.plaintexts) session.sendSealed(plaintext);
    const answer = await session.roundTrip();
    if (answer === 'pong') return 'kept';
    this.#session = undefined;
    session.destroy();
    return 'closed';
  }

  async #sessionFor(join: boolean): Promise<FuzzClient> {
    if (this.#session && !this.#session.isClosed) return this.#session;
    const client = await FuzzClient.connect(this.port);
    await client.handshake();
    if (join) client.sendSealed(encodeEnvelope({ join: {} }));
    this.#session = client;
    return client;
  }
}
