/**
 * Tier 3 of the tests (real sockets): one Link over real TCP on 127.0.0.1, against another Link or
 * against a raw peer that speaks the handshake of docs/protocol.md section 3 by hand
 * (test/helpers/raw-peer.ts), so each step can be broken on purpose.
 *
 * Each refusal is checked from both ends: the Link reports exactly one `closed` with its reason
 * and code, the raw peer receives exactly the frames listed (its Hello, maybe its Auth, then one
 * ProtocolError, then the close), and nothing reaches the owner.
 *
 * Every wait is on an event, guarded by `within` so that a hang fails fast instead of at the
 * suite timeout. Tests of time (handshake deadline, keepalive, "closes at once") run the links'
 * timers on a SimClock over real sockets: virtual time moves only when the test advances it, so
 * they assert the exact virtual millisecond of each Ping and close, whatever the machine's load.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Link, type Refusal } from '../link/link.js';
import { TcpTransport } from '../transport/tcp.js';
import { resolveConfig, type Address, type NodeConfig } from '../config.js';
import type { Connection, ConnectionHandlers } from '../transport/transport.js';
import { authSignedBytes, networkKeyOf, type Role } from '../crypto/handshake.js';
import { nodeIdOf, type Identity } from '../crypto/identity.js';
import {
  ErrorCode,
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  type ErrorCodeName,
  type Hello,
  type NodeInfo,
  type ProtocolErrorBody,
  type Routed,
} from '../proto/messages.js';
import { systemClock, type Clock, type Scheduled } from '../utils/clock.js';
import { FrameDecoder, encodeFrame } from '../utils/frame.js';
import { silentLogger } from '../utils/logger.js';
import { cryptoRandom } from '../utils/random.js';
import { SimClock } from '../utils/sim-clock.js';
import type { LinkCloseReason } from '../membership/strategy.js';
import {
  RawListener,
  RawPeer,
  decodeOrThrow,
  nodeInfoOf,
  randomIdentity,
  type RawPeerOptions,
  type Received,
} from './helpers/raw-peer.js';
import { KeyCachingChecker } from '../crypto/signatures.js';
import { within as withinMs } from '../utils/within.js';
import { labPlaintextLinks, sealedLinks, type LinkSecurity } from '../link/link-security.js';

// --- harness ------------------------------------------------------------------------------

const teardown: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of teardown.splice(0).reverse()) await fn();
});

/** A hang fails fast, with a name (3000 ms unless told). */
function within<T>(promise: Promise<T>, what: string, ms = 3000): Promise<T> {
  return withinMs(promise, what, ms);
}

/** Links wait long for pings unless a test shrinks it, so no stray Ping enters a raw peer's stream. */
const QUIET: Partial<NodeConfig> = { handshakeTimeoutMs: 2000, pingIdleMs: 60_000, pingTimeoutMs: 60_000 };
const HANDSHAKE_TIMEOUT_MS = 300;

/** Counts what the Link writes and the most bytes ever queued in the socket after a write. */
class MeteredConnection implements Connection {
  framesWritten = 0;
  bytesWritten = 0;
  maxBufferedBytes = 0;
  /** Pretend this many more bytes are queued: a peer that stopped reading, without the megabytes. */
  extraBufferedBytes = 0;
  /** Bytes the Link has been handed and has handled. */
  bytesReceived = 0;

  constructor(readonly inner: Connection) {}

  get remote(): Address {
    return this.inner.remote;
  }

  get local(): Address {
    return this.inner.local;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes + this.extraBufferedBytes;
  }

  attach(handlers: ConnectionHandlers): void {
    this.inner.attach({
      onData: (chunk) => {
        handlers.onData(chunk);
        this.bytesReceived += chunk.length;
      },
      onClose: (hadError) => handlers.onClose(hadError),
    });
  }

  /** The Link writes exactly one whole frame per call. */
  write(bytes: Uint8Array): void {
    this.framesWritten++;
    this.bytesWritten += bytes.length;
    this.inner.write(bytes);
    this.maxBufferedBytes = Math.max(this.maxBufferedBytes, this.inner.bufferedBytes);
  }

  end(): void {
    this.inner.end();
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/**
 * A clock (the system clock unless told), counting timers armed and neither fired nor
 * cancelled, so a test can check the rule that every timer is cleared on every close path.
 */
class TrackingClock implements Clock {
  pending = 0;

  constructor(private readonly inner: Clock = systemClock) {}

  now(): number {
    return this.inner.now();
  }

  schedule(delayMs: number, fn: () => void): Scheduled {
    let isPending = true;
    const settle = (): void => {
      if (isPending) this.pending--;
      isPending = false;
    };
    this.pending++;
    const scheduled = this.inner.schedule(delayMs, () => {
      settle();
      fn();
    });
    return {
      cancel: () => {
        settle();
        scheduled.cancel();
      },
    };
  }
}

interface CloseEvent {
  reason: LinkCloseReason;
  detail: string;
  code: ErrorCodeName | undefined;
  atMs: number;
}

interface LinkSetup {
  config?: Partial<NodeConfig>;
  /** Network passphrase; unkeyed mesh when undefined. */
  passphrase?: string;
  name?: string;
  admit?: (peer: NodeInfo) => Refusal | undefined;
  /** Default: sealedLinks, as every real node. */
  security?: LinkSecurity;
  /** The Link's time. Default: the system clock; a SimClock in the tests of time. */
  clock?: Clock;
}

/** One Link and everything its owner was told. */
class Probe {
  readonly admitted: NodeInfo[] = [];
  readonly delivered: Received[] = [];
  readonly closes: CloseEvent[] = [];
  readyCount = 0;
  readyAtMs: number | undefined;
  readonly identity: Identity = randomIdentity();
  readonly clock: TrackingClock;
  /** When the Link was made, on its clock. */
  readonly startedAtMs: number;
  readonly self: NodeInfo;
  readonly connection: MeteredConnection;
  readonly link: Link;
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #onReady: () => void = () => undefined;
  #onClosed: (event: CloseEvent) => void = () => undefined;

  constructor(connection: Connection, role: Role, setup: LinkSetup = {}) {
    this.ready = new Promise((resolve) => (this.#onReady = resolve));
    this.closed = new Promise((resolve) => (this.#onClosed = resolve));
    this.clock = new TrackingClock(setup.clock);
    this.startedAtMs = this.clock.now();
    this.self = nodeInfoOf(this.identity, setup.name ?? `link-${role}`, 4000 + (role === 'dialer' ? 1 : 2));
    this.connection = new MeteredConnection(connection);
    teardown.push(() => this.connection.destroy());
    this.link = new Link({
      connection: this.connection,
      role,
      identity: this.identity,
      signatures: new KeyCachingChecker(),
      security: setup.security ?? sealedLinks,
      self: this.self,
      networkKey: networkKeyOf(setup.passphrase),
      config: resolveConfig({ ...QUIET, ...setup.config, networkKey: setup.passphrase }),
      clock: this.clock,
      random: cryptoRandom,
      log: silentLogger(),
      events: {
        admit: (_link, peer) => {
          this.admitted.push(peer);
          return setup.admit?.(peer);
        },
        ready: () => {
          this.readyCount++;
          this.readyAtMs = this.clock.now();
          this.#onReady();
        },
        message: (_link, { kind, envelope }) => {
          this.delivered.push({ kind, envelope });
        },
        closed: (_link, reason, detail, code) => {
          const event = { reason, detail, code, atMs: this.clock.now() };
          this.closes.push(event);
          this.#onClosed(event);
        },
      },
    });
  }
}

class Queue<T> {
  readonly #items: T[] = [];
  #waiters: Array<() => void> = [];

  push(item: T): void {
    this.#items.push(item);
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  async next(): Promise<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) return item;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

const transport = new TcpTransport();

/** A TcpTransport listener on 127.0.0.1:0 that runs a listener Link on every connection. */
async function listenLinks(setup: LinkSetup = {}): Promise<{ port: number; accepted: () => Promise<Probe> }> {
  const probes = new Queue<Probe>();
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, (connection) =>
    probes.push(new Probe(connection, 'listener', setup)),
  );
  teardown.push(() => listener.close());
  return { port: listener.address.port, accepted: () => within(probes.next(), 'an accepted connection') };
}

async function dialLink(port: number, setup: LinkSetup = {}): Promise<Probe> {
  const connection = await transport.dial({ host: '127.0.0.1', port }, 1000);
  return new Probe(connection, 'dialer', setup);
}

async function linkPair(
  dialerSetup: LinkSetup = {},
  listenerSetup: LinkSetup = {},
): Promise<{ dialer: Probe; listener: Probe }> {
  const listening = await listenLinks(listenerSetup);
  const dialer = await dialLink(listening.port, dialerSetup);
  return { dialer, listener: await listening.accepted() };
}

/** A raw peer dialing a listening Link. */
async function rawDialer(
  setup: LinkSetup = {},
  options: RawPeerOptions = {},
): Promise<{ raw: RawPeer; probe: Probe }> {
  const listening = await listenLinks(setup);
  const raw = await RawPeer.dial(listening.port, options);
  teardown.push(() => raw.destroy());
  return { raw, probe: await listening.accepted() };
}

/** A Link dialing a raw peer that listens. */
async function rawListener(
  setup: LinkSetup = {},
  options: RawPeerOptions = {},
): Promise<{ raw: RawPeer; probe: Probe }> {
  const listening = await RawListener.listen(options);
  teardown.push(() => listening.close());
  const probe = await dialLink(listening.port, setup);
  return { raw: await within(listening.accepted(), 'the raw listener to accept'), probe };
}

/** A raw dialer that completed the handshake with a listening Link (both sides verified). */
async function sealedRawDialer(setup: LinkSetup = {}): Promise<{ raw: RawPeer; probe: Probe }> {
  const pair = await rawDialer(setup);
  await within(pair.raw.handshake(), 'the raw handshake');
  await within(pair.probe.ready, 'the link to be ready');
  return pair;
}

/**
 * Awaits the Link's close and checks it was reported exactly once, with this reason and code,
 * and that it left no timer armed once the socket was gone.
 */
async function expectClosedOnce(
  probe: Probe,
  expected: { reason: LinkCloseReason; code?: ErrorCodeName },
): Promise<CloseEvent> {
  const event = await within(probe.closed, 'the link to close');
  expect(probe.closes.map(({ reason, code }) => ({ reason, code }))).toEqual([
    { reason: expected.reason, code: expected.code },
  ]);
  expect(probe.link.isClosed).toBe(true);
  // Until the socket is gone only the drain deadline may stay armed, and then nothing.
  expect(probe.clock.pending, 'timers other than the drain deadline armed after close').toBeLessThanOrEqual(
    1,
  );
  await within(probe.link.disconnected, 'the socket to be gone');
  expect(probe.clock.pending, 'timers still armed once the socket is gone').toBe(0);
  return event;
}

function expectNeverReady(probe: Probe): void {
  expect(probe.readyCount).toBe(0);
  expect(probe.link.isOpen).toBe(false);
  expect(probe.delivered).toEqual([]);
}

/** Everything the raw peer received, decoded in clear, once its socket closed. */
async function clearFramesAtClose(raw: RawPeer): Promise<Received[]> {
  await within(raw.closed, 'the raw socket to close');
  return raw.received.map(decodeOrThrow);
}

function errorOf(received: Received | undefined): ProtocolErrorBody {
  expect(received?.kind).toBe('error');
  return (received?.envelope as { error: ProtocolErrorBody }).error;
}

/** The raw peer got `before` (e.g. hello, auth), then one clear ProtocolError `code`, then nothing. */
async function expectClearRefusal(
  raw: RawPeer,
  code: ErrorCodeName,
  before: string[] = ['hello'],
): Promise<void> {
  const frames = await clearFramesAtClose(raw);
  expect(frames.map((f) => f.kind)).toEqual([...before, 'error']);
  expect(errorOf(frames.at(-1)).code).toBe(ErrorCode[code]);
}

/** After a completed raw handshake: one sealed ProtocolError `code`, then the close, nothing else. */
async function expectSealedRefusal(raw: RawPeer, code: ErrorCodeName): Promise<void> {
  await within(raw.closed, 'the raw socket to close');
  expect(errorOf(await raw.nextSealed()).code).toBe(ErrorCode[code]);
  expect(raw.unread()).toEqual([]);
}

/** After a completed raw handshake: the socket closed and not a single frame came back. */
async function expectClosedWithoutReply(raw: RawPeer): Promise<void> {
  await within(raw.closed, 'the raw socket to close');
  expect(raw.unread()).toEqual([]);
}

const plainInfo = (info: NodeInfo): Record<string, unknown> => ({
  id: info.id,
  name: info.name,
  host: info.host,
  port: info.port,
  publicKey: Buffer.from(info.publicKey).toString('hex'),
});

const routed = (payloadBytes: number): { routed: Routed } => ({
  routed: { payload: randomBytes(payloadBytes), signature: randomBytes(64), ttl: 7, hops: 1 },
});

/** A `routed` envelope whose encoding is exactly `bytes` long. */
function routedOfEncodedSize(bytes: number): Envelope {
  for (let payload = bytes - 80; payload <= bytes; payload++) {
    const envelope: Envelope = {
      routed: { payload: randomBytes(payload), signature: randomBytes(64), ttl: 1, hops: 1 },
    };
    if (encodeEnvelope(envelope).length === bytes) return envelope;
  }
  throw new Error(`no routed envelope encodes to ${bytes} bytes`);
}

/** Unsigned LEB128, as a frame prefix, for prefixes the encoder would never make. */
function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Buffer.from(out);
}

// --- the good path ------------------------------------------------------------------------

describe('Link: the good path', () => {
  it('two Links over TCP become ready, each with the verified NodeInfo of the other', async () => {
    const { dialer, listener } = await linkPair({ name: 'alice' }, { name: 'bob' });
    await within(Promise.all([dialer.ready, listener.ready]), 'both links to be ready');

    expect(plainInfo(dialer.link.peer)).toEqual(plainInfo(listener.self));
    expect(plainInfo(listener.link.peer)).toEqual(plainInfo(dialer.self));
    expect(dialer.link.id).toBe(listener.identity.id);
    expect(listener.link.id).toBe(dialer.identity.id);
    expect(dialer.admitted.map(plainInfo)).toEqual([plainInfo(listener.self)]);
    expect(listener.admitted.map(plainInfo)).toEqual([plainInfo(dialer.self)]);
    expect([dialer.link.role, listener.link.role]).toEqual(['dialer', 'listener']);
    expect([dialer.link.isOpen, listener.link.isOpen]).toEqual([true, true]);
    expect([dialer.readyCount, listener.readyCount]).toEqual([1, 1]);
    expect([...dialer.closes, ...listener.closes]).toEqual([]);
  });

  it('a keyed pair with the same passphrase becomes ready', async () => {
    const { dialer, listener } = await linkPair(
      { passphrase: 'correct horse' },
      { passphrase: 'correct horse' },
    );
    await within(Promise.all([dialer.ready, listener.ready]), 'both links to be ready');
    expect([dialer.link.isOpen, listener.link.isOpen]).toEqual([true, true]);
  });

  it('envelopes travel both ways, in order and intact', async () => {
    const { dialer, listener } = await linkPair();
    await within(Promise.all([dialer.ready, listener.ready]), 'both links to be ready');

    const message = routed(500);
    expect(dialer.link.send(message)).toBe(true);
    expect(dialer.link.send({ leave: {} })).toBe(true);
    expect(listener.link.send({ join: {} })).toBe(true);
    expect(listener.link.send({ disconnect: { alive: true } })).toBe(true);

    await vi.waitFor(() => expect(listener.delivered).toHaveLength(2), { timeout: 2000 });
    await vi.waitFor(() => expect(dialer.delivered).toHaveLength(2), { timeout: 2000 });
    expect(listener.delivered.map((d) => d.kind)).toEqual(['routed', 'leave']);
    const got = (listener.delivered[0]?.envelope as { routed: Routed }).routed;
    expect(Buffer.from(got.payload).equals(Buffer.from(message.routed.payload))).toBe(true);
    expect(Buffer.from(got.signature).equals(Buffer.from(message.routed.signature))).toBe(true);
    expect([got.ttl, got.hops]).toEqual([7, 1]);
    expect(dialer.delivered.map((d) => d.kind)).toEqual(['join', 'disconnect']);
    expect((dialer.delivered[1]?.envelope as { disconnect: { alive: boolean } }).disconnect.alive).toBe(true);
  });

  it('two Links with pingIdleMs 100 keep each other alive for several ping periods', async () => {
    const clock = new SimClock(0);
    const fast = { clock, config: { pingIdleMs: 100, pingTimeoutMs: 100, maxMissedPings: 2 } };
    const { dialer, listener } = await linkPair(fast, fast);
    await within(Promise.all([dialer.ready, listener.ready]), 'both links to be ready');
    const readyAt = clock.now();
    // Each period both Links ping (100 ms without a frame) and answer the other's Ping: after
    // Hello and Auth, one Ping and one Pong each per period. Before the next period, every byte
    // either wrote has been handled by the other.
    for (let period = 1; period <= 5; period++) {
      clock.advance(100);
      await vi.waitFor(() => {
        expect([dialer, listener].map((p) => p.connection.framesWritten)).toEqual([
          2 + 2 * period,
          2 + 2 * period,
        ]);
        expect(dialer.connection.bytesReceived).toBe(listener.connection.bytesWritten);
        expect(listener.connection.bytesReceived).toBe(dialer.connection.bytesWritten);
      });
    }
    // 500 virtual ms: well past the 100 + 2 * 100 after which an unanswered link would be dead.
    expect(clock.now() - readyAt).toBe(500);
    expect([dialer.link.isOpen, listener.link.isOpen]).toEqual([true, true]);
    expect([...dialer.closes, ...listener.closes]).toEqual([]);
    expect([...dialer.delivered, ...listener.delivered]).toEqual([]);
  });

  it.each([
    ['raw dialer', 'unkeyed'],
    ['raw dialer', 'keyed'],
    ['raw listener', 'unkeyed'],
    ['raw listener', 'keyed'],
  ] as const)('interoperates with a hand-made handshake (%s, %s mesh)', async (side, mesh) => {
    const passphrase = mesh === 'keyed' ? 'correct horse' : undefined;
    const options = { networkKey: networkKeyOf(passphrase), name: 'raw-peer' };
    const { raw, probe } =
      side === 'raw dialer'
        ? await rawDialer({ passphrase }, options)
        : await rawListener({ passphrase }, options);

    await within(raw.handshake(), 'the raw handshake');
    await within(probe.ready, 'the link to be ready');
    expect(plainInfo(probe.link.peer)).toEqual(plainInfo(raw.info));
    expect(probe.link.role).toBe(raw.role === 'dialer' ? 'listener' : 'dialer');

    // Sealed both ways with the keys the raw peer derived by hand.
    expect(probe.link.send({ join: {} })).toBe(true);
    expect((await within(raw.nextSealed(), 'a sealed join')).kind).toBe('join');
    raw.sendSealed({ neighbor: { highPriority: true } });
    raw.sendSealed({ leave: {} });
    await vi.waitFor(() => expect(probe.delivered.map((d) => d.kind)).toEqual(['neighbor', 'leave']));
    expect(
      (probe.delivered[0]?.envelope as { neighbor: { highPriority: boolean } }).neighbor.highPriority,
    ).toBe(true);
  });

  it('decodes frames split into single bytes, and many frames in one write', async () => {
    const { raw, probe } = await rawDialer();
    raw.ownHello = encodeEnvelope(raw.helloOf());
    const hello = encodeFrame(raw.ownHello);
    for (const byte of hello)
      await new Promise<void>((resolve) => raw.socket.write(Uint8Array.of(byte), () => resolve()));
    await within(raw.readHello(), 'the link Hello');
    await within(raw.readAuth(), 'the link Auth');
    raw.deriveKeys();
    // Auth and two sealed frames in a single write.
    const auth = encodeFrame(encodeEnvelope(raw.authOf()));
    const sealed = [raw.seal({ join: {} }), raw.seal({ prune: {} })].map((body) => encodeFrame(body));
    raw.writeRaw(Buffer.concat([auth, ...sealed]));
    await within(probe.ready, 'the link to be ready');
    await vi.waitFor(() => expect(probe.delivered.map((d) => d.kind)).toEqual(['join', 'prune']));
  });

  it('an empty network name in Hello means "default"', async () => {
    const { raw, probe } = await rawDialer();
    raw.sendHello({ network: '' });
    await within(raw.readHello(), 'the link Hello');
    raw.sendAuth();
    await within(raw.readAuth(), 'the link Auth');
    await within(probe.ready, 'the link to be ready');
  });

  it('answers a Ping with a Pong echoing its nonce, all 64 bits, and tells the owner nothing', async () => {
    const { raw, probe } = await sealedRawDialer();
    // A random 64-bit nonce as another implementation may send: 2^53 + 1 and up lose bits in a number.
    for (const nonce of [0n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      raw.sendSealed({ ping: { nonce } });
      const pong = await within(raw.nextSealed(), 'a pong');
      expect(pong.kind).toBe('pong');
      expect((pong.envelope as { pong: { nonce: bigint } }).pong.nonce).toBe(nonce);
    }
    raw.sendSealed({ pong: { nonce: 5n } }); // an unsolicited Pong is ignored
    raw.sendSealed({ join: {} });
    await vi.waitFor(() => expect(probe.delivered.map((d) => d.kind)).toEqual(['join']));
    expect(probe.link.isOpen).toBe(true);
  });

  it('stays open for several ping periods while the peer answers its pings', async () => {
    const clock = new SimClock(0);
    const config = { pingIdleMs: 100, pingTimeoutMs: 100, maxMissedPings: 2 };
    const { raw, probe } = await sealedRawDialer({ config, clock });
    const readyAt = clock.now();
    const written = (): number => probe.connection.framesWritten - 2; // after Hello and Auth
    for (let ping = 1; ping <= 5; ping++) {
      // A Ping after each full idle period since the last Pong, not a millisecond before.
      clock.advance(config.pingIdleMs - 1);
      expect(written()).toBe(ping - 1);
      clock.advance(1);
      expect(written()).toBe(ping);
      const { kind, envelope } = await within(raw.nextSealed(), `ping ${ping}`);
      expect(kind).toBe('ping');
      const pong = raw.seal({ pong: { nonce: (envelope as { ping: { nonce: bigint } }).ping.nonce } });
      const handled = probe.connection.bytesReceived + encodeFrame(pong).length;
      raw.sendFrame(pong);
      await vi.waitFor(() => expect(probe.connection.bytesReceived).toBe(handled));
    }
    // Five Pings 100 virtual ms apart: past idle + 2 * timeout, so only the Pongs kept it open.
    expect(clock.now() - readyAt).toBe(500);
    expect(clock.now() - readyAt).toBeGreaterThan(config.pingIdleMs + 2 * config.pingTimeoutMs);
    expect(probe.link.isOpen).toBe(true);
    expect(probe.closes).toEqual([]);
    expect(probe.delivered).toEqual([]);
  });

  it('refuses to send a frame over maxFrameBytes and stays open; send after close is false', async () => {
    const { raw, probe } = await sealedRawDialer({ config: { maxFrameBytes: 1000 } });
    expect(probe.link.send(routedOfEncodedSize(985))).toBe(false); // 985 + 16-byte tag > 1000
    expect(probe.link.send(routedOfEncodedSize(984))).toBe(true); // exactly 1000 on the wire
    expect((await within(raw.nextSealed(), 'the frame at the limit')).kind).toBe('routed');
    expect(probe.link.isOpen).toBe(true);
    probe.link.close();
    await expectClosedOnce(probe, { reason: 'local' });
    expect(probe.link.send({ join: {} })).toBe(false);
    await expectClosedWithoutReply(raw);
  });
});

// --- refusals during the handshake ----------------------------------------------------------

describe("Link: the lab's plaintext links", () => {
  const plaintext = { security: labPlaintextLinks };

  it('two plaintext Links become ready and carry envelopes in frames of the sealed size', async () => {
    const { dialer, listener } = await linkPair(plaintext, plaintext);
    await within(Promise.all([dialer.ready, listener.ready]), 'both links to be ready');
    const message = routed(500);
    const before = dialer.connection.bytesWritten;
    expect(dialer.link.send(message)).toBe(true);
    await vi.waitFor(() => expect(listener.delivered).toHaveLength(1), { timeout: 2000 });
    const got = (listener.delivered[0]?.envelope as { routed: Routed }).routed;
    expect(Buffer.from(got.payload).equals(Buffer.from(message.routed.payload))).toBe(true);
    const sealedFrame = encodeFrame(new Uint8Array(encodeEnvelope(message).length + 16));
    expect(dialer.connection.bytesWritten - before).toBe(sealedFrame.length);
  });

  it.each([
    ['a sealed dialer', sealedLinks, labPlaintextLinks],
    ['a sealed listener', labPlaintextLinks, sealedLinks],
  ] as const)(
    'with %s: both sides close with AUTH, neither gets ready',
    async (_name, dialerSecurity, listenerSecurity) => {
      const { dialer, listener } = await linkPair(
        { security: dialerSecurity },
        { security: listenerSecurity },
      );
      await expectClosedOnce(dialer, { reason: 'error', code: 'AUTH' });
      await expectClosedOnce(listener, { reason: 'error', code: 'AUTH' });
      for (const probe of [dialer, listener]) expectNeverReady(probe);
    },
  );
});

describe('Link: handshake refusals, Link against Link', () => {
  it('different network names: both sides close with NETWORK, neither admits nor gets ready', async () => {
    const { dialer, listener } = await linkPair(
      { config: { network: 'red' } },
      { config: { network: 'blue' } },
    );
    await expectClosedOnce(dialer, { reason: 'error', code: 'NETWORK' });
    await expectClosedOnce(listener, { reason: 'error', code: 'NETWORK' });
    for (const probe of [dialer, listener]) {
      expectNeverReady(probe);
      expect(probe.admitted).toEqual([]);
    }
  });

  it.each([
    ['different passphrases', 'correct horse', 'battery staple'],
    ['only the dialer keyed', 'correct horse', undefined],
    ['only the listener keyed', undefined, 'correct horse'],
  ] as const)('%s: both sides close with AUTH, neither gets ready', async (_name, dialerKey, listenerKey) => {
    const { dialer, listener } = await linkPair({ passphrase: dialerKey }, { passphrase: listenerKey });
    await expectClosedOnce(dialer, { reason: 'error', code: 'AUTH' });
    await expectClosedOnce(listener, { reason: 'error', code: 'AUTH' });
    for (const probe of [dialer, listener]) {
      expectNeverReady(probe);
      expect(probe.admitted).toHaveLength(1); // the Hellos were fine; the Auths were not
    }
  });

  it.each(['LIMIT', 'DUPLICATE_CONNECTION'] as const)(
    'admit() refusing with %s: the listener closes with that code, the dialer is told and does not answer',
    async (code) => {
      const { dialer, listener } = await linkPair({}, { admit: () => ({ code, reason: 'go away' }) });
      await expectClosedOnce(listener, { reason: 'error', code });
      const event = await expectClosedOnce(dialer, { reason: 'error' });
      expect(event.detail).toContain(code);
      expect(event.detail).toContain('go away');
      for (const probe of [dialer, listener]) expectNeverReady(probe);
      expect(listener.link.claimedPeer?.id).toBe(dialer.identity.id);
      expect(dialer.connection.framesWritten).toBe(2); // Hello and Auth; no ProtocolError answered
    },
  );
});

describe('Link: a bad Hello from a raw dialer', () => {
  const other = randomIdentity();
  const cases: Array<[string, ErrorCodeName, (raw: RawPeer) => Partial<Hello>]> = [
    ['version 2', 'VERSION', () => ({ version: 2 })],
    ['version 0 (missing)', 'VERSION', () => ({ version: 0 })],
    [
      'version 2 on a foreign network (version is checked first)',
      'VERSION',
      () => ({ version: 2, network: 'x' }),
    ],
    ['a foreign network', 'NETWORK', () => ({ network: 'elsewhere' })],
    ['a forged id (another key)', 'AUTH', (raw) => ({ node: { ...raw.info, id: other.id } })],
    ['an upper-case id', 'AUTH', (raw) => ({ node: { ...raw.info, id: raw.info.id.toUpperCase() } })],
    [
      'another node key under its own id',
      'AUTH',
      (raw) => ({ node: { ...raw.info, publicKey: other.publicKey } }),
    ],
    [
      'a 31-byte public key with its matching id',
      'AUTH',
      (raw) => {
        const publicKey = raw.info.publicKey.subarray(0, 31);
        return { node: { ...raw.info, publicKey, id: nodeIdOf(publicKey) } };
      },
    ],
    ['no NodeInfo', 'AUTH', () => ({ node: null })],
    ['a 33-byte name', 'AUTH', (raw) => ({ node: { ...raw.info, name: 'n'.repeat(33) } })],
    ['an empty host', 'AUTH', (raw) => ({ node: { ...raw.info, host: '' } })],
    ['a port over 65535', 'AUTH', (raw) => ({ node: { ...raw.info, port: 70_000 } })],
    ['a 15-byte nonce', 'AUTH', () => ({ nonce: randomBytes(15) })],
    ['an all-zero (low-order) ephemeral key', 'AUTH', () => ({ ephemeralKey: new Uint8Array(32) })],
    ['a 31-byte ephemeral key', 'AUTH', () => ({ ephemeralKey: randomBytes(31) })],
  ];

  it.each(cases)('%s -> %s, before admit', async (_name, code, overrides) => {
    const { raw, probe } = await rawDialer();
    raw.sendHello(overrides(raw));
    await expectClosedOnce(probe, { reason: 'error', code });
    await expectClearRefusal(raw, code, ['hello']);
    expectNeverReady(probe);
    expect(probe.admitted).toEqual([]);
  });
});

describe('Link: a bad Auth from a raw peer', () => {
  const stranger = randomIdentity();
  const cases: Array<[string, LinkSetup, RawPeerOptions, (raw: RawPeer) => void]> = [
    [
      'signed with the wrong role byte',
      {},
      {},
      (raw) => raw.sendAuth({ signed: authSignedBytes(raw.transcript!, 'listener') }),
    ],
    [
      'signed over another transcript',
      {},
      {},
      (raw) => raw.sendAuth({ signed: authSignedBytes(randomBytes(32), 'dialer') }),
    ],
    [
      'signed by another key',
      {},
      {},
      (raw) =>
        raw.sendClear({
          auth: {
            keyProof: new Uint8Array(0),
            signature: stranger.sign(authSignedBytes(raw.transcript!, 'dialer')),
          },
        }),
    ],
    [
      'an empty signature',
      {},
      {},
      (raw) => raw.sendClear({ auth: { keyProof: new Uint8Array(0), signature: new Uint8Array(0) } }),
    ],
    [
      'a truncated signature',
      {},
      {},
      (raw) => {
        const { auth } = raw.authOf() as { auth: { keyProof: Uint8Array; signature: Uint8Array } };
        raw.sendClear({ auth: { keyProof: auth.keyProof, signature: auth.signature.subarray(0, 63) } });
      },
    ],
    ['no key proof on a keyed mesh', { passphrase: 'correct horse' }, {}, (raw) => raw.sendAuth()],
    [
      'the key proof of another passphrase',
      { passphrase: 'correct horse' },
      { networkKey: networkKeyOf('battery staple') },
      (raw) => raw.sendAuth(),
    ],
    [
      'a key proof on an unkeyed mesh',
      {},
      { networkKey: networkKeyOf('correct horse') },
      (raw) => raw.sendAuth(),
    ],
  ];

  it.each(cases)('%s -> AUTH after admit, never ready', async (_name, setup, options, sendBadAuth) => {
    const { raw, probe } = await rawDialer(setup, options);
    raw.sendHello();
    await within(raw.readHello(), 'the link Hello');
    sendBadAuth(raw);
    await expectClosedOnce(probe, { reason: 'error', code: 'AUTH' });
    await expectClearRefusal(raw, 'AUTH', ['hello', 'auth']);
    expectNeverReady(probe);
    expect(probe.admitted.map(plainInfo)).toEqual([plainInfo(raw.info)]);
  });
});

describe('Link: a Hello altered in transit', () => {
  /** A TCP relay to `targetPort` that rewrites the first frame from the client with `alter`. */
  async function startRelay(targetPort: number, alter: (body: Buffer) => Buffer): Promise<number> {
    const sockets: net.Socket[] = [];
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      sockets.push(client, upstream);
      const cut = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', cut);
      upstream.on('error', cut);
      upstream.pipe(client);
      const decoder = new FrameDecoder(1 << 20);
      let isFirst = true;
      client.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        for (let result = decoder.next(); result.type === 'frame'; result = decoder.next()) {
          upstream.write(encodeFrame(isFirst ? alter(Buffer.from(result.body)) : result.body));
          isFirst = false;
        }
      });
      client.on('end', () => upstream.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return (server.address() as net.AddressInfo).port;
  }

  const DIALER_NAME = 'alice-the-dialer';

  /** Flips one bit inside `field` of the Hello body, keeping its length, so it still decodes. */
  function flipIn(field: 'nonce' | 'name' | 'nothing'): (body: Buffer) => Buffer {
    return (body) => {
      if (field === 'nothing') return body;
      const hello = (decodeOrThrow(body).envelope as { hello: Hello }).hello;
      const needle = field === 'nonce' ? Buffer.from(hello.nonce) : Buffer.from(DIALER_NAME);
      const at = body.indexOf(needle);
      expect(at).toBeGreaterThan(0);
      const altered = Buffer.from(body);
      altered[at + 3] = (altered[at + 3] as number) ^ 0x01;
      expect(decodeEnvelope(altered).ok).toBe(true);
      return altered;
    };
  }

  it('an untouched relay is harmless: both sides become ready (control)', async () => {
    const listening = await listenLinks();
    const dialer = await dialLink(await startRelay(listening.port, flipIn('nothing')), { name: DIALER_NAME });
    const listener = await listening.accepted();
    await within(Promise.all([dialer.ready, listener.ready]), 'both links to be ready');
  });

  it.each(['nonce', 'name'] as const)(
    'one bit of the dialer Hello %s changed: the transcripts differ, both sides close with AUTH',
    async (field) => {
      const listening = await listenLinks();
      const dialer = await dialLink(await startRelay(listening.port, flipIn(field)), { name: DIALER_NAME });
      const listener = await listening.accepted();
      await expectClosedOnce(dialer, { reason: 'error', code: 'AUTH' });
      await expectClosedOnce(listener, { reason: 'error', code: 'AUTH' });
      for (const probe of [dialer, listener]) expectNeverReady(probe);
      // The altered Hello was well formed, so it passed admission: only the transcript caught it.
      expect(listener.admitted).toHaveLength(1);
      expect(listener.admitted[0]?.name === DIALER_NAME).toBe(field !== 'name');
      expect(dialer.admitted.map(plainInfo)).toEqual([plainInfo(listener.self)]);
    },
  );
});

describe('Link: frames out of turn during the handshake', () => {
  const cases: Array<[string, (raw: RawPeer) => Promise<void>, string[]]> = [
    ['a Join before Hello', async (raw) => raw.sendClear({ join: {} }), ['hello']],
    [
      'an Auth before Hello',
      async (raw) => raw.sendClear({ auth: { keyProof: new Uint8Array(0), signature: randomBytes(64) } }),
      ['hello'],
    ],
    [
      'a Ping after Hello, before Auth',
      async (raw) => {
        raw.sendHello();
        await raw.readHello();
        raw.sendClear({ ping: { nonce: 1n } });
      },
      ['hello', 'auth'],
    ],
    [
      'a second Hello',
      async (raw) => {
        raw.sendHello();
        await raw.readHello();
        raw.sendHello();
      },
      ['hello', 'auth'],
    ],
    [
      'a Routed after Hello, before Auth',
      async (raw) => {
        raw.sendHello();
        await raw.readHello();
        raw.sendClear(routed(10));
      },
      ['hello', 'auth'],
    ],
  ];

  it.each(cases)('%s -> PROTOCOL', async (_name, misbehave, before) => {
    const { raw, probe } = await rawDialer();
    await within(misbehave(raw), 'the raw peer');
    await expectClosedOnce(probe, { reason: 'error', code: 'PROTOCOL' });
    await expectClearRefusal(raw, 'PROTOCOL', before);
    expectNeverReady(probe);
  });
});

describe('Link: broken frames', () => {
  const MAX = 1000; // distinct from the 64 KiB default, the 5-byte prefix and the varint steps
  const setup: LinkSetup = { config: { maxFrameBytes: MAX } };
  const frameCases: Array<[string, ErrorCodeName, Uint8Array]> = [
    ['a length prefix one over maxFrameBytes (no body sent)', 'FRAME', varint(MAX + 1)],
    ['a 4 GiB length prefix', 'FRAME', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['an endless varint', 'FRAME', Buffer.alloc(64, 0xff)],
    ['a six-byte varint of zeros', 'FRAME', Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])],
    ['a zero length', 'FRAME', Buffer.from([0x00])],
  ];
  /** In clear: before the handshake only (after it, a clear frame is one that does not open). */
  const decodeCases: Array<[string, ErrorCodeName, Uint8Array]> = [
    ['undecodable bytes', 'DECODE', encodeFrame(Buffer.from([0xff, 0xff, 0xff]))],
    ['a truncated field', 'DECODE', encodeFrame(Buffer.from([0x0a, 0x10, 0x01]))],
    ['an Envelope with no body (unknown field only)', 'DECODE', encodeFrame(Buffer.from([0xa0, 0x06, 0x01]))],
  ];

  it.each([...frameCases, ...decodeCases])(
    'before the handshake: %s -> %s in clear',
    async (_name, code, bytes) => {
      const { raw, probe } = await rawDialer(setup);
      raw.writeRaw(bytes);
      await expectClosedOnce(probe, { reason: 'error', code });
      await expectClearRefusal(raw, code, ['hello']);
      expectNeverReady(probe);
    },
  );

  it.each(frameCases)('after the handshake: %s -> %s, sealed', async (_name, code, bytes) => {
    const { raw, probe } = await sealedRawDialer(setup);
    raw.writeRaw(bytes);
    await expectClosedOnce(probe, { reason: 'error', code });
    await expectSealedRefusal(raw, code);
    expect(probe.delivered).toEqual([]);
  });

  const sealedCases: Array<[string, ErrorCodeName, Uint8Array]> = [
    ['undecodable plaintext', 'DECODE', Buffer.from([0xff, 0xff, 0xff])],
    ['an Envelope with no body', 'DECODE', Buffer.from([0xa0, 0x06, 0x01])],
    [
      'a Hello',
      'PROTOCOL',
      encodeEnvelope({
        hello: { version: 1, node: null, nonce: randomBytes(16), network: '', ephemeralKey: randomBytes(32) },
      }),
    ],
    [
      'an Auth',
      'PROTOCOL',
      encodeEnvelope({ auth: { keyProof: new Uint8Array(0), signature: randomBytes(64) } }),
    ],
  ];

  it.each(sealedCases)('a sealed frame carrying %s -> %s, sealed', async (_name, code, plaintext) => {
    const { raw, probe } = await sealedRawDialer(setup);
    raw.sendSealed(plaintext);
    await expectClosedOnce(probe, { reason: 'error', code });
    await expectSealedRefusal(raw, code);
    expect(probe.delivered).toEqual([]);
  });

  it('a sealed frame of exactly maxFrameBytes is delivered; one byte more is FRAME', async () => {
    const { raw, probe } = await sealedRawDialer(setup);
    const atLimit = raw.seal(routedOfEncodedSize(MAX - 16));
    expect(atLimit.length).toBe(MAX);
    raw.sendFrame(atLimit);
    await vi.waitFor(() => expect(probe.delivered.map((d) => d.kind)).toEqual(['routed']));
    const overLimit = raw.seal(routedOfEncodedSize(MAX - 15));
    expect(overLimit.length).toBe(MAX + 1);
    raw.sendFrame(overLimit);
    await expectClosedOnce(probe, { reason: 'error', code: 'FRAME' });
    await expectSealedRefusal(raw, 'FRAME');
    expect(probe.delivered).toHaveLength(1);
  });
});

describe('Link: sealed frames that do not open', () => {
  const flipBit = (body: Buffer, index: number): Buffer => {
    const out = Buffer.from(body);
    const at = index < 0 ? out.length + index : index;
    out[at] = (out[at] as number) ^ 0x10;
    return out;
  };
  const cases: Array<[string, (raw: RawPeer, probe: Probe) => Promise<void>, number]> = [
    [
      'one bit flipped in the ciphertext',
      async (raw) => raw.sendFrame(flipBit(raw.seal(routed(100)), 20)),
      0,
    ],
    ['one bit flipped in the tag', async (raw) => raw.sendFrame(flipBit(raw.seal({ join: {} }), -1)), 0],
    ['a body shorter than the tag', async (raw) => raw.sendFrame(randomBytes(5)), 0],
    ['a clear Join after the handshake', async (raw) => raw.sendClear({ join: {} }), 0],
    [
      'a replayed frame (the first copy is delivered)',
      async (raw) => {
        const body = raw.seal({ join: {} });
        raw.sendFrame(body);
        raw.sendFrame(body);
      },
      1,
    ],
    [
      "the link's own frame reflected back (wrong direction key)",
      async (raw, probe) => {
        probe.link.send({ join: {} });
        raw.sendFrame(await raw.nextFrame());
      },
      0,
    ],
  ];

  it.each(cases)('%s: closes at once, reported once, no reply', async (_name, tamper, deliveredBefore) => {
    // Virtual time never moves in this test: no ping nor handshake deadline can fire, so a close
    // can only come from the frame itself, at once.
    const clock = new SimClock(0);
    const { raw, probe } = await sealedRawDialer({ clock, config: { pingIdleMs: 100 } });
    await tamper(raw, probe);
    const event = await expectClosedOnce(probe, { reason: 'error', code: 'AUTH' });
    expect(event.atMs).toBe(0);
    expect(clock.now()).toBe(0);
    await expectClosedWithoutReply(raw);
    expect(probe.delivered).toHaveLength(deliveredBefore);
  });
});

describe('Link: a ProtocolError received is never answered', () => {
  const refusal: Envelope = { error: { code: ErrorCode.LIMIT, reason: 'too many peers' } };

  async function expectPeerRefused(probe: Probe): Promise<void> {
    const event = await expectClosedOnce(probe, { reason: 'error' });
    expect(event.detail).toContain('LIMIT');
    expect(event.detail).toContain('too many peers');
  }

  it('as the first frame: the link closes, the raw peer got only its Hello', async () => {
    const { raw, probe } = await rawDialer();
    raw.sendClear(refusal);
    await expectPeerRefused(probe);
    expect((await clearFramesAtClose(raw)).map((f) => f.kind)).toEqual(['hello']);
    expectNeverReady(probe);
  });

  it('after Hello, to a dialing Link: it closes after its Auth, with no answer', async () => {
    const { raw, probe } = await rawListener();
    raw.sendHello();
    raw.sendClear(refusal);
    await expectPeerRefused(probe);
    expect((await clearFramesAtClose(raw)).map((f) => f.kind)).toEqual(['hello', 'auth']);
    expectNeverReady(probe);
  });

  it('sealed, after the handshake: the link closes, nothing comes back', async () => {
    const { raw, probe } = await sealedRawDialer();
    raw.sendSealed(refusal);
    await expectPeerRefused(probe);
    await expectClosedWithoutReply(raw);
    expect(probe.delivered).toEqual([]);
  });

  it('in clear, after the handshake: the link closes, nothing comes back', async () => {
    const { raw, probe } = await sealedRawDialer();
    raw.sendClear(refusal);
    await expectPeerRefused(probe);
    await expectClosedWithoutReply(raw);
  });
});

describe('Link: admission', () => {
  it('admit() refusing with LIMIT: the raw peer receives ProtocolError LIMIT with the reason', async () => {
    const admitted: NodeInfo[] = [];
    const { raw, probe } = await rawDialer({
      admit: (peer) => {
        admitted.push(peer);
        return { code: 'LIMIT', reason: 'banned for misbehaviour' };
      },
    });
    raw.sendHello();
    await expectClosedOnce(probe, { reason: 'error', code: 'LIMIT' });
    const frames = await clearFramesAtClose(raw);
    expect(frames.map((f) => f.kind)).toEqual(['hello', 'error']);
    expect(errorOf(frames[1])).toMatchObject({ code: ErrorCode.LIMIT, reason: 'banned for misbehaviour' });
    expect(admitted.map(plainInfo)).toEqual([plainInfo(raw.info)]);
    expect(plainInfo(probe.link.claimedPeer!)).toEqual(plainInfo(raw.info));
    expectNeverReady(probe);
  });
});

// --- time -----------------------------------------------------------------------------------

describe('Link: deadlines', () => {
  const config = { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS };

  /**
   * Open until the deadline's last virtual millisecond, closed with timeout on it. Virtual time
   * stands still while the raw peer reads what the Link wrote, as it would in the real 300 ms.
   */
  async function expectHandshakeTimeout(probe: Probe, raw: RawPeer, clock: SimClock): Promise<void> {
    clock.advance(probe.startedAtMs + HANDSHAKE_TIMEOUT_MS - 1 - clock.now());
    expect(probe.closes).toEqual([]);
    await vi.waitFor(() => expect(raw.received).toHaveLength(probe.connection.framesWritten));
    clock.advance(1);
    const event = await expectClosedOnce(probe, { reason: 'timeout' });
    expect(event.atMs - probe.startedAtMs).toBe(HANDSHAKE_TIMEOUT_MS);
    expectNeverReady(probe);
  }

  it('a raw client that connects and sends nothing: closed with timeout, no ProtocolError', async () => {
    const clock = new SimClock(0);
    const { raw, probe } = await rawDialer({ config, clock });
    await expectHandshakeTimeout(probe, raw, clock);
    expect((await clearFramesAtClose(raw)).map((f) => f.kind)).toEqual(['hello']);
  });

  it('a raw listener that accepts and sends nothing: the dialing Link times out too', async () => {
    const clock = new SimClock(0);
    const { raw, probe } = await rawListener({ config, clock });
    await expectHandshakeTimeout(probe, raw, clock);
    expect((await clearFramesAtClose(raw)).map((f) => f.kind)).toEqual(['hello']);
  });

  it('a peer that sends Hello and never its Auth: the deadline is absolute', async () => {
    const clock = new SimClock(0);
    const { raw, probe } = await rawDialer({ config, clock });
    clock.advance(HANDSHAKE_TIMEOUT_MS - 100);
    raw.sendHello(); // late, and answered: it does not move the deadline
    await vi.waitFor(() => expect(probe.admitted).toHaveLength(1));
    await expectHandshakeTimeout(probe, raw, clock);
    expect((await clearFramesAtClose(raw)).map((f) => f.kind)).toEqual(['hello', 'auth']);
  });

  it.each([1, 2, 3])(
    'a peer that goes silent after the handshake (maxMissedPings %i): timeout after idle + missed * timeout',
    async (maxMissedPings) => {
      const clock = new SimClock(0);
      const ping = { pingIdleMs: 150, pingTimeoutMs: 100, maxMissedPings };
      const { raw, probe } = await sealedRawDialer({ config: ping, clock });
      const expected = ping.pingIdleMs + maxMissedPings * ping.pingTimeoutMs;
      clock.advance((probe.readyAtMs as number) + expected - 1 - clock.now());
      expect(probe.closes).toEqual([]);
      expect(probe.connection.framesWritten - 2).toBe(maxMissedPings); // Pings after Hello and Auth
      await vi.waitFor(() => expect(raw.unread()).toHaveLength(maxMissedPings));
      clock.advance(1);
      const event = await expectClosedOnce(probe, { reason: 'timeout' });
      expect(event.atMs - (probe.readyAtMs as number)).toBe(expected);
      await within(raw.closed, 'the raw socket to close');
      const sent = raw
        .unread()
        .map((body) => decodeOrThrow(raw.opener!.open(body) ?? new Uint8Array(0)).kind);
      expect(sent).toEqual(Array<string>(maxMissedPings).fill('ping'));
      expect(probe.delivered).toEqual([]);
    },
  );
});

// --- back pressure ----------------------------------------------------------------------------

describe('Link: a peer that never reads', () => {
  it('is dropped with LIMIT once the send queue passes maxSendQueueBytes; the queue stays bounded', async () => {
    const maxSendQueueBytes = 65_536; // the smallest value config RANGES allows
    const { raw, probe } = await sealedRawDialer({ config: { maxSendQueueBytes } });
    raw.socket.pause();
    const message = routed(60_000);
    let sent = 0;
    // Synchronous on purpose: the kernel buffers fill, then the socket's own queue grows.
    while (sent < 2000 && probe.link.send(message)) sent++;
    await expectClosedOnce(probe, { reason: 'error', code: 'LIMIT' });
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(2000); // a few MB of kernel buffers, not 120 MB
    expect(probe.connection.maxBufferedBytes).toBeLessThanOrEqual(maxSendQueueBytes);
    expect(probe.link.send({ join: {} })).toBe(false);
    // What the kernel had accepted still arrives, then the close; nothing but the flood.
    raw.socket.resume();
    await within(raw.closed, 'the raw socket to close', 10_000);
    const kinds = new Set(
      raw.unread().map((body) => decodeOrThrow(raw.opener!.open(body) ?? new Uint8Array(0)).kind),
    );
    expect([...kinds]).toEqual(['routed']);
  });

  it('the keepalive Ping that overflows the queue closes with LIMIT and leaves no timer armed', async () => {
    const config = { pingIdleMs: 100, pingTimeoutMs: 100, maxMissedPings: 2 };
    const { raw, probe } = await sealedRawDialer({ config });
    // The peer stopped reading (and sending): the next write, the keepalive Ping, is over the cap.
    probe.connection.extraBufferedBytes = 16 * 1024 * 1024;
    await expectClosedOnce(probe, { reason: 'error', code: 'LIMIT' });
    await expectClosedWithoutReply(raw);
  });
});

describe('TcpTransport: the connection contract the Link relies on', () => {
  it('a connection that is gone before attach() reports onClose exactly once', async () => {
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const connection = await transport.dial(
      { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
      1000,
    );
    connection.destroy();
    const calls: boolean[] = [];
    connection.attach({ onData: () => undefined, onClose: (hadError) => calls.push(hadError) });
    await vi.waitFor(() => expect(calls.length).toBeGreaterThan(0));
    // The socket's own 'close' is emitted from libuv's close phase: a few loop turns cover it.
    for (let turn = 0; turn < 5; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(calls).toHaveLength(1);
  });
});
