/**
 * Eclipse through the views, in the simulator: k attacker identities against a mesh of honest
 * HyParView nodes over the fake mesh (SimClock, seeded Random, no sockets). The attackers know
 * every honest address and, every 500 ms each, do everything a v1 peer may send to get into
 * views: Join and a high-priority Neighbor to random honest nodes, Shuffles of 32 entries (all
 * attacker identities) that end at once on every active link, ShuffleReplies of 32 entries on
 * every link, and ForwardJoins with TTL 0 naming one another. They accept every Neighbor and
 * never leave a view by themselves.
 *
 * What is measured, once the attack ran for `ATTACK_MS`: the share of attacker entries in the
 * honest nodes' active and passive views, against the fair share k / (n + k) that k honest
 * nodes would hold, and the honest nodes eclipsed (attackers hold the majority of their active
 * view). `ECLIPSE_NODES=1000 ECLIPSE_REPORT=1` prints the 1,000-node figures;
 * `ECLIPSE_PREFIXES=10` spreads the identities over ten /24s (what the prefix rules cannot
 * tell from ten honest nodes).
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../config.js';
import { MAX_ACTIVE_PER_PREFIX } from '../membership/eviction-limit.js';
import { createHyParView } from '../membership/hyparview.js';
import type {
  MembershipContext,
  MembershipFactory,
  MembershipMessage,
  MembershipStrategy,
  PeerLink,
} from '../membership/legacy-strategy.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import { pickOne, pickSome } from '../utils/random.js';
import { FakeMesh, MeshNode } from './helpers/fake-mesh.js';
import { makeNode } from './helpers/fakes.js';

const NODES = Number(process.env.ECLIPSE_NODES ?? 100);
const ATTACK_MS = Number(process.env.ATTACK_MS ?? 30_000);
const ATTACK_EVERY_MS = 500;
const MAX_ENTRIES = 32;

/** k attacker identities; `prefixes` of them share one /24 each (1: all on one host's /24). */
interface AttackSetup {
  k: number;
  prefixes: number;
}

/** Shared knowledge of the attacker's identities and of the honest addresses. */
class Botnet {
  readonly identities: NodeInfo[] = [];
  honest: NodeInfo[] = [];
}

class Attacker implements MembershipStrategy {
  readonly name = 'attacker';
  readonly #ctx: MembershipContext;
  readonly #botnet: Botnet;
  readonly #links = new Set<PeerLink>();
  #running = false;

  constructor(ctx: MembershipContext, botnet: Botnet) {
    this.#ctx = ctx;
    this.#botnet = botnet;
  }

  start(): void {
    this.#running = true;
    this.#schedule();
  }

  join(): void {}

  stop(): void {
    this.#running = false;
  }

  onLinkReady(link: PeerLink): void {
    this.#links.add(link);
  }

  onMessage(link: PeerLink, message: MembershipMessage): void {
    this.#links.add(link);
    if (message.kind === 'neighbor') link.send({ neighborReply: { accepted: true } });
  }

  onLinkClosed(link: PeerLink): void {
    this.#links.delete(link);
  }

  onLinkReplaced(previous: PeerLink, next: PeerLink): void {
    this.#links.delete(previous);
    this.#links.add(next);
  }

  isDataLink(link: PeerLink): boolean {
    return this.#links.has(link);
  }

  dataPeers(): PeerLink[] {
    return [...this.#links];
  }

  views(): { active: NodeInfo[]; passive: NodeInfo[] } {
    return { active: [], passive: [] };
  }

  stats(): Record<string, number> {
    return {};
  }

  #schedule(): void {
    this.#ctx.clock.schedule(ATTACK_EVERY_MS * (0.5 + this.#ctx.random.float()), () => {
      if (!this.#running) return;
      this.#round();
      this.#schedule();
    });
  }

  #round(): void {
    const { random, self } = this.#ctx;
    const entries = pickSome(random, this.#botnet.identities, MAX_ENTRIES).map((node) => ({ node, age: 0 }));
    const others = this.#botnet.identities.filter((info) => info.id !== self.id);
    const kinds = (process.env.ATTACK_KINDS ?? 'join,neighbor,shuffle,reply,fj').split(',');
    for (const link of this.#links) {
      const shuffle: Envelope = { shuffle: { origin: self, entries, ttl: 1 } };
      if (kinds.includes('shuffle')) link.send(shuffle);
      if (kinds.includes('reply')) link.send({ shuffleReply: { entries } });
      const node = pickOne(random, others);
      if (node && kinds.includes('fj')) link.send({ forwardJoin: { node, ttl: 0 } });
    }
    const target = pickOne(random, this.#botnet.honest);
    const byJoin = random.float() < 0.5;
    if (target && kinds.includes(byJoin ? 'join' : 'neighbor')) void this.#force(target, byJoin);
  }

  async #force(target: NodeInfo, byJoin: boolean): Promise<void> {
    const address: Address = { host: target.host, port: target.port };
    const link = await this.#ctx.connect(address);
    if (!link) return;
    this.#links.add(link);
    link.send(byJoin ? { join: {} } : { neighbor: { highPriority: true } });
  }
}

interface Figures {
  fairShare: number;
  activeShare: number;
  passiveShare: number;
  maxActiveShare: number;
  maxPassiveShare: number;
  /** The most attacker entries in one honest node's active (passive) view. */
  maxActive: number;
  maxPassive: number;
  eclipsed: number;
}

async function attack(setup: AttackSetup, seed = 1): Promise<Figures> {
  const botnet = new Botnet();
  const isAttacker = new Set<string>();
  const factory: MembershipFactory = (ctx) =>
    isAttacker.has(ctx.self.id) ? new Attacker(ctx, botnet) : createHyParView(ctx);
  const mesh = new FakeMesh({ factory, seed });
  // Honest nodes on loopback count one prefix each; the attackers share `prefixes` /24s.
  for (let i = 0; i < NODES; i++) {
    const node = mesh.addNode();
    node.strategy.start(i === 0 ? [] : [mesh.nodes[0]?.address as Address]);
    await mesh.run(20);
  }
  await mesh.run(30_000);
  botnet.honest = mesh.nodes.map((node) => node.info);
  for (let j = 0; j < setup.k; j++) {
    const n = 100_000 + j;
    const info = { ...makeNode(n, 20_000 + j), host: `198.51.${j % setup.prefixes}.${1 + (j % 200)}` };
    isAttacker.add(info.id);
    botnet.identities.push(info);
    const node = new MeshNode(info, mesh, seed * 1000 + n, factory);
    mesh.nodes.push(node);
  }
  for (const node of mesh.nodes) if (isAttacker.has(node.info.id)) node.strategy.start([]);
  await mesh.run(ATTACK_MS);
  return measure(mesh, isAttacker, setup.k);
}

function measure(mesh: FakeMesh, isAttacker: ReadonlySet<string>, k: number): Figures {
  const honest: MeshNode[] = mesh.alive().filter((node) => !isAttacker.has(node.info.id));
  const share = (infos: readonly NodeInfo[]): number =>
    infos.length === 0 ? 0 : infos.filter((info) => isAttacker.has(info.id)).length / infos.length;
  const count = (infos: readonly NodeInfo[]): number =>
    infos.filter((info) => isAttacker.has(info.id)).length;
  let active = 0;
  let activeTotal = 0;
  let passive = 0;
  let passiveTotal = 0;
  let maxActiveShare = 0;
  let maxPassiveShare = 0;
  let eclipsed = 0;
  let maxActive = 0;
  let maxPassive = 0;
  for (const node of honest) {
    const views = node.strategy.views();
    active += count(views.active);
    activeTotal += views.active.length;
    passive += count(views.passive);
    passiveTotal += views.passive.length;
    maxActiveShare = Math.max(maxActiveShare, share(views.active));
    maxPassiveShare = Math.max(maxPassiveShare, share(views.passive));
    if (count(views.active) * 2 > views.active.length) eclipsed++;
    maxActive = Math.max(maxActive, count(views.active));
    maxPassive = Math.max(maxPassive, count(views.passive));
  }
  return {
    fairShare: k / (honest.length + k),
    activeShare: active / activeTotal,
    passiveShare: passive / passiveTotal,
    maxActiveShare,
    maxPassiveShare,
    maxActive,
    maxPassive,
    eclipsed,
  };
}

const round = (figures: Figures): Record<string, number> =>
  Object.fromEntries(Object.entries(figures).map(([key, value]) => [key, Math.round(value * 1000) / 1000]));

describe(`eclipse through the views: attackers against ${NODES} honest HyParView nodes`, () => {
  const setup: AttackSetup = { k: 10, prefixes: Number(process.env.ECLIPSE_PREFIXES ?? 1) };
  it(`${setup.k} identities on ${setup.prefixes} /24: at most two entries of any view, nobody eclipsed`, async () => {
    const figures = await attack(setup);
    if (process.env.ECLIPSE_REPORT)
      console.log(JSON.stringify({ nodes: NODES, ...setup, ...round(figures) }));
    expect(figures.eclipsed).toBe(0);
    expect(figures.maxActive).toBeLessThanOrEqual(MAX_ACTIVE_PER_PREFIX);
    expect(figures.maxPassive).toBeLessThanOrEqual(MAX_ACTIVE_PER_PREFIX);
  }, 300_000);
});
