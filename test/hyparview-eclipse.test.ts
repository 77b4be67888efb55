/**
 * Eclipse through the views, in the simulator: k attacker identities against a mesh of honest
 * HyParView nodes, all real Nodes over the memory transport under the simulated clock (seeded
 * Random, no sockets). The attackers know every honest address and, every 500 ms each, do
 * everything a v1 peer may send to get into views: Join and a high-priority Neighbor to random
 * honest nodes, Shuffles of 32 entries (all attacker identities) that end at once on every
 * active link, ShuffleReplies of 32 entries on every link, and ForwardJoins with TTL 0 naming one
 * another. They accept every Neighbor and never leave a view by themselves.
 *
 * What is measured, once the attack ran for `ATTACK_MS`: the share of attacker entries in the
 * honest nodes' active and passive views, against the fair share k / (n + k) that k honest
 * nodes would hold, and the honest nodes eclipsed (attackers hold the majority of their active
 * view). `ECLIPSE_NODES=1000 ECLIPSE_REPORT=1` prints the 1,000-node figures;
 * `ECLIPSE_PREFIXES=10` spreads the identities over ten /24s (what the prefix rules cannot
 * tell from ten honest nodes); `ATTACK_KINDS=join,shuffle` keeps only some of the moves.
 */
import { describe, expect, it } from 'vitest';
import type { Address, NodeConfig } from '../config.js';
import { Identity } from '../crypto/identity.js';
import { SimDriver } from '../lab/driver.js';
import { labPlaintextLinks } from '../link/link-security.js';
import { MAX_ACTIVE_PER_PREFIX } from '../membership/eviction-limit.js';
import { PendingDials } from '../membership/pending-dials.js';
import type {
  LinkUp,
  MembershipContext,
  MembershipFactory,
  MembershipMessage,
  MembershipStrategy,
} from '../membership/strategy.js';
import { Node } from '../node.js';
import type { Envelope, NodeInfo } from '../proto/messages.js';
import { MemoryNetwork } from '../transport/memory.js';
import { silentLogger } from '../utils/logger.js';
import { pickOne, pickSome, seededRandom } from '../utils/random.js';

const NODES = Number(process.env.ECLIPSE_NODES ?? 100);
const ATTACK_MS = Number(process.env.ATTACK_MS ?? 30_000);
const ATTACK_EVERY_MS = 500;
const MAX_ENTRIES = 32;
const PORT = 7000;

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
  readonly #links = new Set<string>();
  /** Whether each dial under way forces its way in by Join (else by Neighbor). */
  readonly #dials: PendingDials<boolean>;
  #running = false;

  constructor(ctx: MembershipContext, botnet: Botnet) {
    this.#ctx = ctx;
    this.#botnet = botnet;
    this.#dials = new PendingDials(ctx);
  }

  start(): void {
    this.#running = true;
    this.#schedule();
  }

  join(): void {}

  stop(): void {
    this.#running = false;
  }

  onLinkUp({ peer }: LinkUp): void {
    this.#links.add(peer.id);
  }

  onDialed(address: Address, peerId: string): void {
    const byJoin = this.#dials.settle(address);
    if (byJoin === undefined) return;
    this.#links.add(peerId);
    this.#ctx.send(peerId, byJoin ? { join: {} } : { neighbor: { highPriority: true } });
  }

  onDialFailed(address: Address): void {
    this.#dials.settle(address);
  }

  onMessage(from: string, message: MembershipMessage): void {
    this.#links.add(from);
    if (message.kind === 'neighbor') this.#ctx.send(from, { neighborReply: { accepted: true } });
  }

  onLinkDown(peerId: string): void {
    this.#links.delete(peerId);
  }

  isDataPeer(peerId: string): boolean {
    return this.#links.has(peerId);
  }

  dataPeers(): readonly string[] {
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
    for (const peerId of this.#links) {
      const shuffle: Envelope = { shuffle: { origin: self, entries, ttl: 1 } };
      if (kinds.includes('shuffle')) this.#ctx.send(peerId, shuffle);
      if (kinds.includes('reply')) this.#ctx.send(peerId, { shuffleReply: { entries } });
      const node = pickOne(random, others);
      if (node && kinds.includes('fj')) this.#ctx.send(peerId, { forwardJoin: { node, ttl: 0 } });
    }
    const target = pickOne(random, this.#botnet.honest);
    const byJoin = random.float() < 0.5;
    if (target && kinds.includes(byJoin ? 'join' : 'neighbor')) {
      this.#dials.dial({ host: target.host, port: target.port }, byJoin);
    }
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
  const driver = new SimDriver();
  const network = new MemoryNetwork({ clock: driver.clock, random: seededRandom(seed) });
  const logger = silentLogger();
  const start = async (
    host: string,
    port: number,
    config: Partial<NodeConfig>,
    membership?: MembershipFactory,
  ): Promise<Node> => {
    const random = seededRandom(seed * 100_000 + port * 1000 + botnet.honest.length);
    const node = new Node(
      { name: host, host, port, ...config },
      {
        transport: network.transport(host),
        clock: driver.clock,
        random,
        logger,
        linkSecurity: labPlaintextLinks,
        identity: Identity.fromSeed(random.bytes(32)),
        ...(membership ? { membership } : {}),
      },
    );
    await node.start();
    return node;
  };
  // Honest nodes each have a host name of their own (one prefix each); the attackers share
  // `prefixes` /24s.
  const honest: Node[] = [];
  for (let i = 0; i < NODES; i++) {
    const seeds = honest[0] ? [{ host: honest[0].info.host, port: PORT }] : [];
    honest.push(await start(`honest-${i}`, PORT, { seeds }));
    botnet.honest.push(honest[i]?.info as NodeInfo);
    await driver.sleep(20);
  }
  await driver.sleep(30_000);
  const attackers: Node[] = [];
  for (let j = 0; j < setup.k; j++) {
    const host = `198.51.${j % setup.prefixes}.${1 + (j % 200)}`;
    const node = await start(host, 20_000 + j, {}, (ctx) => new Attacker(ctx, botnet));
    botnet.identities.push(node.info);
    attackers.push(node);
  }
  await driver.sleep(ATTACK_MS);
  const figures = measure(honest, new Set(botnet.identities.map((info) => info.id)), setup.k);
  await Promise.all([...honest, ...attackers].map((node) => node.crash()));
  return figures;
}

function measure(honest: readonly Node[], isAttacker: ReadonlySet<string>, k: number): Figures {
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
    const views = node.peers();
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
