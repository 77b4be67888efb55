/**
 * A node of the overlay: it owns the listener, the links and the node's lifecycle, and wires
 * the peer table (who we are connected to) and the router (what travels) together. It never
 * decides membership or forwarding itself.
 *
 * Dependencies are injected (transport, clock, random source, logger) with real defaults, so
 * the lab runs this same class over TCP, child processes, or memory under a simulated clock.
 */
import { EventEmitter } from 'node:events';
import { formatAddress, isWildcardHost, resolveConfig, type Address, type NodeConfig } from './config.js';
import { describeNode, type Identity } from './crypto/identity.js';
import { loadOrCreateIdentity } from './crypto/identity-store.js';
import { networkKeyOf } from './crypto/handshake.js';
import { KeyCachingChecker, type SignatureChecker } from './crypto/signatures.js';
import { sealedLinks, type LinkSecurity } from './link/link-security.js';
import { Admission } from './link/admission.js';
import { DialBackoff } from './link/dial-backoff.js';
import { LinkBudgets, exchangeEntries, type BudgetName } from './link/link-budget.js';
import { Link, type Refusal } from './link/link.js';
import type { DataPeer } from './membership/legacy-strategy.js';
import type {
  LinkCloseReason,
  LinkUp,
  MembershipContext,
  MembershipFactory,
  MembershipMessage,
  MembershipStrategy,
  PeerDownReason,
  Views,
} from './membership/strategy.js';
import { createPeerTable, isMembershipMessage } from './peer-table.js';
import type { Envelope, ErrorCodeName, IdList, Message, NodeInfo } from './proto/messages.js';
import {
  Router,
  type DeliveredMessage,
  type ReceiptEvent,
  type RouterObservation,
  type RoutedProblem,
} from './router.js';
import { TcpTransport } from './transport/tcp.js';
import type { Connection, Listener, Transport } from './transport/transport.js';
import { Timer, systemClock, type Clock, type Scheduled } from './utils/clock.js';
import { KeyedRate } from './utils/keyed-rate.js';
import { silentLogger, type Logger } from './utils/logger.js';
import { cryptoRandom, type Random } from './utils/random.js';

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

export interface PeerSummary {
  id: string;
  name: string;
  host: string;
  port: number;
}

export interface SentEvent {
  id: string;
  to: string | null;
  room: string | null;
  text: string;
}

/** Typed events. Listeners run synchronously on the node's event loop and must not block. */
export interface NodeEvents {
  ready: [PeerSummary];
  'peer:up': [PeerSummary];
  'peer:down': [{ id: string; reason: PeerDownReason }];
  message: [DeliveredMessage];
  sent: [SentEvent];
  receipt: [ReceiptEvent];
  'receipt:missing': [{ messageId: string; to: string }];
}

/**
 * Codes after which a peer is refused for `banMs`: it sent bytes no honest implementation
 * sends. Not LIMIT: that code also reports our own refusals and a peer that reads slowly.
 */
const BANNABLE: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>(['FRAME', 'DECODE']);

/**
 * Addresses whose dial budget is remembered. An attacker who names more distinct addresses to
 * push one out of the LRU pays for it with dials to each (bounded by maxPendingDials), and the
 * forgotten one gets only a fresh burst back.
 */
const DIAL_ADDRESSES_REMEMBERED = 4096;

/** Envelopes held for a peer while the winner of a duplicate contest completes its handshake. */
const MAX_QUEUED_FOR_WINNER = 1024;

interface AwaitedWinner {
  reason: LinkCloseReason;
  timer: Scheduled;
  queued: Envelope[];
}

interface Running {
  state: 'running';
  listener: Listener;
  peerTable: MembershipStrategy;
  router: Router;
}

type Lifecycle =
  { state: 'new' } | { state: 'starting' } | Running | { state: 'stopping' } | { state: 'stopped' };

export class Node extends EventEmitter<NodeEvents> {
  readonly config: NodeConfig;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #random: Random;
  /** The injected logger; each component takes its own child of it. */
  readonly #rootLog: Logger;
  readonly #log: Logger;
  readonly #observe: ((event: RouterObservation) => void) | undefined;
  readonly #signatures: SignatureChecker;
  readonly #linkSecurity: LinkSecurity;
  readonly #membership: MembershipFactory | undefined;
  #identity: Identity | undefined;
  #self: NodeInfo | undefined;
  #lifecycle: Lifecycle = { state: 'new' };
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #admission: Admission;
  readonly #networkKey: Uint8Array;
  /** Every link, handshaking or open. */
  readonly #links = new Set<Link>();
  /** The authoritative open link per peer id. */
  readonly #byPeer = new Map<string, Link>();
  /** Dials in flight by address, so two callers share one dial. */
  readonly #dials = new Map<string, Promise<Link | undefined>>();
  /** Resolves the dial waiting on a link's handshake. */
  readonly #waiting = new Map<Link, (link: Link | undefined) => void>();
  /** Links handed to the peer table: only their closes concern it. */
  readonly #announced = new WeakSet<Link>();
  /** Links that lost a duplicate contest: their close is not a failure. */
  readonly #replaced = new WeakSet<Link>();
  /** Closes links that are not in a data view after `shortLivedIdleMs` without traffic. */
  readonly #idleTimers = new Map<Link, Timer>();
  /** When each link outside the data views became short-lived, for its absolute lifetime. */
  readonly #shortLivedSince = new WeakMap<Link, number>();
  /** Per-link budgets: peer-exchange entries, Routed frames. */
  readonly #budgets: LinkBudgets;
  readonly #dialBackoff: DialBackoff;
  /** New connections per target address, whoever asked for them. */
  readonly #dialsPerAddress: KeyedRate;
  /**
   * Peers that left the active view within the last `linkDrainMs`, with when that was: a Routed
   * they sent before they learned of it may still arrive on the draining link, and is kept.
   */
  readonly #formerNeighbours = new Map<string, number>();
  readonly #counters = new Map<string, number>();
  /**
   * Peers whose link the peer closed as the loser of a duplicate contest while our side of the
   * winning connection was still in its handshake: the winner replaces the link when it is
   * ready; only if it never comes is the link reported down.
   */
  readonly #awaitingWinner = new Map<string, AwaitedWinner>();

  constructor(config: Partial<NodeConfig> = {}, deps: NodeDependencies = {}) {
    super();
    this.config = resolveConfig(config);
    this.#transport = deps.transport ?? new TcpTransport();
    this.#clock = deps.clock ?? systemClock;
    this.#random = deps.random ?? cryptoRandom;
    this.#rootLog = deps.logger ?? silentLogger();
    this.#log = this.#rootLog.child({ component: 'node' });
    this.#identity = deps.identity;
    this.#observe = deps.observe;
    this.#signatures = deps.signatures ?? new KeyCachingChecker();
    this.#linkSecurity = deps.linkSecurity ?? sealedLinks;
    this.#membership = deps.membership;
    this.#admission = new Admission(this.config, this.#clock);
    this.#budgets = new LinkBudgets(this.#clock, this.config);
    this.#dialBackoff = new DialBackoff({
      clock: this.#clock,
      random: this.#random,
      baseMs: this.config.retryBaseBackoffMs,
      maxMs: this.config.retryMaxBackoffMs,
    });
    this.#networkKey = networkKeyOf(this.config.networkKey);
    this.#dialsPerAddress = new KeyedRate(
      this.#clock,
      this.config.dialsPerAddressPerMinute / 60,
      this.config.dialsPerAddressBurst,
      DIAL_ADDRESSES_REMEMBERED,
    );
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
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      const lifecycle = this.#lifecycle;
      if (lifecycle.state === 'running') {
        this.#lifecycle = { state: 'stopping' };
        await this.#stop(lifecycle);
      }
      this.#lifecycle = { state: 'stopped' };
    })();
    return this.#stopping;
  }

  /**
   * Dies at once, as if the process were killed: every socket is cut, no Leave is sent.
   * For tests and the lab's failure scenarios.
   */
  crash(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      const lifecycle = this.#lifecycle;
      this.#lifecycle = { state: 'stopped' };
      this.#dialBackoff.stop();
      for (const link of this.#links) link.connection.destroy();
      if (lifecycle.state !== 'running') return;
      lifecycle.peerTable.stop();
      lifecycle.router.stop();
      for (const timer of this.#idleTimers.values()) timer.stop();
      this.#idleTimers.clear();
      await lifecycle.listener.close();
    })();
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
    out['node.connections'] = this.#links.size;
    out['node.bans'] = this.#admission.banCount;
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
    const identity = this.#identity ?? (await loadOrCreateIdentity(this.config.dataDir, this.#random));
    this.#identity = identity;
    const listener = await this.#transport.listen({ host: this.config.host, port: this.config.port }, (c) =>
      this.#onInbound(c),
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
    const peerTable = this.#membership ? this.#membership(context) : createPeerTable(context);
    const router = new Router(this.#routerContext(identity));
    this.#lifecycle = { state: 'running', listener, peerTable, router };
    this.emit('ready', describeNode(this.#self));
    peerTable.start(this.config.seeds);
  }

  async #stop({ listener, peerTable, router }: Running): Promise<void> {
    this.#dialBackoff.stop();
    peerTable.stop();
    router.stop();
    for (const timer of this.#idleTimers.values()) timer.stop();
    this.#idleTimers.clear();
    const links = [...this.#links];
    for (const link of links) link.close();
    // Leave frames are queued; give the sockets a moment to flush before cutting them.
    await Promise.race([
      Promise.all(links.map((link) => link.disconnected)),
      new Promise<void>((resolve) => this.#clock.schedule(1000, resolve)),
    ]);
    for (const link of links) link.connection.destroy();
    await listener.close();
    this.#log.info('node stopped');
  }

  #membershipContext(): MembershipContext {
    return {
      self: this.info,
      config: this.config,
      clock: this.#clock,
      random: this.#random,
      log: this.#rootLog,
      send: (peerId, envelope) => this.#sendTo(peerId, envelope),
      dial: (address) => void this.#dialFor(address),
      disconnect: (peerId, code, reason) => {
        if (this.#awaitingWinner.has(peerId)) this.#giveUpWinner(peerId);
        this.#byPeer.get(peerId)?.close(code, reason);
      },
      isLinked: (peerId) => (this.#byPeer.get(peerId)?.isOpen ?? false) || this.#awaitingWinner.has(peerId),
      peerUp: (peer) => this.#onPeerUp(peer),
      peerDown: (peer, reason) => this.#onPeerDown(peer, reason),
      countDrop: (reason) => this.#count(`drop.${reason}`),
    };
  }

  /** Dials for the peer table and hands it the outcome, never during its own call. */
  async #dialFor(address: Address): Promise<void> {
    const link = await this.#connect(address);
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
      clock: this.#clock,
      random: this.#random,
      log: this.#rootLog,
      signatures: this.#signatures,
      dataPeers: (): DataPeer[] => this.#dataPeers(),
      deliver: (message) => this.emit('message', message),
      receipt: (event) => this.emit('receipt', event),
      receiptMissing: (event) => this.emit('receipt:missing', event),
      punish: (peerId, reason, problem) => this.#punish(peerId, reason, problem),
      ...(this.#observe ? { observe: this.#observe } : {}),
    };
  }

  #dataPeers(): DataPeer[] {
    if (this.#lifecycle.state !== 'running') return [];
    return this.#lifecycle.peerTable.dataPeers().map((id) => this.#dataPeer(id));
  }

  #onPeerUp(peer: NodeInfo): void {
    const link = this.#byPeer.get(peer.id);
    if (link) {
      this.#idleTimers.get(link)?.stop();
      this.#shortLivedSince.delete(link);
    }
    this.#log.info({ peer: peer.id, name: peer.name }, 'peer up');
    this.emit('peer:up', describeNode(peer));
    if (this.#lifecycle.state === 'running') this.#lifecycle.router.onPeerUp(this.#dataPeer(peer.id));
  }

  /** What the router sends to: the peer table's way to a data peer. */
  #dataPeer(peerId: string): DataPeer {
    return {
      id: peerId,
      send: (envelope) => {
        if (this.#lifecycle.state !== 'running') return false;
        const { peerTable } = this.#lifecycle;
        return peerTable.sendData ? peerTable.sendData(peerId, envelope) : this.#sendTo(peerId, envelope);
      },
    };
  }

  #onPeerDown(peer: NodeInfo, reason: PeerDownReason): void {
    this.#log.info({ peer: peer.id, reason }, 'peer down');
    this.#rememberFormerNeighbour(peer.id);
    this.emit('peer:down', { id: peer.id, reason });
    if (this.#lifecycle.state === 'running') this.#lifecycle.router.onPeerDown(peer.id);
    const link = this.#byPeer.get(peer.id);
    if (link && this.#lifecycle.state === 'running' && !this.#lifecycle.peerTable.isDataPeer(peer.id)) {
      this.#armIdle(link);
    }
  }

  /** Bounded by the peers that can go down within `linkDrainMs`: older entries are swept here. */
  #rememberFormerNeighbour(peerId: string): void {
    const now = this.#clock.now();
    for (const [id, at] of this.#formerNeighbours) {
      if (now - at < this.config.linkDrainMs) break; // insertion order is time order
      this.#formerNeighbours.delete(id);
    }
    this.#formerNeighbours.delete(peerId);
    this.#formerNeighbours.set(peerId, now);
  }

  #wasRecentNeighbour(peerId: string): boolean {
    const at = this.#formerNeighbours.get(peerId);
    return at !== undefined && this.#clock.now() - at <= this.config.linkDrainMs;
  }

  /** A neighbour relayed a message no honest relay forwards (ROUTED_RULES): disconnect and refuse it. */
  #punish(peerId: string, reason: string, problem: RoutedProblem): void {
    const link = this.#byPeer.get(peerId);
    this.#count('punished');
    this.#ban(problem === 'badSignature' ? 'bad-signature' : 'invalid-routed', peerId, link);
    link?.close('LIMIT', reason);
  }

  /**
   * Refuses a misbehaving peer for `banMs` by its id and, when it plausibly is its own, by its
   * announced address; counted as `ban.<reason>`. An announced address is only a claim: it is
   * banned only when the peer connected from that host, or one misbehaving connection that
   * announced an honest node's address would get that node refused and never dialled.
   */
  #ban(reason: string, peerId: string, link: Link | undefined): void {
    this.#count(`ban.${reason}`);
    const peer = link?.claimedPeer;
    let address: Address | undefined;
    if (link && peer && peer.port !== 0) {
      const announced = this.#resolvedAddress(link, peer);
      if (announced.host === link.connection.remote.host) address = announced;
    }
    this.#admission.ban(peerId, address);
  }

  #onInbound(connection: Connection): void {
    const refusal =
      this.#lifecycle.state === 'running'
        ? this.#admission.refuseInbound(connection.remote.host)
        : 'not-running';
    if (refusal) {
      this.#count(`refused.${refusal}`);
      this.#log.debug({ remote: formatAddress(connection.remote), refusal }, 'inbound connection refused');
      connection.attach({ onData: () => undefined, onClose: () => undefined });
      connection.destroy();
      return;
    }
    this.#addLink(connection, 'listener');
  }

  #addLink(connection: Connection, role: 'dialer' | 'listener'): Link {
    const host = connection.remote.host;
    const direction = role === 'dialer' ? 'outbound' : 'inbound';
    this.#admission.opened(host, direction);
    const link = new Link({
      connection,
      role,
      identity: this.#identity as Identity,
      self: this.info,
      networkKey: this.#networkKey,
      config: this.config,
      clock: this.#clock,
      random: this.#random,
      log: this.#rootLog.child({ component: 'link' }),
      signatures: this.#signatures,
      security: this.#linkSecurity,
      events: {
        admit: (l, peer) => this.#admit(l, peer),
        ready: (l) => this.#onReady(l),
        message: (l, message) => this.#onMessage(l, message),
        closed: (l, reason, detail, code) => this.#onClosed(l, reason, detail, code),
      },
    });
    this.#links.add(link);
    // The slot is held until the socket is gone, not merely closed by us: a refused peer that
    // keeps its socket open still counts against the limits until the link cuts it.
    void link.disconnected.then(() => this.#admission.closed(host, direction));
    return link;
  }

  /** Resolves the dial to `address` to the authoritative link, or undefined on any failure. */
  #connect(address: Address): Promise<Link | undefined> {
    const key = formatAddress(address);
    const existing = this.#dials.get(key);
    if (existing) return existing;
    const refusal = this.#dialRefusal(address);
    if (refusal) {
      this.#count(`dial.${refusal}`);
      return Promise.resolve(undefined);
    }
    const dial = this.#dial(address).finally(() => this.#dials.delete(key));
    this.#dials.set(key, dial);
    return dial;
  }

  #dialRefusal(address: Address): string | undefined {
    if (this.#lifecycle.state !== 'running') return 'not-running';
    if (address.port === 0) return 'bad-port';
    if (address.host === this.info.host && address.port === this.info.port) return 'self';
    if (this.#admission.isAddressBanned(address)) return 'banned';
    if (this.#dials.size >= this.config.maxPendingDials) return 'too-many-pending';
    if (!this.#admission.mayDial()) return 'max-connections';
    return undefined;
  }

  /** Dials after the address's backoff, if any, and keeps the outcome for the next dial's backoff. */
  async #dial(address: Address): Promise<Link | undefined> {
    const key = formatAddress(address);
    if (!this.#openLinkAt(address) && this.#dialBackoff.waitMs(key) > 0) {
      this.#count('dial.backoff');
      if (!(await this.#dialBackoff.wait(key))) return undefined;
    }
    const link = await this.#dialOnce(address);
    // A dial that reached a node (its Auth verified) costs nothing from the per-address budget:
    // the budget is for addresses that do not answer as nodes, the third parties to protect.
    if (link) this.#dialsPerAddress.refund(key);
    if (link) this.#dialBackoff.succeeded(key);
    else if (this.#lifecycle.state === 'running') this.#dialBackoff.failed(key);
    return link;
  }

  #openLinkAt(address: Address): Link | undefined {
    const open = [...this.#byPeer.values()].find(
      (l) => l.peer.host === address.host && l.peer.port === address.port,
    );
    return open?.isOpen ? open : undefined;
  }

  async #dialOnce(address: Address): Promise<Link | undefined> {
    const open = this.#openLinkAt(address);
    if (open) return open;
    // Charged here, at the transport dial: a dial shared or answered by an open link costs nothing.
    if (!this.#dialsPerAddress.tryTake(formatAddress(address))) {
      this.#count('dial.address-rate');
      return undefined;
    }
    let connection: Connection;
    try {
      connection = await this.#transport.dial(address, this.config.dialTimeoutMs);
    } catch (err) {
      this.#count('dial.failed');
      this.#log.debug({ address: formatAddress(address), err: (err as Error).message }, 'dial failed');
      return undefined;
    }
    if (this.#lifecycle.state !== 'running') {
      connection.attach({ onData: () => undefined, onClose: () => undefined });
      connection.destroy();
      return undefined;
    }
    const link = this.#addLink(connection, 'dialer');
    return new Promise((resolve) => this.#waiting.set(link, resolve));
  }

  #admit(link: Link, peer: NodeInfo): Refusal | undefined {
    if (peer.id === this.#identity?.id) return { code: 'DUPLICATE_CONNECTION', reason: 'connection to self' };
    const isBanned =
      this.#admission.isIdBanned(peer.id) ||
      (peer.port !== 0 && this.#admission.isAddressBanned(this.#resolvedAddress(link, peer)));
    if (!isBanned) return undefined;
    this.#count('refused.banned');
    return { code: 'LIMIT', reason: 'banned for misbehaviour' };
  }

  /**
   * A wildcard announce address is replaced by the address the peer connected from. A node on
   * `0.0.0.0` accepts IPv4 only: seen over IPv6, its address is unknown, so it counts as not
   * listening (port 0) and is never gossiped nor dialled; its link works all the same.
   */
  #resolvedAddress(link: Link, peer: NodeInfo): Address {
    if (!isWildcardHost(peer.host)) return { host: peer.host, port: peer.port };
    const remote = link.connection.remote.host;
    const isUnreachableFamily = peer.host === '0.0.0.0' && remote.includes(':');
    return { host: remote, port: isUnreachableFamily ? 0 : peer.port };
  }

  /**
   * Gossip carries a node's own NodeInfo as it announces it, wildcard included: the entry of the
   * sender itself gets the address its link resolved, so no wildcard travels further.
   */
  #resolveOwnEntries(link: Link, message: MembershipMessage): void {
    for (const info of nodeInfosIn(message)) {
      if (info && info.id === link.id && isWildcardHost(info.host)) {
        info.host = link.peer.host;
        info.port = link.peer.port;
      }
    }
  }

  #onReady(link: Link): void {
    const peer = link.peer;
    const resolved = this.#resolvedAddress(link, peer);
    peer.host = resolved.host;
    peer.port = resolved.port;
    const winner = this.#settleDuplicate(link);
    this.#waiting.get(link)?.(winner);
    this.#waiting.delete(link);
  }

  /**
   * Registers a link that completed its handshake and hands it to the peer table.
   * docs/protocol.md section 3: if two connections to one peer complete, the newer wins when both
   * were dialled by the same node, else the one dialled by the node with the smaller id; the loser
   * closes with DUPLICATE_CONNECTION and the winner takes its place in the views.
   */
  #settleDuplicate(link: Link): Link {
    if (this.#lifecycle.state !== 'running') {
      link.close();
      return link;
    }
    const { peerTable } = this.#lifecycle;
    const existing = this.#byPeer.get(link.id);
    if (!existing || existing.isClosed) {
      const awaited = this.#awaitingWinner.get(link.id);
      awaited?.timer.cancel();
      this.#awaitingWinner.delete(link.id);
      this.#byPeer.set(link.id, link);
      this.#announced.add(link);
      for (const envelope of awaited?.queued ?? []) link.send(envelope);
      peerTable.onLinkUp(linkUp(link, awaited !== undefined));
      if (!peerTable.isDataPeer(link.id)) this.#armIdle(link);
      return link;
    }
    const ownId = this.info.id;
    const dialerOf = (l: Link): string => (l.role === 'dialer' ? ownId : l.id);
    const newWins = existing.role === link.role || dialerOf(link) < dialerOf(existing);
    this.#count('duplicates');
    if (!newWins) {
      this.#replaced.add(link);
      link.close('DUPLICATE_CONNECTION', 'a preferred connection to this peer exists');
      return existing;
    }
    this.#replaced.add(existing);
    this.#byPeer.set(link.id, link);
    this.#announced.add(link);
    peerTable.onLinkUp(linkUp(link, true));
    if (!peerTable.isDataPeer(link.id)) this.#armIdle(link);
    existing.close('DUPLICATE_CONNECTION', 'a newer or preferred connection to this peer exists');
    return link;
  }

  /**
   * Short-lived connections close after `shortLivedIdleMs` without traffic (section 4), and in
   * any case `shortLivedMaxMs` after they opened.
   */
  #armIdle(link: Link): void {
    let timer = this.#idleTimers.get(link);
    if (!timer) {
      timer = new Timer(this.#clock, () => {
        this.#idleTimers.delete(link);
        if (this.#lifecycle.state === 'running' && !this.#isDataLink(link)) link.close();
      });
      this.#idleTimers.set(link, timer);
    }
    // Idle time restarts with every message, the absolute lifetime does not.
    const now = this.#clock.now();
    const since = this.#shortLivedSince.get(link) ?? now;
    this.#shortLivedSince.set(link, since);
    const lifeLeftMs = this.config.shortLivedMaxMs - (now - since);
    timer.start(Math.max(0, Math.min(this.config.shortLivedIdleMs, lifeLeftMs)));
  }

  #onMessage(link: Link, message: Message): void {
    if (this.#lifecycle.state !== 'running') return;
    if (link.isClosed) return this.#onDrainedMessage(link, message);
    const { peerTable, router } = this.#lifecycle;
    const isData = this.#isDataLink(link);
    if (!isData) this.#armIdle(link);
    if (isMembershipMessage(message)) {
      if (!this.#isWithinBudget(link, 'exchange', exchangeEntries(message))) return;
      this.#resolveOwnEntries(link, message);
      return peerTable.onMessage(link.id, message);
    }
    if (!isData) {
      this.#count(`drop.${message.kind}-from-non-neighbour`);
      return link.close('PROTOCOL', `${message.kind} from a connection outside the active view`);
    }
    switch (message.kind) {
      case 'routed':
        if (!this.#isWithinBudget(link, 'routed', 1)) return;
        return router.onRouted(link, message.body);
      case 'ihave':
      case 'graft':
        return this.#onIdList(link, message.kind, message.body);
      case 'prune':
        return router.onControl(link, 'prune', {});
      default:
        link.close('PROTOCOL', `unexpected ${message.kind}`);
    }
  }

  /**
   * An envelope the peer sent before it saw our close. On a link that lost a duplicate contest it
   * is handled as if it came on the winner, the same authenticated peer. A Routed from a peer
   * that was a neighbour until just now is kept (its sender counted on it arriving); everything
   * else is moot and dropped quietly.
   */
  #onDrainedMessage(link: Link, message: Message): void {
    const current = this.#byPeer.get(link.id);
    if (current && current !== link && current.isOpen) return this.#onMessage(current, message);
    if (
      message.kind !== 'routed' ||
      !this.#wasRecentNeighbour(link.id) ||
      this.#lifecycle.state !== 'running'
    ) {
      return this.#count(`drop.${message.kind}-after-close`);
    }
    if (!this.#isWithinBudget(link, 'routed', 1)) return;
    this.#count('drainedRouted');
    this.#lifecycle.router.onRouted(link, message.body);
  }

  /**
   * Charges `units` to one of the link's budgets (before any strategy sees the message, so that
   * every strategy gets the same limit). Over the rate: dropped and counted; flooding: closed
   * with LIMIT and banned. True when the message may be handled.
   */
  #isWithinBudget(link: Link, name: BudgetName, units: number): boolean {
    const verdict = this.#budgets.charge(link, name, units);
    if (verdict === 'accept') return true;
    this.#count(`drop.${name}-rate`);
    if (verdict === 'close') {
      const { perSecond, what } = this.#budgets.limits(name);
      this.#ban(`${name}-rate`, link.id, link);
      link.close('LIMIT', `${what} far over ${perSecond} per second`);
    }
    return false;
  }

  #onIdList(link: Link, kind: 'ihave' | 'graft', list: IdList): void {
    if (
      list.ids.length > this.config.maxIdsPerMessage ||
      list.origins.length > this.config.maxIdsPerMessage
    ) {
      this.#count(`drop.${kind}-over-limit`);
      this.#ban('id-list-limit', link.id, link);
      return link.close('LIMIT', `${kind} with more than ${this.config.maxIdsPerMessage} ids`);
    }
    if (kind === 'graft' && !this.#isWithinBudget(link, 'graft', list.ids.length)) return;
    if (this.#lifecycle.state === 'running') this.#lifecycle.router.onControl(link, kind, list);
  }

  #onClosed(link: Link, reason: LinkCloseReason, detail: string, code?: ErrorCodeName): void {
    this.#links.delete(link);
    this.#idleTimers.get(link)?.stop();
    this.#idleTimers.delete(link);
    this.#waiting.get(link)?.(undefined);
    this.#waiting.delete(link);
    if (code) this.#count(`drop.${code}`);
    // Only a proven id is banned: before its Auth verified, a Hello may claim any honest node's
    // NodeInfo, and a ban on that claim would let anyone get honest nodes refused.
    if (code && BANNABLE.has(code) && link.isAuthenticated && reason === 'error')
      this.#ban(code, link.id, link);
    if (!this.#announced.has(link)) return;
    if (this.#byPeer.get(link.id) === link) this.#byPeer.delete(link.id);
    if (this.#replaced.has(link) || this.#lifecycle.state !== 'running') return;
    if (link.peerErrorCode === 'DUPLICATE_CONNECTION') return this.#awaitWinner(link.id, reason);
    this.#log.debug({ peer: link.id, reason, detail }, 'link to peer closed');
    this.#lifecycle.peerTable.onLinkDown(link.id, reason);
  }

  /**
   * The peer closed our link as the loser of a duplicate contest: it settled on another
   * connection to us whose handshake has not completed on our side yet (docs/protocol.md section
   * 3). That one takes the link's place when ready; the link is reported down only if it never is.
   */
  #awaitWinner(peerId: string, reason: LinkCloseReason): void {
    this.#awaitingWinner.get(peerId)?.timer.cancel();
    const timer = this.#clock.schedule(this.config.handshakeTimeoutMs, () => this.#giveUpWinner(peerId));
    this.#awaitingWinner.set(peerId, { reason, timer, queued: [] });
  }

  #giveUpWinner(peerId: string): void {
    const awaited = this.#awaitingWinner.get(peerId);
    if (!awaited) return;
    awaited.timer.cancel();
    this.#awaitingWinner.delete(peerId);
    this.#count('drop.awaiting-winner', awaited.queued.length);
    if (this.#lifecycle.state === 'running') this.#lifecycle.peerTable.onLinkDown(peerId, awaited.reason);
  }

  /**
   * Sends on the peer's link; while the winner of a duplicate contest completes its handshake,
   * queues (at most MAX_QUEUED_FOR_WINNER envelopes, then drops and counts) for it.
   */
  #sendTo(peerId: string, envelope: Envelope): boolean {
    const link = this.#byPeer.get(peerId);
    if (link) return link.send(envelope);
    const awaited = this.#awaitingWinner.get(peerId);
    if (!awaited) return false;
    if (awaited.queued.length >= MAX_QUEUED_FOR_WINNER) {
      this.#count('drop.awaiting-winner');
      return false;
    }
    awaited.queued.push(envelope);
    return true;
  }

  /** Whether `link` is the peer's link and the peer table lets it carry data. */
  #isDataLink(link: Link): boolean {
    return (
      this.#lifecycle.state === 'running' &&
      this.#byPeer.get(link.id) === link &&
      this.#lifecycle.peerTable.isDataPeer(link.id)
    );
  }
}

function linkUp(link: Link, replaces: boolean): LinkUp {
  return { peer: link.peer, role: link.role, remoteHost: link.connection.remote.host, replaces };
}

/** The NodeInfos a membership message carries, where the sender's own entry may be. */
function nodeInfosIn(message: MembershipMessage): Array<NodeInfo | null | undefined> {
  switch (message.kind) {
    case 'shuffle':
      return [message.body.origin, ...message.body.entries.map((entry) => entry.node)];
    case 'shuffleReply':
      return message.body.entries.map((entry) => entry.node);
    case 'forwardJoin':
      return [message.body.node];
    default:
      return [];
  }
}
