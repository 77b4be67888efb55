/**
 * Every node of the lab in this process, each a real `Node` with its own listener: over TCP on
 * 127.0.0.1, or over the memory transport (which may run under simulated time). Every node gets
 * its own random source derived from the lab's seed, so a simulated run replays exactly.
 */
import { Identity } from '../crypto/identity.js';
import { sharedSignatureChecker } from '../crypto/signatures.js';
import { labPlaintextLinks, sealedLinks, type LinkSecurity } from '../link/link-security.js';
import { Node } from '../node.js';
import { MemoryNetwork } from '../transport/memory.js';
import { TcpTransport } from '../transport/tcp.js';
import type { Transport } from '../transport/transport.js';
import { silentLogger, type Logger } from '../utils/logger.js';
import { seededRandom } from '../utils/random.js';
import type { Cluster, ClusterOptions, LabNode } from './cluster.js';
import type { Driver } from './driver.js';

const MEMORY_PORT = 7000;

/** A 32-bit seed for node `index` of a run seeded with `seed`. */
export function nodeSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

interface Member extends LabNode {
  node: Node;
}

export class InProcessCluster implements Cluster {
  readonly driver: Driver;
  readonly countsCopies = true;
  readonly #members: Member[] = [];
  readonly #network: MemoryNetwork | undefined;
  readonly #options: ClusterOptions;
  /**
   * One silent logger for every node: left to its default, each node makes its own pino
   * instance, each with its own stdout destination (about 1 KiB a node, and time at startup).
   */
  readonly #logger: Logger = silentLogger();
  /** Every node checks the same broadcast: one verification per message for the whole lab. */
  readonly #signatures = sharedSignatureChecker();
  readonly #linkSecurity: LinkSecurity;

  constructor(options: ClusterOptions) {
    this.#options = options;
    this.driver = options.driver;
    if (options.links === 'plaintext' && options.transport !== 'memory')
      throw new Error('plaintext links are for the memory transport only');
    this.#linkSecurity = options.links === 'plaintext' ? labPlaintextLinks : sealedLinks;
    this.#network =
      options.transport === 'memory'
        ? new MemoryNetwork({ clock: options.driver.clock, random: seededRandom(nodeSeed(options.seed, -2)) })
        : undefined;
  }

  get nodes(): readonly LabNode[] {
    return this.#members;
  }

  async add(seedIndex: number | undefined): Promise<LabNode> {
    const index = this.#members.length;
    const random = seededRandom(nodeSeed(this.#options.seed, index));
    const host = this.#network ? `node-${index}` : '127.0.0.1';
    const transport: Transport = this.#network ? this.#network.transport(host) : new TcpTransport();
    const seed = seedIndex === undefined ? undefined : this.#members[seedIndex]?.node.info;
    const { observer } = this.#options;
    const node = new Node(
      {
        ...this.#options.config,
        host,
        port: this.#network ? MEMORY_PORT : 0,
        name: `lab-${index}`,
        seeds: seed ? [{ host: seed.host, port: seed.port }] : [],
      },
      {
        transport,
        clock: this.driver.clock,
        random,
        logger: this.#logger,
        signatures: this.#signatures,
        linkSecurity: this.#linkSecurity,
        identity: Identity.fromSeed(random.bytes(32)),
        observe: (event) => {
          if (event.type === 'receive') observer.copyReceived(event.originId, event.id);
        },
      },
    );
    node.on('message', (m) =>
      observer.delivered(node.id, { id: m.id, originId: m.from.id, hops: m.hops, latencyMs: m.latencyMs }),
    );
    node.on('receipt', (r) => observer.receipted(r.messageId, r.hops));
    await node.start();
    const member: Member = { index, id: node.id, alive: true, node };
    this.#members.push(member);
    return member;
  }

  async kill(index: number): Promise<void> {
    const member = this.#member(index);
    member.alive = false;
    await member.node.crash();
  }

  async leave(index: number): Promise<void> {
    const member = this.#member(index);
    member.alive = false;
    await member.node.stop();
  }

  partition(groups: readonly (readonly number[])[]): boolean {
    if (!this.#network) return false;
    this.#network.partition(groups.map((group) => group.map((index) => `node-${index}`)));
    return true;
  }

  heal(): void {
    this.#network?.heal();
  }

  async broadcast(index: number, text: string): Promise<string> {
    return this.#member(index).node.broadcast(text);
  }

  async send(index: number, toId: string, text: string): Promise<string> {
    return this.#member(index).node.send(toId, text);
  }

  async activeViews(): Promise<Map<string, string[]>> {
    const views = new Map<string, string[]>();
    for (const member of this.#members) {
      if (member.alive)
        views.set(
          member.id,
          member.node.peers().active.map((peer) => peer.id),
        );
    }
    return views;
  }

  resources(): { heapBytes: number; rssBytes: number; cpuMs: number } | undefined {
    // Under simulated time a report must replay byte for byte: no machine-dependent figures.
    if (this.driver.isSimulated) return undefined;
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return { heapBytes: memory.heapUsed, rssBytes: memory.rss, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  async close(): Promise<void> {
    await Promise.all(this.#members.filter((m) => m.alive).map((m) => m.node.crash()));
  }

  #member(index: number): Member {
    const member = this.#members[index];
    if (!member) throw new Error(`no lab node ${index}`);
    return member;
  }
}
