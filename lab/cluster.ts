/**
 * A lab mesh: N real `Node`s driven by a scenario. `InProcessCluster` runs them in this process
 * over TCP on 127.0.0.1 or over the memory transport; `ProcessCluster` (lab/process-cluster.ts)
 * runs each as its own `p2pchat --json` child. The scenario sees only this interface.
 */
import type { LiveViews } from './overlay-rules.js';
import type { NodeConfig } from '../config.js';
import type { LinkSecurityName } from '../link/link-security.js';
import type { Driver } from './driver.js';

export type TransportName = 'tcp' | 'memory' | 'process' | 'sim';

export interface LabNode {
  readonly index: number;
  readonly id: string;
  alive: boolean;
}

/** What the cluster reports while it runs; the recorder turns it into measurements. */
export interface ClusterObserver {
  /** A chat message was delivered at `nodeId`. */
  delivered(nodeId: string, message: { id: string; originId: string; hops: number; latencyMs: number }): void;
  /** A Receipt for `messageId` came back to its sender. */
  receipted(messageId: string, hops: number): void;
  /** One Routed copy of a message was received by some node (duplicates included). */
  copyReceived(originId: string, messageId: string): void;
}

export interface Cluster {
  readonly driver: Driver;
  readonly nodes: readonly LabNode[];
  /**
   * Whether `copyReceived` hears of every Routed copy. Without it the RMR of a phase is not
   * measured (null), never computed from a count of 0 copies.
   */
  readonly countsCopies: boolean;
  /** Starts one more node, joining through `seedIndex` (none for the first). */
  add(seedIndex: number | undefined): Promise<LabNode>;
  /** Kills a node without Leave, as a crashed process. */
  kill(index: number): Promise<void>;
  /** Stops a node gracefully: Leave to its neighbours. */
  leave(index: number): Promise<void>;
  /** Cuts the mesh into groups of node indexes; false when the transport cannot. */
  partition(groups: readonly (readonly number[])[]): boolean;
  heal(): void;
  /** Sends a broadcast from node `index`; resolves to the message id. */
  broadcast(index: number, text: string): Promise<string>;
  send(index: number, toId: string, text: string): Promise<string>;
  /**
   * Active views of the live nodes, by id. An array may be the node's own (unchanged until its
   * view changes, so a watcher can tell "no change" by identity): read it, never change it.
   */
  activeViews(): Promise<LiveViews>;
  /** Memory and CPU of the whole cluster, where it can be measured. */
  resources(): { heapBytes: number; rssBytes: number; cpuMs: number } | undefined;
  close(): Promise<void>;
}

export interface ClusterOptions {
  transport: TransportName;
  driver: Driver;
  /** Settings of every node (membership, router, sizes...). */
  config: Partial<NodeConfig>;
  seed: number;
  observer: ClusterObserver;
  /**
   * `plaintext`: the memory transport's nodes skip the links' crypto (link/link-security.ts),
   * for simulations too large to pay for it. Default `sealed`.
   */
  links?: LinkSecurityName;
}
