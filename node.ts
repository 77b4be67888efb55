/**
 * A node of the overlay: its lifecycle, its public API, and the wiring between the one place
 * that does I/O (the connection manager, `link/connections.ts`, and the dispatch of what links
 * receive, `link/inbound.ts`) and the protocol's decisions (the membership strategy of the peer
 * table and the router, synchronous state machines). It never decides membership or forwarding
 * itself.
 *
 * Dependencies are injected (transport, clock, random source, logger) with real defaults, so
 * the lab runs this same class over TCP, child processes, or memory under a simulated clock.
 */
import { EventEmitter } from 'node:events';
import type { NodeEvents, PeerSummary } from './events.js';
import { formatAddress, resolveConfig, type Address, type NodeConfig } from './config.js';
import { describeNode, type Identity } from './crypto/identity.js';
import { loadOrCreateIdentity } from './crypto/identity-store.js';
import { KeyCachingChecker, type SignatureChecker } from './crypto/signatures.js';
import { Connections } from './link/connections.js';
import { Inbound } from './link/inbound.js';
import { sealedLinks, type LinkSecurity } from './link/link-security.js';
import type {
  MembershipContext,
  MembershipFactory,
  MembershipStrategy,
  PeerDownReason,
  Views,
} from './membership/strategy.js';
import { createPeerTable } from './peer-table.js';
import type { NodeInfo } from './proto/messages.js';
import { Router, type OutgoingEnvelope, type RouterObservation } from './router.js';
import { TcpTransport } from './transport/tcp.js';
import type { Listener, Transport } from './transport/transport.js';
import { systemClock, type Clock } from './utils/clock.js';
import { silentLogger, type Logger } from './utils/logger.js';
import { cryptoRandom, type Random } from './utils/random.js';

export * from './events.js';

export interface NodeDependencies {
  transport?: Transport;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /** A ready identity (the lab makes them from its seed); otherwise loaded from `dataDir`. */
  identity?: Identity;
  /** The lab's measurement hook on the router. */
  observe?: (event: RouterObservation) => void;
  /** Signature checks; the lab shares one across its nodes. Default: this node's own key cache. */
  signatures?: SignatureChecker;
  /** The links' crypto. Default `sealedLinks`; only the lab's own simulated nodes use another. */
  linkSecurity?: LinkSecurity;
  /** A membership strategy of the caller's (a test's attacker). Default: the one `config.membership` names. */
  membership?: MembershipFactory;
}

interface Running {
  state: 'running';
  listener: Listener;
  peerTable: MembershipStrategy;
  router: Router;
  inbound: Inbound;
}

/** The dependencies with their defaults filled in. */
type Resolved = NodeDependencies &
  Required<Pick<NodeDependencies, 'transport' | 'clock' | 'random' | 'logger' | 'signatures'>>;

type Lifecycle =
  { state: 'new' } | { state: 'starting' } | Running | { state: 'stopping' } | { state: 'stopped' };

export class Node extends EventEmitter<NodeEvents> {
  readonly config: NodeConfig;
  readonly #deps: Resolved;
  readonly #log: Logger;
  readonly #connections: Connections;
  #identity: Identity | undefined;
  #self: NodeInfo | undefined;
  #lifecycle: Lifecycle = { state: 'new' };
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #counters = new Map<string, number>();

  constructor(config: Partial<NodeConfig> = {}, deps: NodeDependencies = {}) {
    super();
    this.config = resolveConfig(config);
    const resolved: Resolved = {
      ...deps,
      transport: deps.transport ?? new TcpTransport(),
      clock: deps.clock ?? systemClock,
      random: deps.random ?? cryptoRandom,
      logger: deps.logger ?? silentLogger(),
      signatures: deps.signatures ?? new KeyCachingChecker(),
    };
    this.#deps = resolved;
    this.#log = resolved.logger.child({ component: 'node' });
    this.#identity = deps.identity;
    this.#connections = new Connections({
      ...resolved,
      config: this.config,
      log: resolved.logger,
      security: deps.linkSecurity ?? sealedLinks,
      count: (key, by) => this.#count(key, by),
    });
  }

  /** Own NodeInfo as announced; available once started. */
  get info(): NodeInfo {
    if (!this.#self) throw new Error('node not started');
    return this.#self;
  }

  get id(): string {
    return this.info.id;
  }

  get isRunning(): boolean {
    return this.#lifecycle.state === 'running';
  }

  /** Loads the identity, listens, and joins through the seeds. Idempotent. */
  start(): Promise<void> {
    if (!this.#starting) {
      this.#lifecycle = { state: 'starting' };
      this.#starting = this.#start();
    }
    return this.#starting;
  }

  /** Sends Leave to every neighbour, flushes, closes everything. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#teardown(true);
    return this.#stopping;
  }

  /**
   * Dies at once, as if the process were killed: every socket is cut, no Leave is sent.
   * For tests and the lab's failure scenarios.
   */
  crash(): Promise<void> {
    this.#stopping ??= this.#teardown(false);
    return this.#stopping;
  }

  /** Sends a chat message to every node of the room. Returns the message id. */
  broadcast(text: string, room?: string): string {
    const id = this.#running().router.broadcast(text, room);
    this.emit('sent', { id, to: null, room: room ?? 'lobby', text });
    return id;
  }

  /** Sends a direct chat message to a node id anywhere in the mesh. Returns the message id. */
  send(targetId: string, text: string): string {
    const id = this.#running().router.send(targetId, text);
    this.emit('sent', { id, to: targetId, room: null, text });
    return id;
  }

  /** Broadcasts of joined rooms are delivered here; every node forwards every room. */
  joinRoom(room: string): void {
    this.#running().router.joinRoom(room);
  }

  leaveRoom(room: string): void {
    this.#running().router.leaveRoom(room);
  }

  /** Dials an address and asks to join the mesh through it (the CLI's /connect). */
  connect(address: Address): void {
    this.#running().peerTable.join(address);
  }

  peers(): Views {
    return this.#running().peerTable.views();
  }

  /** Every node this node knows by id: both views and the origins of learned routes. */
  knownNodes(): PeerSummary[] {
    const { active, passive } = this.peers();
    return [...active, ...passive].map(describeNode);
  }

  routes(): Array<{ originId: string; via: string; hops: number }> {
    return this.#running().router.routes();
  }

  /** Every counter, flat, prefixed by component: `node.`, `membership.`, `router.`. */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of this.#counters) out[`node.${key}`] = value;
    out['node.connections'] = this.#connections.size;
    out['node.bans'] = this.#connections.banCount;
    if (this.#lifecycle.state === 'running') {
      for (const [key, value] of Object.entries(this.#lifecycle.peerTable.stats()))
        out[`membership.${key}`] = value;
      for (const [key, value] of Object.entries(this.#lifecycle.router.stats())) out[`router.${key}`] = value;
    }
    return out;
  }

  #running(): Running {
    if (this.#lifecycle.state !== 'running') throw new Error(`node is ${this.#lifecycle.state}, not running`);
    return this.#lifecycle;
  }

  #count(key: string, by = 1): void {
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + by);
  }

  async #start(): Promise<void> {
    const { transport, clock, random, membership } = this.#deps;
    const identity = this.#identity ?? (await loadOrCreateIdentity(this.config.dataDir, random));
    this.#identity = identity;
    const listener = await transport.listen({ host: this.config.host, port: this.config.port }, (c) =>
      this.#connections.accept(c),
    );
    const announce = this.config.announce ?? listener.address;
    this.#self = {
      id: identity.id,
      name: this.config.name || `peer-${identity.id.slice(0, 6)}`,
      host: announce.host,
      port: announce.port,
      publicKey: identity.publicKey,
    };
    this.#log.info({ id: identity.id, address: formatAddress(announce) }, 'node listening');
    const context = this.#membershipContext();
    const peerTable = membership ? membership(context) : createPeerTable(context);
    const router = new Router(this.#routerContext(identity));
    const inbound = new Inbound({
      config: this.config,
      clock,
      connections: this.#connections,
      membership: peerTable,
      router,
      count: (key, by) => this.#count(key, by),
    });
    this.#lifecycle = { state: 'running', listener, peerTable, router, inbound };
    this.#connections.start(identity, this.#self, {
      linkUp: (up) => peerTable.onLinkUp(up),
      linkDown: (peerId, reason) => peerTable.onLinkDown(peerId, reason),
      message: (link, message) => inbound.onMessage(link, message),
      isDataPeer: (peerId) => peerTable.isDataPeer(peerId),
    });
    this.emit('ready', describeNode(this.#self));
    peerTable.start(this.config.seeds);
  }

  /**
   * The one teardown path. Graceful: the strategies say goodbye (Leave) and the links get a
   * moment to flush it. A crash: every socket is cut first, so nothing more leaves.
   */
  async #teardown(graceful: boolean): Promise<void> {
    await this.#starting?.catch(() => undefined);
    const lifecycle = this.#lifecycle;
    this.#lifecycle = { state: graceful ? 'stopping' : 'stopped' };
    if (!graceful) this.#connections.cut();
    if (lifecycle.state === 'running') {
      lifecycle.peerTable.stop();
      lifecycle.router.stop();
    }
    await this.#connections.shutdown(graceful);
    if (lifecycle.state === 'running') {
      await lifecycle.listener.close();
      if (graceful) this.#log.info('node stopped');
    }
    this.#lifecycle = { state: 'stopped' };
  }

  #membershipContext(): MembershipContext {
    const connections = this.#connections;
    return {
      self: this.info,
      config: this.config,
      clock: this.#deps.clock,
      random: this.#deps.random,
      log: this.#deps.logger,
      send: (peerId, envelope) => connections.send(peerId, envelope),
      dial: (address) => void this.#dialFor(address),
      disconnect: (peerId, code, reason) => connections.disconnect(peerId, code, reason),
      isLinked: (peerId) => connections.isLinked(peerId),
      peerUp: (peer) => this.#onPeerUp(peer),
      peerDown: (peer, reason) => this.#onPeerDown(peer, reason),
      countDrop: (reason) => this.#count(`drop.${reason}`),
    };
  }

  /** Dials for the peer table and hands it the outcome, never during its own call. */
  async #dialFor(address: Address): Promise<void> {
    const link = await this.#connections.dial(address);
    if (this.#lifecycle.state !== 'running') return;
    const { peerTable } = this.#lifecycle;
    if (link) peerTable.onDialed(address, link.id);
    else peerTable.onDialFailed(address);
  }

  #routerContext(identity: Identity): ConstructorParameters<typeof Router>[0] {
    return {
      identity,
      self: this.info,
      config: this.config,
      clock: this.#deps.clock,
      random: this.#deps.random,
      log: this.#deps.logger,
      signatures: this.#deps.signatures,
      dataPeers: () => (this.#lifecycle.state === 'running' ? this.#lifecycle.peerTable.dataPeers() : []),
      send: (peerId, out) => this.#sendData(peerId, out),
      deliver: (message) => this.emit('message', message),
      receipt: (event) => this.emit('receipt', event),
      receiptMissing: (event) => this.emit('receipt:missing', event),
      punish: (peerId, reason, problem) => {
        this.#count('punished');
        const banReason = problem === 'badSignature' ? 'bad-signature' : 'invalid-routed';
        this.#connections.refusePeer(peerId, banReason, reason);
      },
      ...(this.#deps.observe ? { observe: this.#deps.observe } : {}),
    };
  }

  #onPeerUp(peer: NodeInfo): void {
    this.#connections.claim(peer.id);
    this.#log.info({ peer: peer.id, name: peer.name }, 'peer up');
    this.emit('peer:up', describeNode(peer));
    if (this.#lifecycle.state === 'running') this.#lifecycle.router.onPeerUp(peer.id);
  }

  /**
   * What the router sends: the peer table's way to a data peer, else the peer's link, which writes
   * the envelope's bytes as they are (encoded once for all the peers a copy goes to).
   */
  #sendData(peerId: string, out: OutgoingEnvelope): boolean {
    if (this.#lifecycle.state !== 'running') return false;
    const { peerTable } = this.#lifecycle;
    return peerTable.sendData
      ? peerTable.sendData(peerId, out.envelope)
      : this.#connections.send(peerId, out.envelope, out);
  }

  #onPeerDown(peer: NodeInfo, reason: PeerDownReason): void {
    this.#log.info({ peer: peer.id, reason }, 'peer down');
    if (this.#lifecycle.state !== 'running') return void this.emit('peer:down', { id: peer.id, reason });
    this.#lifecycle.inbound.notePeerDown(peer.id);
    this.emit('peer:down', { id: peer.id, reason });
    this.#lifecycle.router.onPeerDown(peer.id);
    this.#connections.release(peer.id);
  }
}
