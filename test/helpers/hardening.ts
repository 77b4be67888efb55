/**
 * Shared by the hardening suites: a node under attack between two honest neighbours, raw peers
 * that join it by hand, a ping round trip that proves every earlier frame was handled, and a
 * transport that records every connection a node opens or accepts.
 */
import net from 'node:net';
import { expect } from 'vitest';
import type { Address, NodeConfig } from '../../config.js';
import type { Node } from '../../node.js';
import type { Envelope } from '../../proto/messages.js';
import { TcpTransport } from '../../transport/tcp.js';
import type { Connection, ConnectionHandlers, Listener, Transport } from '../../transport/transport.js';
import { RawPeer, type RawPeerOptions, type Received } from './raw-peer.js';
import { FAST, waitFor, type TcpMesh, type TestNode } from './tcp-mesh.js';
import { within as withinMs } from '../../utils/within.js';

/** An attacked node `x` in the middle of the line a - x - b: a and b reach each other only through x. */
export interface Line {
  a: TestNode;
  x: TestNode;
  b: TestNode;
}

export const addressOf = (node: Node): Address => ({ host: node.info.host, port: node.info.port });

/**
 * Builds a - x - b. a and b use static membership and dial x; x uses `xConfig` (static unless
 * it says otherwise), so every broadcast between a and b crosses x.
 */
export async function attackedLine(
  mesh: TcpMesh,
  xConfig: Partial<NodeConfig> = {},
  deps: { transport?: Transport } = {},
  honestConfig: Partial<NodeConfig> = {},
): Promise<Line> {
  const x = await mesh.add({ membership: 'static', name: 'x', ...xConfig }, deps);
  const seeds = [addressOf(x.node)];
  const a = await mesh.add({ membership: 'static', name: 'a', seeds, ...honestConfig });
  const b = await mesh.add({ membership: 'static', name: 'b', seeds, ...honestConfig });
  const ids = (entry: TestNode): string[] => entry.node.peers().active.map((peer) => peer.id);
  await waitFor(
    () =>
      ids(x).includes(a.node.id) && ids(x).includes(b.node.id) && ids(a).length === 1 && ids(b).length === 1,
    15_000,
    'the line a - x - b',
  );
  return { a, x, b };
}

let serial = 0;

/**
 * The attacked node still serves its honest neighbours: a broadcast from a reaches b and one
 * from b reaches a, each exactly once, through x.
 */
export async function expectStillServing({ a, b }: Line, label = 'after the attack'): Promise<void> {
  const fromA = `${label}: a to b #${++serial}`;
  const fromB = `${label}: b to a #${++serial}`;
  a.node.broadcast(fromA);
  b.node.broadcast(fromB);
  await waitFor(
    () => b.messages.some((m) => m.text === fromA) && a.messages.some((m) => m.text === fromB),
    15_000,
    `"${label}" broadcasts between a and b`,
  );
  expect(b.messages.filter((m) => m.text === fromA)).toHaveLength(1);
  expect(a.messages.filter((m) => m.text === fromB)).toHaveLength(1);
  expect(b.messages.find((m) => m.text === fromA)?.hops).toBe(2);
}

/** The connections of `x` other than those to a and b have all closed. */
export async function expectOnlyHonestConnections({ x }: Line): Promise<void> {
  await waitFor(
    () => x.node.stats()['node.connections'] === 2,
    15_000,
    'x back to its two honest connections',
  );
}

/** Every raw peer made here is destroyed by `destroyRawPeers()`, registered in afterEach. */
const rawPeers = new Set<RawPeer>();

export function destroyRawPeers(): void {
  for (const raw of rawPeers) raw.destroy();
  rawPeers.clear();
}

/** A raw dialer to `node`, from `localAddress` (127.0.0.x) when given. */
export function dialRaw(node: Node, options: RawPeerOptions = {}, localAddress?: string): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: '127.0.0.1',
      port: node.info.port,
      ...(localAddress ? { localAddress } : {}),
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const raw = new RawPeer(socket, 'dialer', options);
      rawPeers.add(raw);
      resolve(raw);
    });
  });
}

/** The whole honest handshake, with `announce` (host and port) in its Hello when given. */
export async function handshake(raw: RawPeer, announce?: Address): Promise<void> {
  raw.sendHello(announce ? { node: { ...raw.info, ...announce } } : {});
  await raw.readHello();
  raw.sendAuth();
  await raw.readAuth();
  raw.deriveKeys();
}

/** A raw peer that completed the handshake and joined `node`'s active view with `Join`. */
export async function joinRaw(
  node: Node,
  options: RawPeerOptions = {},
  announce?: Address,
): Promise<RawPeer> {
  const raw = await dialRaw(node, options);
  await handshake(raw, announce);
  raw.sendSealed({ join: {} });
  await waitFor(
    () => node.peers().active.some((peer) => peer.id === raw.identity.id),
    10_000,
    'the raw peer in the active view',
  );
  return raw;
}

let nonce = 1_000_000n;

/** A hang fails fast, with a name (10_000 ms unless told). */
export function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return withinMs(promise, what, ms);
}

/**
 * Sends a sealed Ping and reads until its Pong: the node handles a link's frames in order, so
 * every frame sent before has been handled. Answers the node's own Pings on the way and returns
 * everything else it read. Rejects when the node closes the link first.
 */
export function roundTrip(raw: RawPeer): Promise<Received[]> {
  return within(pingPong(raw), 'a Pong from the attacked node');
}

async function pingPong(raw: RawPeer): Promise<Received[]> {
  const mine = ++nonce;
  raw.sendSealed({ ping: { nonce: mine } });
  const others: Received[] = [];
  for (;;) {
    const received = await raw.nextSealed();
    if (received.kind === 'pong' && (received.envelope as { pong: { nonce: bigint } }).pong.nonce === mine) {
      return others;
    }
    if (received.kind === 'ping') {
      raw.sendSealed({ pong: { nonce: (received.envelope as { ping: { nonce: bigint } }).ping.nonce } });
    }
    others.push(received);
  }
}

/** Waits for the other side to close the raw peer's socket; a hang fails within `timeoutMs`. */
export async function closedByPeer(raw: RawPeer, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => raw.isClosed, timeoutMs, 'the attacked node to close the connection');
}

/** The sealed frames left unread once the raw peer's socket closed, opened and decoded. */
export async function sealedAtClose(raw: RawPeer): Promise<Received[]> {
  await closedByPeer(raw);
  const out: Received[] = [];
  for (let frame = raw.unread().length; frame > 0; frame--) out.push(await raw.nextSealed());
  return out;
}

/** The code of the last ProtocolError among `frames`, or undefined. */
export function lastErrorCode(frames: Received[]): number | undefined {
  const errors = frames.filter((f) => f.kind === 'error');
  return (errors.at(-1)?.envelope as { error: { code: number } } | undefined)?.error.code;
}

/** Unsigned LEB128, for frame prefixes the encoder would never write. */
export function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Buffer.from(out);
}

export function sendAll(raw: RawPeer, envelopes: Envelope[]): void {
  for (const envelope of envelopes) raw.sendSealed(envelope);
}

// --- a transport that records connections -----------------------------------------------------

/** One connection of a node, as its transport saw it. */
export class RecordedConnection implements Connection {
  isClosed = false;
  bytesWritten = 0;
  /** The most bytes ever queued in the socket right after a write. */
  maxBufferedBytes = 0;

  constructor(
    readonly inner: Connection,
    readonly direction: 'inbound' | 'outbound',
  ) {}

  get remote(): Address {
    return this.inner.remote;
  }

  get local(): Address {
    return this.inner.local;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  attach(handlers: ConnectionHandlers): void {
    this.inner.attach({
      onData: (chunk) => handlers.onData(chunk),
      onClose: (hadError) => {
        this.isClosed = true;
        handlers.onClose(hadError);
      },
    });
  }

  write(bytes: Uint8Array): void {
    this.inner.write(bytes);
    this.bytesWritten += bytes.length;
    this.maxBufferedBytes = Math.max(this.maxBufferedBytes, this.inner.bufferedBytes);
  }

  end(): void {
    this.inner.end();
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/** TCP, with every connection recorded: tests cut links, match both ends, and meter queues. */
export class RecordingTransport implements Transport {
  readonly connections: RecordedConnection[] = [];
  readonly #inner = new TcpTransport();

  listen(address: Address, onConnection: (connection: Connection) => void): Promise<Listener> {
    return this.#inner.listen(address, (connection) => onConnection(this.#record(connection, 'inbound')));
  }

  async dial(address: Address, timeoutMs: number): Promise<Connection> {
    return this.#record(await this.#inner.dial(address, timeoutMs), 'outbound');
  }

  open(): RecordedConnection[] {
    return this.connections.filter((connection) => !connection.isClosed);
  }

  #record(connection: Connection, direction: 'inbound' | 'outbound'): RecordedConnection {
    const recorded = new RecordedConnection(connection, direction);
    this.connections.push(recorded);
    return recorded;
  }
}

/** Fast timers, and keepalive slow enough that a raw peer that does not answer Pings stays open. */
export const ATTACKED: Partial<NodeConfig> = { ...FAST, pingIdleMs: 20_000, pingTimeoutMs: 20_000 };
