/**
 * An in-memory transport for meshes of many thousands of nodes in one process. Bytes still go
 * through the node's framing and sealing; only the socket is simulated. Timing comes from the
 * injected clock (a SimClock makes a run deterministic and as fast as the CPU allows), and link
 * latency from the injected random source. Partitions and crashes are driven by the lab.
 */
import type { Address } from '../config.js';
import { formatAddress } from '../config.js';
import type { Clock } from '../utils/clock.js';
import type { Random } from '../utils/random.js';
import type { Connection, ConnectionHandlers, Listener, Transport } from './transport.js';

export interface MemoryNetworkOptions {
  clock: Clock;
  random: Random;
  /** One-way latency of a chunk: base plus a uniform jitter. @default 1 */
  latencyMs?: number;
  /** @default 1 */
  jitterMs?: number;
  /** Chance that a dial fails as if the packet were lost. @default 0 */
  dialLossRate?: number;
}

type Accept = (connection: Connection) => void;

class MemoryConnection implements Connection {
  #handlers: ConnectionHandlers | undefined;
  #peer: MemoryConnection | undefined;
  #early: Uint8Array[] = [];
  #inFlight = 0;
  #lastDeliveryAt = 0;
  #closed = false;
  /** We sent our FIN: no more writes. */
  #ended = false;
  /** The peer's FIN arrived: it writes no more. */
  #finReceived = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly local: Address,
    readonly remote: Address,
  ) {}

  pair(peer: MemoryConnection): void {
    this.#peer = peer;
  }

  get bufferedBytes(): number {
    return this.#inFlight;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) handlers.onData(chunk);
    if (this.#closed) handlers.onClose(false);
  }

  write(bytes: Uint8Array): void {
    const peer = this.#peer;
    if (this.#closed || this.#ended || !peer) return;
    if (this.network.isCut(this.local.host, this.remote.host)) return this.#reset();
    const copy = Uint8Array.from(bytes);
    this.#inFlight += copy.length;
    // Deliveries in one direction keep their order, as on a TCP stream.
    const at = Math.max(this.network.clock.now() + this.network.latency(), this.#lastDeliveryAt);
    this.#lastDeliveryAt = at;
    this.network.clock.schedule(at - this.network.clock.now(), () => {
      this.#inFlight -= copy.length;
      peer.receive(copy);
    });
  }

  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    if (this.#handlers) this.#handlers.onData(chunk);
    else this.#early.push(chunk);
  }

  /**
   * A half-close, as TCP does it: our FIN travels behind the data, we keep reading what the peer
   * still sends, and the peer answers with its own FIN (Node's default, allowHalfOpen false).
   * Each side closes once it has both sent and received a FIN.
   */
  end(): void {
    if (this.#closed || this.#ended) return;
    this.#ended = true;
    const peer = this.#peer;
    if (peer) {
      const now = this.network.clock.now();
      const at = Math.max(now + this.network.latency(), this.#lastDeliveryAt);
      this.#lastDeliveryAt = at;
      this.network.clock.schedule(at - now, () => peer.receiveFin());
    }
    if (this.#finReceived || !peer) this.#closeQuietly();
  }

  receiveFin(): void {
    if (this.#closed) return;
    this.#finReceived = true;
    if (this.#ended) this.#closeQuietly();
    else this.end();
  }

  /** Both FINs exchanged: this side is closed, and the peer closes on its own. */
  #closeQuietly(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.network.forget(this);
    this.#handlers?.onClose(false);
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.network.forget(this);
    this.#handlers?.onClose(false);
    const peer = this.#peer;
    if (peer) this.network.clock.schedule(this.network.latency(), () => peer.destroy());
  }

  #reset(): void {
    this.destroy();
  }
}

export class MemoryNetwork {
  readonly clock: Clock;
  readonly #random: Random;
  readonly #listeners = new Map<string, Accept>();
  readonly #connections = new Set<MemoryConnection>();
  /** host -> partition group; hosts in different groups cannot reach each other. */
  readonly #groups = new Map<string, number>();
  readonly #latencyMs: number;
  readonly #jitterMs: number;
  readonly #dialLossRate: number;
  #nextEphemeralPort = 40000;

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock;
    this.#random = options.random;
    this.#latencyMs = options.latencyMs ?? 1;
    this.#jitterMs = options.jitterMs ?? 1;
    this.#dialLossRate = options.dialLossRate ?? 0;
  }

  latency(): number {
    return this.#latencyMs + this.#random.float() * this.#jitterMs;
  }

  /** A transport for one host of this network. */
  transport(host: string): Transport {
    return {
      listen: (address, onConnection) => this.#listen({ host, port: address.port }, onConnection),
      dial: (address) => this.#dial(host, address),
    };
  }

  /** Puts hosts into partition groups; hosts of different groups are cut off from each other. */
  partition(groups: ReadonlyArray<readonly string[]>): void {
    this.#groups.clear();
    groups.forEach((hosts, index) => hosts.forEach((host) => this.#groups.set(host, index)));
    for (const connection of [...this.#connections]) {
      if (this.isCut(connection.local.host, connection.remote.host)) connection.destroy();
    }
  }

  heal(): void {
    this.#groups.clear();
  }

  isCut(a: string, b: string): boolean {
    const ga = this.#groups.get(a);
    const gb = this.#groups.get(b);
    return ga !== undefined && gb !== undefined && ga !== gb;
  }

  /** Crashes a host: its listener vanishes and every connection of it resets, with no Leave. */
  crash(host: string): void {
    for (const key of [...this.#listeners.keys()])
      if (key.startsWith(`${host}:`)) this.#listeners.delete(key);
    for (const connection of [...this.#connections]) if (connection.local.host === host) connection.destroy();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  forget(connection: MemoryConnection): void {
    this.#connections.delete(connection);
  }

  #listen(address: Address, accept: Accept): Promise<Listener> {
    const key = formatAddress(address);
    if (this.#listeners.has(key)) {
      return Promise.reject(Object.assign(new Error(`${key} in use`), { code: 'EADDRINUSE' }));
    }
    this.#listeners.set(key, accept);
    return Promise.resolve({
      address,
      close: async () => {
        if (this.#listeners.get(key) === accept) this.#listeners.delete(key);
      },
    });
  }

  #dial(fromHost: string, to: Address): Promise<Connection> {
    const accept = this.#listeners.get(formatAddress(to));
    if (!accept || this.isCut(fromHost, to.host) || this.#random.float() < this.#dialLossRate) {
      return new Promise((_resolve, reject) =>
        this.clock.schedule(this.latency(), () =>
          reject(new Error(`connect to ${formatAddress(to)} refused`)),
        ),
      );
    }
    const local = { host: fromHost, port: this.#nextEphemeralPort++ };
    const outbound = new MemoryConnection(this, local, to);
    const inbound = new MemoryConnection(this, to, local);
    outbound.pair(inbound);
    inbound.pair(outbound);
    this.#connections.add(outbound);
    this.#connections.add(inbound);
    return new Promise((resolve) =>
      this.clock.schedule(this.latency(), () => {
        accept(inbound);
        resolve(outbound);
      }),
    );
  }
}
