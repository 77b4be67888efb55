/**
 * Every node its own `p2pchat --json` child process: real isolation, driven through the same
 * stdin commands and stdout events a script would use. Meant for tens of nodes.
 *
 * RMR needs a count of every copy received, which the JSON interface does not report per
 * message; over this transport the phase's RMR is left undefined (null).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { NodeConfig } from '../config.js';
import { parseJsonEvent, type JsonEvent, type JsonEventName, type JsonEventOf } from '../events.js';
import { formatAddress } from '../config.js';
import { kebab } from '../config-flags.js';
import { NETWORK_KEY_ENV } from '../crypto/network-key.js';
import type { Cluster, ClusterOptions, LabNode } from './cluster.js';
import type { Driver } from './driver.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

interface Child extends LabNode {
  /** Known once the child printed `ready`. */
  id: string;
  process: ChildProcess;
  port: number;
  /** Waiters for the next event of a kind (sent, peers). */
  waiters: Array<{ kind: JsonEventName; resolve: (event: JsonEvent) => void }>;
}

/**
 * `{activeSize: 5}` -> `['--active-size', '5']`. Never the network key: a command line is
 * readable by every user of the machine (`ps`); it goes in the environment (`childEnv`).
 */
export function configFlags(config: Partial<NodeConfig>): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (key === 'networkKey') continue;
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
      flags.push(`--${kebab(key)}`, String(value));
    }
  }
  return flags;
}

/**
 * A child's environment: this process's, with the mesh's network key in P2PCHAT_NETWORK_KEY
 * (readable only by this user, in /proc/PID/environ), or without one for an open mesh.
 */
export function childEnv(
  config: Partial<NodeConfig>,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const childEnvironment = { ...env };
  delete childEnvironment[NETWORK_KEY_ENV];
  if (config.networkKey !== undefined) childEnvironment[NETWORK_KEY_ENV] = config.networkKey;
  return childEnvironment;
}

export class ProcessCluster implements Cluster {
  readonly driver: Driver;
  /** The JSON interface reports deliveries, not every copy received: no RMR here. */
  readonly countsCopies = false;
  readonly #children: Child[] = [];
  readonly #options: ClusterOptions;

  constructor(options: ClusterOptions) {
    this.#options = options;
    this.driver = options.driver;
  }

  get nodes(): readonly LabNode[] {
    return this.#children;
  }

  async add(seedIndex: number | undefined): Promise<LabNode> {
    const index = this.#children.length;
    const seed = seedIndex === undefined ? undefined : this.#children[seedIndex];
    const args = [CLI, '--json', '--port', '0', '--name', `lab-${index}`, '--log-level', 'warn'];
    if (seed) args.push('--seed', formatAddress({ host: '127.0.0.1', port: seed.port }));
    args.push(...configFlags(this.#options.config));
    const child = spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: childEnv(this.#options.config),
    });
    const entry: Child = { index, id: '', alive: true, process: child, port: 0, waiters: [] };
    const ready = this.#next(entry, 'ready');
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
      this.#onLine(entry, line),
    );
    child.once('exit', () => {
      entry.alive = false;
    });
    const event = await Promise.race([
      ready,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`lab node ${index} not ready`)), READY_TIMEOUT_MS).unref(),
      ),
    ]);
    entry.id = event.id;
    entry.port = event.port;
    this.#children.push(entry);
    return entry;
  }

  async kill(index: number): Promise<void> {
    const child = this.#child(index);
    child.alive = false;
    const exited = new Promise((resolve) => child.process.once('exit', resolve));
    child.process.kill('SIGKILL');
    await exited;
  }

  async leave(index: number): Promise<void> {
    const child = this.#child(index);
    child.alive = false;
    const exited = new Promise((resolve) => child.process.once('exit', resolve));
    child.process.stdin?.write('/quit\n');
    await exited;
  }

  partition(): boolean {
    return false;
  }

  heal(): void {}

  async broadcast(index: number, text: string): Promise<string> {
    const child = this.#child(index);
    const sent = this.#next(child, 'sent');
    child.process.stdin?.write(`${text.replace(/^\//, '')}\n`);
    return (await sent).id;
  }

  async send(index: number, toId: string, text: string): Promise<string> {
    const child = this.#child(index);
    const sent = this.#next(child, 'sent');
    child.process.stdin?.write(`/msg ${toId} ${text}\n`);
    return (await sent).id;
  }

  async activeViews(): Promise<Map<string, string[]>> {
    const live = this.#children.filter((c) => c.alive);
    const answers = await Promise.all(
      live.map((child) => {
        const peers = this.#next(child, 'peers');
        child.process.stdin?.write('/peers\n');
        return peers;
      }),
    );
    const views = new Map<string, string[]>();
    live.forEach((child, i) => {
      const active = answers[i]?.active ?? [];
      views.set(
        child.id,
        active.map((peer) => peer.id),
      );
    });
    return views;
  }

  /** Summed over the live children, from /proc (Linux); undefined elsewhere. */
  resources(): { heapBytes: number; rssBytes: number; cpuMs: number } | undefined {
    try {
      let rssBytes = 0;
      let cpuTicks = 0;
      for (const child of this.#children.filter((c) => c.alive)) {
        const statm = readFileSync(`/proc/${child.process.pid}/statm`, 'utf8').split(' ');
        rssBytes += Number(statm[1]) * 4096;
        const stat = readFileSync(`/proc/${child.process.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuTicks += Number(fields[11]) + Number(fields[12]);
      }
      return { heapBytes: rssBytes, rssBytes, cpuMs: cpuTicks * 10 };
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#children.filter((c) => c.alive).map((c) => this.kill(c.index)));
  }

  #onLine(child: Child, line: string): void {
    const event = parseJsonEvent(line);
    if (!event) return;
    const waiter = child.waiters.findIndex((w) => w.kind === event.event);
    if (waiter >= 0) child.waiters.splice(waiter, 1)[0]?.resolve(event);
    const { observer } = this.#options;
    if (event.event === 'message') {
      observer.delivered(child.id, {
        id: event.id,
        originId: event.from,
        hops: event.hops,
        latencyMs: event.latencyMs,
      });
    } else if (event.event === 'receipt') {
      observer.receipted(event.messageId, event.hops);
    }
  }

  /** The next event named `kind`; waiters of one kind are served in the order they asked. */
  #next<Name extends JsonEventName>(child: Child, kind: Name): Promise<JsonEventOf<Name>> {
    return new Promise((resolve) =>
      // The event resolving this waiter was matched on its name: it is a JsonEventOf<Name>.
      child.waiters.push({ kind, resolve: (event) => resolve(event as JsonEventOf<Name>) }),
    );
  }

  #child(index: number): Child {
    const child = this.#children[index];
    if (!child) throw new Error(`no lab node ${index}`);
    return child;
  }
}
