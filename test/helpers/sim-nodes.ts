/**
 * Real Nodes over the in-memory transport under a simulated clock, as the lab runs them
 * (lab/in-process-cluster.ts): the node's own links, duplicate rule, idle closes and dials,
 * with no socket and no real time, so a seed replays a run exactly. Each node's transport is
 * wrapped in an `InstrumentedTransport` that records its dials and can hold them in flight.
 */
import type { Address, NodeConfig } from '../../config.js';
import { formatAddress } from '../../config.js';
import { Identity } from '../../crypto/identity.js';
import { SimDriver } from '../../lab/driver.js';
import { Node } from '../../node.js';
import type { DeliveredMessage } from '../../router.js';
import { MemoryNetwork } from '../../transport/memory.js';
import type { Connection, ConnectionHandlers, Listener, Transport } from '../../transport/transport.js';
import { seededRandom } from '../../utils/random.js';

/** A dial the transport holds until the test lets it go on or fail. */
interface HeldDial {
  address: Address;
  release(): void;
  fail(): void;
}

/**
 * A connection whose owner can stop hearing from its peer, as over a half-open TCP connection
 * whose peer died with no FIN nor RST: nothing more arrives, not even the close.
 */
export class SilenceableConnection implements Connection {
  #isSilenced = false;
  /** The transport reported the connection gone (heard or not by its owner). */
  isClosed = false;

  constructor(readonly inner: Connection) {}

  get remote(): Address {
    return this.inner.remote;
  }

  get local(): Address {
    return this.inner.local;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  silence(): void {
    this.#isSilenced = true;
  }

  attach(handlers: ConnectionHandlers): void {
    this.inner.attach({
      onData: (chunk) => {
        if (!this.#isSilenced) handlers.onData(chunk);
      },
      onClose: (hadError) => {
        this.isClosed = true;
        if (!this.#isSilenced) handlers.onClose(hadError);
      },
    });
  }

  write(bytes: Uint8Array): void {
    if (!this.#isSilenced) this.inner.write(bytes);
  }

  end(): void {
    this.inner.end();
  }

  destroy(): void {
    this.isClosed = true;
    this.inner.destroy();
  }
}

/** Records every dial, can hold dials in flight, and keeps every connection it made or accepted. */
export class InstrumentedTransport implements Transport {
  /** Every dial asked of the transport, in order. */
  readonly dials: Address[] = [];
  readonly held: HeldDial[] = [];
  readonly connections: Array<{ direction: 'inbound' | 'outbound'; connection: SilenceableConnection }> = [];
  /** While true, dials wait in `held` until released or failed. */
  isHolding = false;

  constructor(private readonly inner: Transport) {}

  listen(address: Address, onConnection: (connection: Connection) => void): Promise<Listener> {
    return this.inner.listen(address, (connection) => onConnection(this.#keep('inbound', connection)));
  }

  dial(address: Address, timeoutMs: number): Promise<Connection> {
    this.dials.push(address);
    const go = (): Promise<Connection> =>
      this.inner.dial(address, timeoutMs).then((c) => this.#keep('outbound', c));
    if (!this.isHolding) return go();
    return new Promise((resolve, reject) => {
      this.held.push({
        address,
        release: () => void go().then(resolve, reject),
        fail: () => reject(new Error(`connect to ${formatAddress(address)} refused`)),
      });
    });
  }

  /** The connections not closed yet. */
  open(): Array<{ direction: 'inbound' | 'outbound'; connection: SilenceableConnection }> {
    return this.connections.filter((c) => !c.connection.isClosed);
  }

  dialsTo(address: Address): number {
    return this.dials.filter((a) => formatAddress(a) === formatAddress(address)).length;
  }

  /** Lets every held dial go on (or fail), and dials from now on go at once. */
  releaseAll(outcome: 'release' | 'fail' = 'release'): void {
    this.isHolding = false;
    for (const dial of this.held.splice(0)) dial[outcome]();
  }

  #keep(direction: 'inbound' | 'outbound', connection: Connection): SilenceableConnection {
    const wrapped = new SilenceableConnection(connection);
    this.connections.push({ direction, connection: wrapped });
    return wrapped;
  }
}

export interface SimNode {
  node: Node;
  host: string;
  identity: Identity;
  transport: InstrumentedTransport;
  messages: DeliveredMessage[];
}

/** The port every node listens on: each has a host of its own. */
export const SIM_PORT = 7000;

export class SimNodes {
  readonly driver = new SimDriver();
  readonly network: MemoryNetwork;
  readonly nodes: SimNode[] = [];
  readonly #seed: number;

  constructor(seed = 1) {
    this.#seed = seed;
    this.network = new MemoryNetwork({ clock: this.driver.clock, random: seededRandom(seed) });
  }

  /** Starts a node on `host`; the same identity on the same host is the same node restarted. */
  async add(host: string, config: Partial<NodeConfig> = {}, identity?: Identity): Promise<SimNode> {
    const random = seededRandom(this.#seed * 1000 + this.nodes.length);
    const id = identity ?? Identity.fromSeed(random.bytes(32));
    const transport = new InstrumentedTransport(this.network.transport(host));
    const node = new Node(
      { name: host, ...config, host, port: SIM_PORT },
      { transport, clock: this.driver.clock, random, identity: id },
    );
    const entry: SimNode = { node, host, identity: id, transport, messages: [] };
    node.on('message', (message) => entry.messages.push(message));
    this.nodes.push(entry);
    await node.start();
    return entry;
  }

  /** Lets `ms` of virtual time pass, every promise continuation running between timers. */
  run(ms: number): Promise<void> {
    return this.driver.sleep(ms);
  }

  /** Runs virtual time until `condition` holds; throws `what` after `limitMs` of virtual time. */
  async until(condition: () => boolean, limitMs: number, what: string): Promise<void> {
    if (!(await this.driver.waitUntil(condition, limitMs, 5))) {
      throw new Error(`not within ${limitMs} virtual ms: ${what}`);
    }
  }

  /** Crashes every node (no Leave, no wait on the clock). */
  async crashAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.node.crash()));
    for (const n of this.nodes) n.transport.releaseAll('fail');
  }
}

export const addressOf = (node: Node): Address => ({ host: node.info.host, port: node.info.port });
