/**
 * Many membership strategies in one process, wired by fake links over a SimClock: the tier-2
 * simulation harness of any strategy (HyParView, Cyclon, full), with no sockets.
 *
 * What it models of the node (node.ts, docs/protocol.md sections 3-4):
 * - `connect(address)` returns an open link to that address at once; otherwise the handshake
 *   takes one round trip, and concurrent connects of one node to one address share it. A
 *   connection that completes while another between the same two nodes is open is a duplicate,
 *   settled by the node's rule: the newer wins when one node dialled both, else the one dialled
 *   by the smaller id. The winner replaces the loser (`onLinkReplaced` on both sides; a new link
 *   that loses is never announced), and the loser closes with DUPLICATE_CONNECTION, a close that
 *   no strategy hears of.
 * - every envelope is encoded and decoded through the real protobuf schema and delivered
 *   after `latencyMs`, in order per link; nothing is delivered to a closed side or dead node;
 * - `close()` reports 'local' to the closer's strategy at once, as the node does, and the other
 *   side gets `onLinkClosed` after what was sent before ('closed', or 'error' when closed with a
 *   code);
 * - a link that its owner does not count as a data link closes `shortLivedIdleMs` after it
 *   opened, received its last envelope, or its peer went down, whichever is last (the node's
 *   idle timer: sending does not re-arm it).
 *
 * Everything is driven by `run`/`runUntil`, which step the clock and let promise continuations
 * (dials) run between steps: no real time passes, and a seed replays a run exactly.
 */
import { resolveConfig, type Address, type NodeConfig } from '../../config.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  type ErrorCodeName,
  type NodeInfo,
} from '../../proto/messages.js';
import type {
  MembershipContext,
  MembershipFactory,
  MembershipStrategy,
  PeerDownReason,
  PeerLink,
} from '../../membership/legacy-strategy.js';
import { silentLogger } from '../../utils/logger.js';
import { seededRandom } from '../../utils/random.js';
import type { Scheduled } from '../../utils/clock.js';
import { SimClock } from '../../utils/sim-clock.js';
import { makeNode, membershipMessage, runFor, settle, viewProblems } from './fakes.js';

export interface MeshOptions {
  factory: MembershipFactory;
  config?: Partial<NodeConfig>;
  /** Seeds every node's Random (node i gets seed * 1000 + i). @default 1 */
  seed?: number;
  /** One-way delivery delay of a frame; a dial takes twice this. @default 1 */
  latencyMs?: number;
}

export class MeshLink implements PeerLink {
  remote!: MeshLink;
  isOpen = true;
  closeCode: ErrorCodeName | undefined;
  /** Lost a duplicate contest: its close concerns no strategy. */
  isReplaced = false;
  /** The node's idle timer on this side. */
  idle: Scheduled | undefined;

  constructor(
    readonly owner: MeshNode,
    readonly peer: NodeInfo,
    readonly role: 'dialer' | 'listener',
    private readonly mesh: FakeMesh,
  ) {}

  get id(): string {
    return this.peer.id;
  }

  send(envelope: Envelope): boolean {
    if (!this.isOpen) return false;
    this.mesh.transmit(this, envelope);
    return true;
  }

  close(code?: ErrorCodeName): void {
    this.mesh.closeLink(this, code);
  }
}

export class MeshNode {
  alive = true;
  readonly strategy: MembershipStrategy;
  readonly context: MembershipContext;
  readonly drops = new Map<string, number>();
  readonly downs: Array<{ id: string; reason: PeerDownReason }> = [];
  ups = 0;

  constructor(
    readonly info: NodeInfo,
    readonly mesh: FakeMesh,
    seed: number,
    factory: MembershipFactory,
  ) {
    this.context = {
      self: info,
      config: mesh.config,
      clock: mesh.clock,
      random: seededRandom(seed),
      log: silentLogger(),
      connect: (address) => mesh.connect(this, address),
      linkTo: (peerId) => mesh.openLinkBetween(this, peerId),
      peerUp: () => void this.ups++,
      peerDown: (peer, reason) => {
        this.downs.push({ id: peer.id, reason });
        // The node re-arms the idle close of a link that is no longer a data link.
        const link = mesh.openLinkBetween(this, peer.id);
        if (link && !this.strategy.isDataLink(link)) mesh.armIdle(link);
      },
      countDrop: (reason) => void this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1),
    };
    this.strategy = factory(this.context);
  }

  get address(): Address {
    return { host: this.info.host, port: this.info.port };
  }

  activeIds(): string[] {
    return this.strategy.views().active.map((info) => info.id);
  }
}

export class FakeMesh {
  readonly clock = new SimClock();
  readonly config: NodeConfig;
  readonly nodes: MeshNode[] = [];
  /** Envelopes handed to links, by kind, for assertions on traffic. */
  readonly sentByKind = new Map<string, number>();
  /** Connections that completed beside an open one between the same two nodes. */
  duplicates = 0;
  readonly #open = new Set<MeshLink>();
  /** Dials in flight, by dialling node and address: concurrent connects share one. */
  readonly #dials = new Map<string, Promise<PeerLink | undefined>>();
  readonly #factory: MembershipFactory;
  readonly #seed: number;
  readonly #latencyMs: number;

  constructor(options: MeshOptions) {
    this.config = resolveConfig(options.config);
    this.#factory = options.factory;
    this.#seed = options.seed ?? 1;
    this.#latencyMs = options.latencyMs ?? 1;
  }

  /** A node with identity seed `n` (port 10000 + n, or the given one: 0 means not listening). */
  addNode(n = this.nodes.length + 1, port?: number): MeshNode {
    const node = new MeshNode(makeNode(n, port), this, this.#seed * 1000 + n, this.#factory);
    this.nodes.push(node);
    return node;
  }

  alive(): MeshNode[] {
    return this.nodes.filter((node) => node.alive);
  }

  byId(id: string): MeshNode | undefined {
    return this.nodes.find((node) => node.info.id === id);
  }

  // --- the fake node: dials, frames, closes --------------------------------------------

  connect(from: MeshNode, address: Address): Promise<PeerLink | undefined> {
    const target = this.#listenerAt(address);
    const open = target && this.openLinkBetween(from, target.info.id);
    if (open) return Promise.resolve(open);
    const key = `${from.info.id}>${address.host}:${address.port}`;
    const pending = this.#dials.get(key);
    if (pending) return pending;
    const dial = new Promise<PeerLink | undefined>((resolve) => {
      this.clock.schedule(2 * this.#latencyMs, () => {
        this.#dials.delete(key);
        resolve(this.#dial(from, address));
      });
    });
    this.#dials.set(key, dial);
    return dial;
  }

  openLinkBetween(from: MeshNode, peerId: string): MeshLink | undefined {
    for (const link of this.#open) {
      if (link.owner === from && link.id === peerId && link.remote.isOpen) return link;
    }
    return undefined;
  }

  transmit(from: MeshLink, envelope: Envelope): void {
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    if (!decoded.ok) throw new Error(`mesh: envelope does not survive the codec: ${decoded.reason}`);
    this.sentByKind.set(decoded.value.kind, (this.sentByKind.get(decoded.value.kind) ?? 0) + 1);
    this.clock.schedule(this.#latencyMs, () => {
      const to = from.remote;
      if (!to.isOpen || !to.owner.alive) return;
      if (!to.owner.strategy.isDataLink(to)) this.armIdle(to);
      const message = membershipMessage(decoded.value.envelope);
      if (message) to.owner.strategy.onMessage(to, message);
    });
  }

  closeLink(side: MeshLink, code?: ErrorCodeName): void {
    if (!side.isOpen) return;
    side.isOpen = false;
    side.closeCode = code;
    this.#open.delete(side);
    side.idle?.cancel();
    // The closer's node reports the close at once; the other side sees it after what was
    // already sent on the link: close flushes first.
    if (side.owner.alive && !side.isReplaced) side.owner.strategy.onLinkClosed(side, 'local');
    this.clock.schedule(this.#latencyMs, () =>
      this.#closeRemote(side.remote, code === undefined ? 'closed' : 'error'),
    );
  }

  /** (Re)arms the node's idle close of one side of a link. */
  armIdle(side: MeshLink): void {
    side.idle?.cancel();
    side.idle = this.clock.schedule(this.config.shortLivedIdleMs, () => {
      side.idle = undefined;
      if (side.isOpen && side.owner.alive && !side.owner.strategy.isDataLink(side)) side.close();
    });
  }

  /** A crash: every link of the node drops without a Leave, and it never answers again. */
  crash(node: MeshNode): void {
    node.alive = false;
    for (const link of [...this.#open]) {
      if (link.owner !== node) continue;
      link.isOpen = false;
      link.idle?.cancel();
      this.#open.delete(link);
      this.clock.schedule(this.#latencyMs, () => this.#closeRemote(link.remote, 'closed'));
    }
    node.strategy.stop();
  }

  /**
   * A graceful exit: the strategy sends its Leaves, then the node closes every link; a stopping
   * node no longer tells its strategy of closes.
   */
  leave(node: MeshNode): void {
    node.strategy.stop();
    node.alive = false;
    for (const link of [...this.#open]) if (link.owner === node) link.close();
  }

  #listenerAt(address: Address): MeshNode | undefined {
    return this.nodes.find(
      (node) =>
        node.alive &&
        node.info.port !== 0 &&
        node.info.host === address.host &&
        node.info.port === address.port,
    );
  }

  /** The handshake completed: a new link, or a duplicate settled as the node settles it. */
  #dial(from: MeshNode, address: Address): MeshLink | undefined {
    if (!from.alive) return undefined;
    const target = this.#listenerAt(address);
    if (!target || target === from) return undefined;
    const existing = this.openLinkBetween(from, target.info.id);
    const dialer = new MeshLink(from, target.info, 'dialer', this);
    const listener = new MeshLink(target, from.info, 'listener', this);
    dialer.remote = listener;
    listener.remote = dialer;
    this.#open.add(dialer);
    this.#open.add(listener);
    if (!existing) {
      for (const side of [listener, dialer]) {
        this.armIdle(side);
        side.owner.strategy.onLinkReady(side);
      }
      return dialer;
    }
    this.duplicates++;
    // docs/protocol.md section 3: `existing` is from's side; from dialled it when its role says so.
    const newWins = existing.role === 'dialer' || from.info.id < target.info.id;
    const [winner, loser] = newWins ? [dialer, existing] : [existing, dialer];
    loser.isReplaced = loser.remote.isReplaced = true;
    if (newWins) {
      for (const [previous, next] of [
        [existing, dialer],
        [existing.remote, listener],
      ] as const) {
        next.owner.strategy.onLinkReplaced(previous, next);
        if (!next.owner.strategy.isDataLink(next)) this.armIdle(next);
      }
    }
    loser.close('DUPLICATE_CONNECTION');
    return winner;
  }

  #closeRemote(remote: MeshLink, reason: 'closed' | 'error'): void {
    if (!remote.isOpen) return;
    remote.isOpen = false;
    remote.idle?.cancel();
    this.#open.delete(remote);
    if (remote.owner.alive && !remote.isReplaced) remote.owner.strategy.onLinkClosed(remote, reason);
  }

  // --- driving time ----------------------------------------------------------------------

  /** Runs every timer due in the next `ms` of virtual time, letting continuations run. */
  run(ms: number): Promise<void> {
    return runFor(this.clock, ms);
  }

  /** Runs until `predicate` holds (checked after each step) or `limitMs` passed. */
  async runUntil(predicate: () => boolean, limitMs: number): Promise<boolean> {
    const deadline = this.clock.now() + limitMs;
    for (;;) {
      await settle();
      if (predicate()) return true;
      const due = this.clock.nextDue();
      if (due === undefined || due > deadline) return false;
      this.clock.step();
    }
  }

  // --- properties of the overlay -----------------------------------------------------------

  /**
   * Every broken view invariant of every live node, prefixed by the node's name. `bounds`
   * replaces the view sizes checked, for strategies other than HyParView.
   */
  problems(bounds: Partial<Pick<NodeConfig, 'activeSize' | 'passiveSize'>> = {}): string[] {
    const config = { ...this.config, ...bounds };
    return this.alive().flatMap((node) =>
      viewProblems(node.strategy.views(), node.info.id, config).map((p) => `${node.info.name}: ${p}`),
    );
  }

  /** Active edges A->B (among live nodes) whose reverse B->A is missing. */
  asymmetricEdges(): string[] {
    const missing: string[] = [];
    for (const node of this.alive()) {
      for (const id of node.activeIds()) {
        const other = this.byId(id);
        if (!other?.alive || !other.activeIds().includes(node.info.id)) {
          missing.push(`${node.info.name} -> ${other?.info.name ?? id}`);
        }
      }
    }
    return missing;
  }

  /** Whether the active views (as an undirected graph over live nodes) connect every live node. */
  isConnected(): boolean {
    const live = this.alive();
    const first = live[0];
    if (!first) return true;
    const seen = new Set<string>([first.info.id]);
    const queue = [first];
    for (let node = queue.shift(); node; node = queue.shift()) {
      for (const id of this.#neighbours(node)) {
        const next = this.byId(id);
        if (next?.alive && !seen.has(id)) {
          seen.add(id);
          queue.push(next);
        }
      }
    }
    return live.every((node) => seen.has(node.info.id));
  }

  #neighbours(node: MeshNode): string[] {
    const out = new Set(node.activeIds());
    for (const other of this.alive()) if (other.activeIds().includes(node.info.id)) out.add(other.info.id);
    return [...out];
  }
}
