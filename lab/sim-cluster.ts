/**
 * The lab's nodes as the simulator runs them (sim/simulation.ts): the membership strategies and
 * the router of every node driven directly over a modelled network, with no socket, handshake,
 * codec or crypto, under the driver's simulated clock. The scenario sees the same `Cluster` as
 * with real nodes; the full-stack memory transport stays the reference for fidelity.
 */
import { Identity } from '../crypto/identity.js';
import { resolveConfig } from '../config.js';
import { membershipFactoryOf } from '../peer-table.js';
import { Simulation, type SimNode } from '../sim/simulation.js';
import { seededRandom } from '../utils/random.js';
import type { Cluster, ClusterOptions, LabNode } from './cluster.js';
import type { LiveViews } from './overlay-rules.js';
import { SimDriver, type Driver } from './driver.js';
import { nodeSeed } from './in-process-cluster.js';

const PORT = 7000;

interface Member extends LabNode {
  node: SimNode;
}

export class SimCluster implements Cluster {
  readonly driver: Driver;
  readonly countsCopies = true;
  readonly #members: Member[] = [];
  readonly #options: ClusterOptions;
  readonly #sim: Simulation;

  constructor(options: ClusterOptions) {
    if (!(options.driver instanceof SimDriver))
      throw new Error('the simulator runs under simulated time only');
    this.#options = options;
    this.driver = options.driver;
    const { observer } = options;
    this.#sim = new Simulation({
      seed: options.seed,
      clock: options.driver.clock,
      config: options.config,
      onDeliver: (node, m) =>
        observer.delivered(node.id, { id: m.id, originId: m.from.id, hops: m.hops, latencyMs: m.latencyMs }),
      onReceipt: (_node, r) => observer.receipted(r.messageId, r.hops),
      onObserve: (_node, event) => {
        if (event.type === 'receive') observer.copyReceived(event.originId, event.id);
      },
    });
  }

  get nodes(): readonly LabNode[] {
    return this.#members;
  }

  async add(seedIndex: number | undefined): Promise<LabNode> {
    const index = this.#members.length;
    const random = seededRandom(nodeSeed(this.#options.seed, index));
    const identity = Identity.fromSeed(random.bytes(32));
    const host = `node-${index}`;
    const factory = membershipFactoryOf(resolveConfig(this.#options.config).membership);
    const node = this.#sim.add({ identity, name: `lab-${index}`, host, port: PORT }, factory);
    const seed = seedIndex === undefined ? undefined : this.#members[seedIndex]?.node.info;
    node.strategy.start(seed ? [{ host: seed.host, port: seed.port }] : []);
    const member: Member = { index, id: node.id, alive: true, node };
    this.#members.push(member);
    return member;
  }

  async kill(index: number): Promise<void> {
    const member = this.#member(index);
    member.alive = false;
    this.#sim.kill(member.node);
  }

  async leave(index: number): Promise<void> {
    const member = this.#member(index);
    member.alive = false;
    this.#sim.leave(member.node);
  }

  partition(groups: readonly (readonly number[])[]): boolean {
    this.#sim.partition(groups);
    return true;
  }

  heal(): void {
    this.#sim.heal();
  }

  async broadcast(index: number, text: string): Promise<string> {
    return this.#member(index).node.router.broadcast(text);
  }

  async send(index: number, toId: string, text: string): Promise<string> {
    return this.#member(index).node.router.send(toId, text);
  }

  /** The forwarding set of each live node: its active view, for every built-in strategy. */
  async activeViews(): Promise<LiveViews> {
    const views = new Map<string, readonly string[]>();
    for (const member of this.#members)
      if (member.alive) views.set(member.id, member.node.strategy.dataPeers());
    return views;
  }

  /** Under simulated time a report must replay byte for byte: no machine-dependent figures. */
  resources(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    for (const member of this.#members) if (member.alive) this.#sim.kill(member.node);
  }

  #member(index: number): Member {
    const member = this.#members[index];
    if (!member) throw new Error(`no lab node ${index}`);
    return member;
  }
}
