/**
 * A discrete-event simulation of many nodes that drives the protocol core directly: the same
 * membership state machines the node runs, fed the same validated message objects, with no
 * socket, no handshake, no codec and no crypto. One `SimClock` orders every event.
 *
 * What it keeps of the node (link/connections.ts), and how it simplifies:
 * - a dial takes one round trip, then the link is up at both ends (listener first), then the
 *   dialler hears `onDialed`; a dial to an address where no live node listens fails after one
 *   round trip; a dial to a peer already linked is answered by that link;
 * - one link per pair of nodes: a second dial between them shares the first, so the duplicate
 *   contests of docs/protocol.md section 3 never arise (the memory transport, with the whole
 *   node, is the reference for those);
 * - messages keep their order per direction, each with a latency drawn from the network model
 *   (network.ts); a closed
 *   link delivers what was sent before the close, then reports the close to the other end;
 * - a link that carries no data at one end is short-lived there, by the node's own rule
 *   (link/short-lived.ts);
 * - a membership message passes the node's own checks (link/membership-rules.ts) first;
 * - a node killed without Leave: its peers see its links close after the detection delay.
 */
import { formatAddress, resolveConfig, type Address, type NodeConfig } from '../config.js';
import type { Identity } from '../crypto/identity.js';
import { uncheckedSignatures } from '../crypto/signatures.js';
import { INVALID_ENTRY_COUNTER, MEMBERSHIP_RULES, checkMembershipMessage } from '../link/membership-rules.js';
import { FormerNeighbours } from '../link/former-neighbours.js';
import { ShortLived } from '../link/short-lived.js';
import { isMembershipMessage } from '../peer-table.js';
import type {
  LinkCloseReason,
  MembershipContext,
  MembershipFactory,
  MembershipStrategy,
  PeerDownReason,
} from '../membership/strategy.js';
import {
  messageOf,
  type Envelope,
  type ErrorCodeName,
  type Message,
  type NodeInfo,
} from '../proto/messages.js';
import { readEachObjectOnce } from '../proto/payload-reader.js';
import { Router, type DeliveredMessage, type ReceiptEvent, type RouterObservation } from '../router.js';
import { silentLogger, type Logger } from '../utils/logger.js';
import { seededRandom, type Random } from '../utils/random.js';
import { SimClock } from '../utils/sim-clock.js';
import { uniformNetwork, type NetworkModel } from './network.js';

/** The purposes that each get their own seeded random stream (see `streamSeed`). */
export type RandomPurpose = 'membership' | 'broadcast' | 'traffic' | 'failures' | 'network';

const PURPOSES: readonly RandomPurpose[] = ['membership', 'broadcast', 'traffic', 'failures', 'network'];

/** The seed of one stream: a run's seed, a purpose, and (for per-node streams) a node's index. */
export function streamSeed(seed: number, purpose: RandomPurpose, index = 0): number {
  return (
    (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(PURPOSES.indexOf(purpose) + 1, 0x85ebca6b) ^ index) >>> 0
  );
}

export interface SimulationOptions {
  seed: number;
  /** The clock every event is ordered by; a lab run passes its driver's. Default: a new one. */
  clock?: SimClock;
  config?: Partial<NodeConfig>;
  network?: NetworkModel;
  logger?: Logger;
  /** A message delivered to a node (a broadcast of a joined room, a direct Text to it). */
  onDeliver?: (node: SimNode, message: DeliveredMessage) => void;
  /** The router's measurement hook, as the lab's `observe`. */
  onObserve?: (node: SimNode, event: RouterObservation) => void;
  /** A Receipt for one of the node's direct Texts came back. */
  onReceipt?: (node: SimNode, event: ReceiptEvent) => void;
}

/** What a simulated node is: its identity and where it listens. */
export interface SimNodeInfo {
  identity: Identity;
  name: string;
  host: string;
  port: number;
}

export interface PeerEvent {
  atMs: number;
  node: string;
  peer: string;
  up: boolean;
  reason?: PeerDownReason;
}

/** One end of a link: what one node knows of it. */
interface LinkEnd {
  readonly peer: SimNode;
  readonly role: 'dialer' | 'listener';
  /** This end's latency toward the peer. */
  readonly latencyMs: number;
  /** When the last message this end sent arrives, for FIFO order. */
  lastArrivalMs: number;
  isOpen: boolean;
  readonly idle: ShortLived;
}

export class SimNode {
  readonly info: NodeInfo;
  readonly links = new Map<string, LinkEnd>();
  readonly strategy: MembershipStrategy;
  readonly router: Router;
  isAlive = true;
  /**
   * Peers that left the data set lately: a Routed they sent before they knew is still taken, as
   * the node takes it from a draining link (link/inbound.ts).
   */
  readonly formerNeighbours: FormerNeighbours;
  /** Dials in flight, by address key: how many callers wait on each. */
  readonly dials = new Map<string, number>();
  readonly drops = new Map<string, number>();

  constructor(
    node: SimNodeInfo,
    readonly index: number,
    readonly sim: Simulation,
    factory: MembershipFactory,
    streams: { membership: Random; broadcast: Random },
  ) {
    const { identity, name, host, port } = node;
    const info: NodeInfo = { id: identity.id, name, host, port, publicKey: identity.publicKey };
    this.info = info;
    const context: MembershipContext = {
      self: info,
      config: sim.config,
      clock: sim.clock,
      random: streams.membership,
      log: sim.logger,
      send: (peerId, envelope) => sim.send(this, peerId, envelope),
      dial: (address) => sim.dial(this, address),
      disconnect: (peerId, code) => sim.disconnect(this, peerId, code),
      isLinked: (peerId) => this.links.get(peerId)?.isOpen ?? false,
      peerUp: (peer) => sim.onPeerUp(this, peer),
      peerDown: (peer, reason) => sim.onPeerDown(this, peer, reason),
      countDrop: (reason) => this.count(reason),
    };
    this.strategy = factory(context);
    this.formerNeighbours = new FormerNeighbours(sim.clock, sim.config.linkDrainMs);
    this.router = new Router({
      identity,
      self: info,
      config: sim.config,
      clock: sim.clock,
      random: streams.broadcast,
      log: sim.logger,
      signatures: uncheckedSignatures,
      payloads: sim.payloads,
      dataPeers: () => (this.isAlive ? this.strategy.dataPeers() : []),
      send: (peerId, out) =>
        this.strategy.sendData
          ? this.strategy.sendData(peerId, out.envelope)
          : sim.send(this, peerId, out.envelope),
      deliver: (message) => sim.onDeliver(this, message),
      receipt: (event) => sim.onReceipt(this, event),
      receiptMissing: () => undefined,
      punish: (peerId) => sim.disconnect(this, peerId, 'LIMIT'),
      observe: (event) => sim.onObserve(this, event),
    });
  }

  get id(): string {
    return this.info.id;
  }

  get address(): Address {
    return { host: this.info.host, port: this.info.port };
  }

  count(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}

export class Simulation {
  readonly clock: SimClock;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly nodes: SimNode[] = [];
  readonly peerEvents: PeerEvent[] = [];
  /** Every copy of a message shares its bytes here: each is decoded and digested once. */
  readonly payloads = readEachObjectOnce();
  readonly #seed: number;
  readonly #options: SimulationOptions;
  readonly #network: NetworkModel;
  readonly #networkRandom: Random;
  readonly #byAddress = new Map<string, SimNode>();
  readonly #byId = new Map<string, SimNode>();
  /** Node index -> partition group; nodes of different groups cannot reach each other. */
  readonly #groups = new Map<number, number>();
  #lastSent: { envelope: Envelope; message: Message } | undefined;

  constructor(options: SimulationOptions) {
    this.#seed = options.seed;
    this.#options = options;
    this.clock = options.clock ?? new SimClock();
    this.config = resolveConfig(options.config ?? {});
    this.logger = options.logger ?? silentLogger();
    this.#network = options.network ?? uniformNetwork();
    this.#networkRandom = seededRandom(streamSeed(options.seed, 'network'));
  }

  /** Adds a node (its address must be free) running the membership strategy of `factory`. */
  add(info: SimNodeInfo, factory: MembershipFactory): SimNode {
    const key = formatAddress(info);
    if (this.#byAddress.get(key)?.isAlive) throw new Error(`address ${key} is taken`);
    const index = this.nodes.length;
    const node = new SimNode(info, index, this, factory, {
      membership: seededRandom(streamSeed(this.#seed, 'membership', index)),
      broadcast: seededRandom(streamSeed(this.#seed, 'broadcast', index)),
    });
    this.nodes.push(node);
    this.#byAddress.set(key, node);
    this.#byId.set(node.id, node);
    return node;
  }

  node(id: string): SimNode | undefined {
    return this.#byId.get(id);
  }

  /** Runs every event due within `ms` of virtual time. */
  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Runs events until `predicate` holds or `limitMs` passed; whether it held. */
  runUntil(predicate: () => boolean, limitMs: number): boolean {
    return this.clock.runUntil(predicate, limitMs);
  }

  /** Dies without Leave: nothing more is sent or received; its peers see the close after the detection delay. */
  kill(node: SimNode): void {
    if (!node.isAlive) return;
    node.isAlive = false;
    node.router.stop();
    for (const [peerId, end] of node.links) {
      node.links.delete(peerId);
      end.idle.stop();
      const delay = this.#network.killDetectionMs ?? end.latencyMs;
      this.clock.fire(delay, () => this.#closeEnd(end.peer, node.id, 'closed'));
    }
  }

  /** Leaves gracefully: the strategy says goodbye, what it queued arrives, then every link closes. */
  leave(node: SimNode): void {
    if (!node.isAlive) return;
    node.strategy.stop();
    node.router.stop();
    for (const peerId of [...node.links.keys()]) this.disconnect(node, peerId);
    node.isAlive = false;
  }

  // --- what a node's strategy asks for ---------------------------------------------------

  send(from: SimNode, peerId: string, envelope: Envelope): boolean {
    const end = from.links.get(peerId);
    if (!from.isAlive || !end?.isOpen) return false;
    // Each message draws its own latency, in order per direction: as the memory transport does.
    const latencyMs = this.#network.latencyMs(this.#networkRandom);
    const at = Math.max(this.clock.now() + latencyMs, end.lastArrivalMs);
    end.lastArrivalMs = at;
    if (this.#network.lossRate > 0 && this.#networkRandom.float() < this.#network.lossRate) return true;
    const message = this.#messageOf(envelope);
    this.clock.fire(at - this.clock.now(), () => this.#deliver(end.peer, from, message));
    return true;
  }

  /** The Message of an envelope; a copy forwarded to several peers is one envelope, made into one Message. */
  #messageOf(envelope: Envelope): Message {
    if (this.#lastSent?.envelope !== envelope) this.#lastSent = { envelope, message: messageOf(envelope) };
    return this.#lastSent.message;
  }

  dial(from: SimNode, address: Address): void {
    const key = formatAddress(address);
    const target = this.#byAddress.get(key);
    if (target && from.links.get(target.id)?.isOpen) {
      this.clock.fire(0, () => this.#dialed(from, address, target));
      return;
    }
    const waiting = from.dials.get(key) ?? 0;
    from.dials.set(key, waiting + 1);
    if (waiting > 0) return;
    const roundTripMs = 2 * this.#network.latencyMs(this.#networkRandom);
    this.clock.fire(roundTripMs, () => this.#completeDial(from, address, key));
  }

  /** Closes the link from this end: this end hears it at once, the peer after what was sent. */
  disconnect(from: SimNode, peerId: string, _code?: ErrorCodeName): void {
    const end = from.links.get(peerId);
    if (!end?.isOpen) return;
    const arrival = Math.max(this.clock.now() + end.latencyMs, end.lastArrivalMs);
    this.#closeEnd(from, peerId, 'local');
    this.clock.fire(arrival - this.clock.now(), () => this.#closeEnd(end.peer, from.id, 'closed'));
  }

  onPeerUp(node: SimNode, peer: NodeInfo): void {
    node.links.get(peer.id)?.idle.claim();
    this.peerEvents.push({ atMs: this.clock.now(), node: node.id, peer: peer.id, up: true });
    node.router.onPeerUp(peer.id);
  }

  onPeerDown(node: SimNode, peer: NodeInfo, reason: PeerDownReason): void {
    this.peerEvents.push({ atMs: this.clock.now(), node: node.id, peer: peer.id, up: false, reason });
    node.formerNeighbours.note(peer.id);
    node.router.onPeerDown(peer.id);
    const end = node.links.get(peer.id);
    if (end?.isOpen && !node.strategy.isDataPeer(peer.id)) end.idle.arm();
  }

  // --- events ---------------------------------------------------------------------------

  #completeDial(from: SimNode, address: Address, key: string): void {
    const waiting = from.dials.get(key) ?? 0;
    from.dials.delete(key);
    if (!from.isAlive) return;
    const target = this.#byAddress.get(key);
    if (!target?.isAlive || target === from || this.#isCut(from, target)) {
      for (let i = 0; i < waiting; i++) from.strategy.onDialFailed(address);
      return;
    }
    if (!from.links.get(target.id)?.isOpen) this.#openLink(from, target);
    for (let i = 0; i < waiting; i++) this.#dialed(from, address, target);
  }

  #dialed(from: SimNode, address: Address, target: SimNode): void {
    if (from.isAlive) from.strategy.onDialed(address, target.id);
  }

  #openLink(dialer: SimNode, listener: SimNode): void {
    const toListener = this.#network.latencyMs(this.#networkRandom);
    const toDialer = this.#network.latencyMs(this.#networkRandom);
    const listenerEnd = this.#newEnd(listener, dialer, 'listener', toDialer);
    const dialerEnd = this.#newEnd(dialer, listener, 'dialer', toListener);
    listener.links.set(dialer.id, listenerEnd);
    dialer.links.set(listener.id, dialerEnd);
    this.#linkUp(listener, dialer, 'listener');
    this.#linkUp(dialer, listener, 'dialer');
  }

  #newEnd(owner: SimNode, peer: SimNode, role: 'dialer' | 'listener', latencyMs: number): LinkEnd {
    const idle = new ShortLived(this.clock, this.config, () => {
      if (owner.isAlive && !owner.strategy.isDataPeer(peer.id)) this.disconnect(owner, peer.id);
    });
    return { peer, role, latencyMs, lastArrivalMs: 0, isOpen: true, idle };
  }

  #linkUp(node: SimNode, peer: SimNode, role: 'dialer' | 'listener'): void {
    const end = node.links.get(peer.id);
    if (!end?.isOpen || !node.isAlive) return;
    node.strategy.onLinkUp({ peer: peer.info, role, remoteHost: peer.info.host, replaces: false });
    if (end.isOpen && !node.strategy.isDataPeer(peer.id)) end.idle.arm();
  }

  #closeEnd(node: SimNode, peerId: string, reason: LinkCloseReason): void {
    const end = node.links.get(peerId);
    if (!end?.isOpen) return;
    end.isOpen = false;
    end.idle.stop();
    node.links.delete(peerId);
    if (node.isAlive) node.strategy.onLinkDown(peerId, reason);
  }

  onDeliver(node: SimNode, message: DeliveredMessage): void {
    this.#options.onDeliver?.(node, message);
  }

  onObserve(node: SimNode, event: RouterObservation): void {
    this.#options.onObserve?.(node, event);
  }

  onReceipt(node: SimNode, event: ReceiptEvent): void {
    this.#options.onReceipt?.(node, event);
  }

  /**
   * Cuts the nodes into groups (by index): links between groups close as a reset would (each end
   * hears it after one way's latency), and no dial crosses until `heal`.
   */
  partition(groups: ReadonlyArray<readonly number[]>): void {
    this.#groups.clear();
    groups.forEach((indexes, group) => indexes.forEach((index) => this.#groups.set(index, group)));
    for (const node of this.nodes) {
      for (const [peerId, end] of node.links) {
        if (!this.#isCut(node, end.peer)) continue;
        this.clock.fire(end.latencyMs, () => this.#closeEnd(end.peer, node.id, 'error'));
        this.#closeEnd(node, peerId, 'error');
      }
    }
  }

  heal(): void {
    this.#groups.clear();
  }

  #isCut(a: SimNode, b: SimNode): boolean {
    if (this.#groups.size === 0) return false;
    const ga = this.#groups.get(a.index);
    const gb = this.#groups.get(b.index);
    return ga !== undefined && gb !== undefined && ga !== gb;
  }

  #deliver(to: SimNode, from: SimNode, message: Message): void {
    if (!to.isAlive || this.#isCut(to, from)) return;
    const end = to.links.get(from.id);
    if (!end?.isOpen) {
      // Sent before the peer learned of our close: a Routed of a recent neighbour is kept.
      if (message.kind === 'routed' && to.formerNeighbours.has(from.id))
        to.router.onRouted(from.id, message.body);
      return;
    }
    const isData = to.strategy.isDataPeer(from.id);
    if (!isData) end.idle.arm();
    if (!isMembershipMessage(message)) return this.#deliverData(to, from, message, isData);
    const verdict = checkMembershipMessage(message, this.config.maxEntriesPerMessage);
    if (!verdict.ok) {
      to.count(verdict.counter);
      const action = MEMBERSHIP_RULES[verdict.problem];
      if (action !== 'drop') this.disconnect(to, from.id, action.close);
      return;
    }
    for (let i = 0; i < verdict.invalidEntries; i++) to.count(INVALID_ENTRY_COUNTER);
    to.strategy.onMessage(from.id, verdict.message);
  }

  /** Routed data goes to the router, and only from a data peer (link/inbound.ts). */
  #deliverData(to: SimNode, from: SimNode, message: Message, isData: boolean): void {
    if (!isData) {
      to.count(`${message.kind}-from-non-neighbour`);
      return this.disconnect(to, from.id, 'PROTOCOL');
    }
    switch (message.kind) {
      case 'routed':
        return to.router.onRouted(from.id, message.body);
      case 'ihave':
      case 'graft':
        return to.router.onControl(from.id, message.kind, message.body);
      case 'prune':
        return to.router.onControl(from.id, 'prune', {});
      default:
        to.count(`${message.kind}-unexpected`);
    }
  }
}
