/**
 * An in-memory mesh of Routers for the router's unit tests (no sockets): N routers wired by fake
 * links along the edges of a given topology, each router naming its neighbours by peer id. Every
 * envelope travels as the bytes the router's `OutgoingEnvelope` encodes (with the real codec), is
 * decoded on arrival and delivered after its link's delay on one shared SimClock, so a run is
 * deterministic for a seed and takes no real time. A link that is cut loses what it was carrying.
 */
import { resolveConfig, type NodeConfig } from '../../config.js';
import { Identity } from '../../crypto/identity.js';
import {
  decodeEnvelope,
  encodePayload,
  type IdList,
  type NodeInfo,
  type Payload,
  type Routed,
} from '../../proto/messages.js';
import {
  Router,
  type DeliveredMessage,
  type OutgoingEnvelope,
  type ReceiptEvent,
  type RouterObservation,
} from '../../router.js';
import { silentLogger } from '../../utils/logger.js';
import { seededRandom, type Random } from '../../utils/random.js';
import { SimClock } from '../../utils/sim-clock.js';
import { KeyCachingChecker, type SignatureChecker } from '../../crypto/signatures.js';

export type Edge = readonly [number, number];

export interface MeshOptions {
  size: number;
  edges: readonly Edge[];
  config?: Partial<NodeConfig>;
  seed?: number;
  /** Delay of a link in virtual ms. @default 1 */
  latencyMs?: (a: number, b: number) => number;
  /** Each router's signature checker. @default a KeyCachingChecker per router */
  signatures?: () => SignatureChecker;
}

export interface MeshNode {
  readonly index: number;
  readonly identity: Identity;
  readonly info: NodeInfo;
  readonly router: Router;
  readonly delivered: DeliveredMessage[];
  readonly receipts: ReceiptEvent[];
  readonly missing: Array<{ messageId: string; to: string }>;
  readonly punished: Array<{ peerId: string; reason: string }>;
  readonly observations: RouterObservation[];
  /** The peer id of each neighbour, by neighbour index. */
  readonly peers: Map<number, string>;
  /** Every envelope the router sent, in order, as it handed it over. */
  readonly sent: Array<{ to: string; out: OutgoingEnvelope }>;
}

/** One direction of a link: sends from its node to the neighbour. A new one per link opened. */
interface MeshLink {
  send(bytes: Uint8Array): boolean;
}

export function makeIdentity(random: Random): Identity {
  return Identity.fromSeed(random.bytes(32));
}

export function nodeInfoOf(identity: Identity, index: number): NodeInfo {
  return {
    id: identity.id,
    name: `n${index}`,
    host: '127.0.0.1',
    port: 20_000 + index,
    publicKey: identity.publicKey,
  };
}

const SMALL_CACHES: Partial<NodeConfig> = {
  seenCacheSize: 4096,
  routeCacheSize: 1024,
  plumtreeCacheSize: 1024,
};

export class RouterMesh {
  readonly clock = new SimClock(0);
  readonly nodes: MeshNode[] = [];
  /** Each node's open links, by neighbour index. */
  readonly #links: Array<Map<number, MeshLink>> = [];
  readonly #latencyMs: (a: number, b: number) => number;
  readonly #signatures: () => SignatureChecker;

  constructor(options: MeshOptions) {
    const random = seededRandom(options.seed ?? 1);
    this.#latencyMs = options.latencyMs ?? (() => 1);
    this.#signatures = options.signatures ?? (() => new KeyCachingChecker());
    // lru-cache allocates `max` slots up front: the defaults (100 000 seen entries) would cost
    // seconds for a mesh of 50 routers, and no test comes near these smaller bounds.
    const config = resolveConfig({ ...SMALL_CACHES, ...options.config });
    for (let index = 0; index < options.size; index++) {
      this.nodes.push(this.#makeNode(index, config, makeIdentity(random), seededRandom(random.int(2 ** 31))));
    }
    for (const [a, b] of options.edges) this.link(a, b);
  }

  get routers(): Router[] {
    return this.nodes.map((node) => node.router);
  }

  node(index: number): MeshNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`no node ${index}`);
    return node;
  }

  isLinked(a: number, b: number): boolean {
    return this.node(a).peers.has(b);
  }

  /** Opens a link both ways and reports it up to both routers. */
  link(a: number, b: number): void {
    if (a === b || this.isLinked(a, b)) return;
    this.#linksOf(a).set(b, this.#makeLink(a, b));
    this.#linksOf(b).set(a, this.#makeLink(b, a));
    this.node(a).peers.set(b, this.node(b).info.id);
    this.node(b).peers.set(a, this.node(a).info.id);
    this.node(a).router.onPeerUp(this.node(b).info.id);
    this.node(b).router.onPeerUp(this.node(a).info.id);
  }

  /** Closes a link; what it carries is lost, and both routers see the peer go down. */
  cut(a: number, b: number): void {
    if (!this.isLinked(a, b)) return;
    this.node(a).peers.delete(b);
    this.node(b).peers.delete(a);
    this.#linksOf(a).delete(b);
    this.#linksOf(b).delete(a);
    this.node(a).router.onPeerDown(this.node(b).info.id);
    this.node(b).router.onPeerDown(this.node(a).info.id);
  }

  /** Hands node `to` a Routed as if its neighbour `from` had sent it, synchronously. */
  inject(to: number, from: number, routed: Routed): void {
    const peerId = this.node(to).peers.get(from);
    if (!peerId) throw new Error(`${from} is not a neighbour of ${to}`);
    this.node(to).router.onRouted(peerId, routed);
  }

  /** Runs every timer due within `ms` of virtual time (link deliveries, flushes, grafts...). */
  run(ms = 10_000): void {
    this.clock.advance(ms);
  }

  stop(): void {
    for (const router of this.routers) router.stop();
  }

  /** Deliveries of one message id, across the mesh. */
  deliveriesOf(id: string): DeliveredMessage[] {
    return this.nodes.flatMap((node) => node.delivered.filter((message) => message.id === id));
  }

  /** Routed copies of one message received across the mesh (duplicates included). */
  copiesReceived(id: string): number {
    return this.nodes
      .flatMap((node) => node.observations)
      .filter((event) => event.type === 'receive' && event.id === id).length;
  }

  sum(stat: string): number {
    return this.routers.reduce((total, router) => total + (router.stats()[stat] ?? 0), 0);
  }

  #makeNode(index: number, config: NodeConfig, identity: Identity, random: Random): MeshNode {
    const peers = new Map<number, string>();
    const links = new Map<number, MeshLink>();
    this.#links[index] = links;
    const sent: MeshNode['sent'] = [];
    const node: Omit<MeshNode, 'router'> = {
      index,
      identity,
      info: nodeInfoOf(identity, index),
      delivered: [],
      receipts: [],
      missing: [],
      punished: [],
      observations: [],
      peers,
      sent,
    };
    const linkTo = (peerId: string): MeshLink | undefined => {
      for (const [neighbour, id] of peers) if (id === peerId) return links.get(neighbour);
      return undefined;
    };
    const router = new Router({
      identity,
      self: node.info,
      config,
      clock: this.clock,
      signatures: this.#signatures(),
      random,
      log: silentLogger(),
      dataPeers: () => [...peers.values()],
      send: (peerId, out) => {
        const link = linkTo(peerId);
        if (!link) return false;
        sent.push({ to: peerId, out });
        return link.send(out.bytes);
      },
      deliver: (message) => node.delivered.push(message),
      receipt: (event) => node.receipts.push(event),
      receiptMissing: (event) => node.missing.push(event),
      punish: (peerId, reason) => node.punished.push({ peerId, reason }),
      observe: (event) => node.observations.push(event),
    });
    return { ...node, router };
  }

  #linksOf(index: number): Map<number, MeshLink> {
    const links = this.#links[index];
    if (!links) throw new Error(`no node ${index}`);
    return links;
  }

  /**
   * The link of `self` to `remote`. Like a TCP connection, a link is in order: a frame never
   * overtakes an earlier one, whatever delay `latencyMs` draws for it.
   */
  #makeLink(self: number, remote: number): MeshLink {
    let lastArrival = 0;
    const link: MeshLink = {
      send: (bytes) => {
        if (this.#linksOf(self).get(remote) !== link) return false;
        const now = this.clock.now();
        lastArrival = Math.max(now + this.#latencyMs(self, remote), lastArrival);
        const back = this.#linksOf(remote).get(self);
        this.clock.schedule(lastArrival - now, () => this.#arrive(remote, self, back, bytes));
        return true;
      },
    };
    return link;
  }

  #arrive(at: number, from: number, back: MeshLink | undefined, bytes: Uint8Array): void {
    const peer = this.node(at).peers.get(from);
    // The link died while the frame was on it (a link opened since is another one).
    if (!peer || this.#linksOf(at).get(from) !== back) return;
    const decoded = decodeEnvelope(bytes);
    if (!decoded.ok) throw new Error(decoded.reason);
    const { kind, envelope } = decoded.value;
    const router = this.node(at).router;
    const body = (envelope as Record<string, unknown>)[kind];
    if (kind === 'routed') router.onRouted(peer, body as Routed);
    else if (kind === 'ihave' || kind === 'graft') router.onControl(peer, kind, body as IdList);
    else if (kind === 'prune') router.onControl(peer, 'prune', {});
    else throw new Error(`unexpected envelope ${kind} on a data link`);
  }
}

// --- topologies -------------------------------------------------------------------------------

export function lineEdges(size: number): Edge[] {
  return Array.from({ length: size - 1 }, (_, i) => [i, i + 1] as const);
}

export function ringEdges(size: number): Edge[] {
  return [...lineEdges(size), [size - 1, 0] as const];
}

/** A connected random graph of average degree about `degree`: a random tree plus random chords. */
export function randomEdges(size: number, degree: number, random: Random): Edge[] {
  const keys = new Set<string>();
  const edges: Edge[] = [];
  const add = (a: number, b: number): void => {
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (a === b || keys.has(key)) return;
    keys.add(key);
    edges.push([a, b]);
  };
  for (let i = 1; i < size; i++) add(i, random.int(i));
  while (edges.length < Math.round((size * degree) / 2)) add(random.int(size), random.int(size));
  return edges;
}

/** Whether the nodes are connected along `edges`. */
export function isConnected(size: number, edges: readonly Edge[]): boolean {
  const reached = new Set<number>([0]);
  const stack = [0];
  while (stack.length > 0) {
    const at = stack.pop() as number;
    for (const [a, b] of edges) {
      const other = a === at ? b : b === at ? a : undefined;
      if (other !== undefined && !reached.has(other)) {
        reached.add(other);
        stack.push(other);
      }
    }
  }
  return reached.size === size;
}

// --- crafted messages -------------------------------------------------------------------------

export const MESSAGE_CONTEXT = Buffer.from('overlay-v1-msg');

/** A Routed as an origin would send it, with any payload field or envelope field overridden. */
export function craftRouted(
  identity: Identity,
  origin: NodeInfo,
  payload: Partial<Payload> = {},
  routed: Partial<Routed> = {},
): Routed {
  const bytes = encodePayload({
    id: 'crafted-1',
    origin,
    to: '',
    room: '',
    sentAtMs: 0n,
    text: { body: 'hello' },
    ...payload,
  });
  const signature = identity.sign(Buffer.concat([MESSAGE_CONTEXT, bytes]));
  return { payload: bytes, signature, ttl: 16, hops: 1, ...routed };
}
