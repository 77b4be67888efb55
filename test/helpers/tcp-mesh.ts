/**
 * Many real nodes in one process on 127.0.0.1:0, with fast timers, for integration tests.
 * Every node is stopped by `stopAll()`, which tests register in `afterEach`.
 */
import { vi } from 'vitest';
import { Node, type NodeDependencies } from '../../node.js';
import type { NodeConfig } from '../../config.js';
import type { DeliveredMessage } from '../../router.js';

/** Timers shrunk so that tests of failure and healing take seconds, not minutes. */
export const FAST: Partial<NodeConfig> = {
  handshakeTimeoutMs: 2000,
  pingIdleMs: 500,
  pingTimeoutMs: 500,
  shortLivedIdleMs: 2000,
  shuffleIntervalMs: 500,
  retryBaseBackoffMs: 20,
  retryMaxBackoffMs: 300,
  dialTimeoutMs: 2000,
  receiptTimeoutMs: 3000,
};

export interface TestNode {
  node: Node;
  messages: DeliveredMessage[];
}

export class TcpMesh {
  readonly nodes: TestNode[] = [];

  /** Starts one node; its delivered messages are recorded. */
  async add(config: Partial<NodeConfig> = {}, deps: NodeDependencies = {}): Promise<TestNode> {
    const node = new Node({ ...FAST, name: `n${this.nodes.length}`, ...config }, deps);
    const entry: TestNode = { node, messages: [] };
    node.on('message', (message) => entry.messages.push(message));
    this.nodes.push(entry);
    await node.start();
    return entry;
  }

  /** Grows the mesh to `count` nodes, each new one seeded with the first. */
  async grow(count: number, config: Partial<NodeConfig> = {}): Promise<TestNode[]> {
    const first = this.nodes[0] ?? (await this.add(config));
    const seed = { host: first.node.info.host, port: first.node.info.port };
    while (this.nodes.length < count) await this.add({ ...config, seeds: [seed] });
    return this.nodes;
  }

  /**
   * A line a - b - c ... with the static strategy: each node joins only its predecessor.
   * `configOf(i)` adds settings for node i (the origin's TTL, say).
   */
  async line(
    count: number,
    config: Partial<NodeConfig> = {},
    configOf: (index: number) => Partial<NodeConfig> = () => ({}),
  ): Promise<TestNode[]> {
    const line: TestNode[] = [];
    for (let i = 0; i < count; i++) {
      const previous = line[i - 1];
      const seeds = previous ? [{ host: previous.node.info.host, port: previous.node.info.port }] : [];
      line.push(await this.add({ membership: 'static', ...config, ...configOf(i), seeds }));
    }
    await waitFor(
      () => line.every((n, i) => activeCount(n) === (i === 0 || i === count - 1 ? 1 : 2)),
      20_000,
      'the line to form',
    );
    return line;
  }

  running(): TestNode[] {
    return this.nodes.filter((n) => n.node.isRunning);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.node.stop()));
    this.nodes.length = 0;
  }
}

export function activeCount(entry: TestNode): number {
  return entry.node.peers().active.length;
}

/** Waits for a condition, polling; fails the test with `message` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 20_000,
  message: string | (() => string) = 'condition',
): Promise<void> {
  await vi.waitFor(
    () => {
      if (!condition())
        throw new Error(`timed out waiting for ${typeof message === 'string' ? message : message()}`);
    },
    { timeout: timeoutMs, interval: 20 },
  );
}

/**
 * Waits until the active views form one symmetric component and none has changed for `quietMs`:
 * the steady state. While views still change (a node filling its last slot evicts another), a
 * copy sent on a link that is being replaced is lost by design, which flood's redundancy hides
 * most of the time but not always; tests of exactly-once delivery measure the steady state.
 */
export async function waitForQuietOverlay(
  nodes: TestNode[],
  quietMs = 1000,
  timeoutMs = 30_000,
): Promise<void> {
  let views = '';
  let since = Date.now();
  await waitFor(
    () => {
      const now = nodes
        .map(
          (n) =>
            `${n.node.id}:${n.node
              .peers()
              .active.map((p) => p.id)
              .sort()
              .join(',')}`,
        )
        .join(';');
      if (now !== views) {
        views = now;
        since = Date.now();
      }
      return components(nodes) === 1 && isSymmetric(nodes) && Date.now() - since >= quietMs;
    },
    timeoutMs,
    'one symmetric component, quiet',
  );
}

/** A node's name, active view and non-zero drop counters: what a failed wait should print. */
export function describeNode({ node }: TestNode): string {
  const active = node
    .peers()
    .active.map((p) => p.name)
    .join(',');
  const drops = Object.entries(node.stats())
    .filter(([key, value]) => /drop|ban|closed|refused/.test(key) && value > 0)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return `${node.info.name} [${active}] ${drops}`;
}

/** Connected components of the active-view graph among the given nodes. */
export function components(nodes: TestNode[]): number {
  const ids = new Set(nodes.map((n) => n.node.id));
  const adjacency = new Map<string, string[]>();
  for (const n of nodes) {
    const neighbours = n.node.peers().active.map((p) => p.id);
    adjacency.set(
      n.node.id,
      neighbours.filter((id) => ids.has(id)),
    );
  }
  const seen = new Set<string>();
  let count = 0;
  for (const id of ids) {
    if (seen.has(id)) continue;
    count++;
    const stack = [id];
    seen.add(id);
    while (stack.length > 0) {
      const current = stack.pop() as string;
      for (const next of adjacency.get(current) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
  }
  return count;
}

/** Every active edge is listed by both ends. */
export function isSymmetric(nodes: TestNode[]): boolean {
  const byId = new Map(nodes.map((n) => [n.node.id, n]));
  return nodes.every((n) =>
    n.node.peers().active.every((p) => {
      const other = byId.get(p.id);
      return other !== undefined && other.node.peers().active.some((q) => q.id === n.node.id);
    }),
  );
}
