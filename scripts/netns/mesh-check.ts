/**
 * The mesh check: K hosts as network namespaces, one `p2pchat --json` per host, and delivery
 * checked at each step of a link failure.
 *
 *   grow     h1 starts; h2..hK join through it as their only seed; wait until the overlay has
 *            settled (see #waitSettled: connected, symmetric, every view full)
 *   steady   every host broadcasts once and sends one direct message: all delivered, receipted
 *   cut      the cut host's switch port goes down; wait until every other host dropped it
 *            (missed pings) and their overlay has settled again; the K-1 deliver among
 *            themselves, and the cut host gets none of it
 *   healed   the port comes back up; the cut host's node, which kept retrying, rejoins; wait
 *            until the overlay of all K has settled: full delivery again
 *
 * Hosts cycle through six ways to listen and announce (HOST_ROLES), so one run covers a
 * wildcard listen address with and without --announce, IPv4 and IPv6. Every wait is bounded by
 * `timeoutMs` and driven by the nodes' events. Whatever happens, including SIGINT, SIGTERM or
 * SIGHUP, every process and namespace of the run is removed before it returns or dies.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../../config.js';
import { HostNode } from './host-node.js';
import { MAX_HOSTS, Testbed, type TestHost } from './testbed.js';
import { Watch } from './watch.js';

export interface MeshCheckOptions {
  /** Test hosts, 3 to 250. @default 6 */
  hosts?: number;
  /** The host whose link is cut, 2..K (not the seed). @default K */
  cutHost?: number;
  /** The port every node listens on, in its own namespace. @default 7000 */
  port?: number;
  /** Bound of each wait (growth, failure detection, each delivery check, rejoin). @default 15000 */
  timeoutMs?: number;
  /** Progress lines. @default nothing */
  log?: (line: string) => void;
  /** `node dist/cli/main.js`, found from this file in the source tree or in dist/. */
  cliEntry?: string;
  /** Keep each node's debug log as DIR/hN.log (otherwise warnings only, last lines on failure). */
  logDir?: string;
}

export interface PhaseReport {
  name: string;
  /** Hosts that sent and had to receive. */
  hosts: string[];
  broadcasts: number;
  /** Deliveries that had to happen: broadcasts x (hosts - 1). */
  deliveries: number;
  directs: number;
  maxHops: number;
  /** From the first send to the last delivery or receipt. */
  deliveryMs: number;
  /** The wait before the sends (growth, failure detection, rejoin). */
  settleMs: number;
}

export interface MeshReport {
  prefix: string;
  hosts: Array<{ name: string; id: string; args: string; announced: string }>;
  cutHost: string;
  phases: PhaseReport[];
  /**
   * View entries (from /peers at the end) at an address where that node does not listen: a
   * wildcard gossiped as is, or an address of a family its listener does not accept.
   */
  undialable: string[];
  totalMs: number;
}

interface Role {
  what: string;
  listen: (host: TestHost) => string;
  announce?: (host: TestHost, port: number) => string;
}

/** How host N listens and announces: HOST_ROLES[(N - 1) % 6]. h1, the seed, names itself. */
export const HOST_ROLES: readonly Role[] = [
  { what: 'IPv4 wildcard, --announce', listen: () => '0.0.0.0', announce: (h, p) => `${h.ipv4}:${p}` },
  { what: 'IPv4 wildcard, no --announce', listen: () => '0.0.0.0' },
  { what: 'IPv6 wildcard, --announce [v6]', listen: () => '::', announce: (h, p) => `[${h.ipv6}]:${p}` },
  { what: 'dual-stack wildcard, no --announce', listen: () => '::' },
  { what: 'IPv4 address', listen: (h) => h.ipv4 },
  { what: 'IPv6 address', listen: (h) => h.ipv6 },
];

/** Short timers: failures are noticed in 1.5 s, repairs retried at least every second. */
const FAST_TIMERS = [
  ['--ping-idle-ms', '500'],
  ['--ping-timeout-ms', '500'],
  ['--shuffle-ms', '1000'],
  ['--retry-base-backoff-ms', '100'],
  ['--retry-max-backoff-ms', '1000'],
  ['--dial-timeout-ms', '1000'],
  ['--handshake-timeout-ms', '2000'],
  ['--receipt-timeout-ms', '5000'],
].flat();

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const STOP_TIMEOUT_MS = 3000;
/** No view changed for this long: the overlay has settled even if some views are not full. */
const QUIET_MS = 2000;

export function defaultCliEntry(): string {
  const built = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
  return existsSync(built) ? built : fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
}

const bracket = (host: string): string => (host.includes(':') ? `[${host}]` : host);

export async function runMeshCheck(options: MeshCheckOptions = {}): Promise<MeshReport> {
  const started = performance.now();
  const run = new MeshRun(options);
  const detach = guardSignals(() => run.abort());
  try {
    await run.scenario();
    return { ...run.report(), totalMs: Math.round(performance.now() - started) };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${run.transcripts()}`, { cause: err });
  } finally {
    await run.close();
    detach();
  }
}

/** Synchronous cleanup on SIGINT, SIGTERM, SIGHUP and exit; the signal then does what it did. */
function guardSignals(cleanup: () => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanup();
    detach();
    // Alone on this signal, we re-raise it, so the process dies of it as it would have.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const detach = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
    process.off('exit', cleanup);
  };
  for (const signal of signals) process.on(signal, onSignal);
  process.on('exit', cleanup);
  return detach;
}

class MeshRun {
  readonly #hostCount: number;
  readonly #cutIndex: number;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #cliEntry: string;
  readonly #logDir: string | undefined;
  readonly #nonce = randomBytes(3).toString('hex');
  readonly #watch = new Watch(() => this.#fatal());
  readonly #nodes: HostNode[] = [];
  readonly #phases: PhaseReport[] = [];
  #testbed: Testbed | undefined;
  #stopping = false;
  #undialable: string[] = [];

  constructor(options: MeshCheckOptions) {
    this.#hostCount = options.hosts ?? 6;
    this.#cutIndex = options.cutHost ?? this.#hostCount;
    this.#port = options.port ?? 7000;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#log = options.log ?? (() => undefined);
    this.#cliEntry = options.cliEntry ?? defaultCliEntry();
    this.#logDir = options.logDir === undefined ? undefined : resolve(options.logDir);
    // Three at least: the cut leaves two hosts that still message each other.
    if (!Number.isInteger(this.#hostCount) || this.#hostCount < 3 || this.#hostCount > MAX_HOSTS) {
      throw new RangeError(`the host count must be 3 to ${MAX_HOSTS}`);
    }
    // Not h1: it has no seed of its own to rejoin through once its passive view has expired.
    if (!Number.isInteger(this.#cutIndex) || this.#cutIndex < 2 || this.#cutIndex > this.#hostCount) {
      throw new RangeError(`the cut host must be 2 to ${this.#hostCount} (h1 is the seed)`);
    }
    if (!existsSync(this.#cliEntry)) throw new Error(`${this.#cliEntry} is missing: run 'npm run build'`);
  }

  async scenario(): Promise<void> {
    if (this.#logDir) mkdirSync(this.#logDir, { recursive: true });
    const testbed = new Testbed(this.#hostCount);
    this.#testbed = testbed;
    this.#log(`testbed ${testbed.prefix}: ${this.#hostCount} namespaces on one bridge`);
    const all = await this.#grow(testbed);
    await this.#deliver('steady', all, 0);
    const cut = this.#nodes[this.#cutIndex - 1] as HostNode;
    const rest = all.filter((node) => node !== cut);
    let settleStart = performance.now();
    testbed.cut(cut.host);
    this.#log(`cut ${cut.name}'s link`);
    await this.#waitCutDetected(cut, rest);
    await this.#waitSettled(rest, 'the hosts left after the cut');
    const during = await this.#deliver('cut', rest, performance.now() - settleStart);
    const leaked = during.texts.filter((text) => cut.find('message', (e) => e.text === text).length > 0);
    if (leaked.length > 0) throw new Error(`${cut.name} got messages while cut off: ${leaked.join(', ')}`);
    settleStart = performance.now();
    testbed.heal(cut.host);
    this.#log(`restored ${cut.name}'s link`);
    await this.#waitSettled(all, `${cut.name} rejoining`);
    await this.#deliver('healed', all, performance.now() - settleStart);
    this.#checkResolvedAddresses();
    this.#undialable = await this.#undialableViewEntries();
  }

  // --- growth -------------------------------------------------------------------------------

  async #grow(testbed: Testbed): Promise<HostNode[]> {
    const started = performance.now();
    const [first, ...others] = testbed.hosts as [TestHost, ...TestHost[]];
    const seed = this.#start(testbed, first, undefined);
    await this.#watch.until(() => (seed.isReady ? [] : ['ready']), `${seed.name} starting`, this.#timeoutMs);
    const seedAddress = `${bracket(seed.self.host)}:${seed.self.port}`;
    for (const host of others) this.#start(testbed, host, seedAddress);
    const all = [...this.#nodes];
    await this.#watch.until(
      () => all.filter((node) => !node.isReady).map((node) => `${node.name} ready`),
      'hosts starting',
      this.#timeoutMs,
    );
    this.#checkAnnounced(all);
    await this.#waitSettled(all, `the mesh growing from ${seed.name}`);
    this.#log(`mesh of ${all.length} grew in ${Math.round(performance.now() - started)} ms`);
    return all;
  }

  #start(testbed: Testbed, host: TestHost, seed: string | undefined): HostNode {
    const role = HOST_ROLES[(host.index - 1) % HOST_ROLES.length] as Role;
    const args = ['--json', '--name', host.name, '--host', role.listen(host), '--port', String(this.#port)];
    if (role.announce) args.push('--announce', role.announce(host, this.#port));
    if (seed) args.push('--seed', seed);
    const logs = this.#logDir
      ? ['--log-level', 'debug', '--log-file', join(this.#logDir, `${host.name}.log`)]
      : ['--log-level', 'warn'];
    const argv = [process.execPath, this.#cliEntry, ...args, ...logs, ...FAST_TIMERS];
    const node = new HostNode(host, args, testbed.commandIn(host, argv), () => this.#watch.changed());
    this.#nodes.push(node);
    this.#log(`${host.name} started: pid ${node.child.pid}, ${role.what}: ${args.slice(3).join(' ')}`);
    return node;
  }

  /** `ready` announces --announce, else the listen address, wildcard included. */
  #checkAnnounced(nodes: HostNode[]): void {
    for (const node of nodes) {
      const announce = argValue(node.args, '--announce');
      const expected = announce ?? `${bracket(argValue(node.args, '--host') ?? '')}:${this.#port}`;
      const got = `${bracket(node.self.host)}:${node.self.port}`;
      if (got !== expected) throw new Error(`${node.name} announced ${got}, expected ${expected}`);
    }
  }

  // --- conditions ---------------------------------------------------------------------------

  #fatal(): string | undefined {
    if (this.#stopping) return 'the run was stopped';
    const dead = this.#nodes.find((node) => !node.isRunning);
    return dead ? `${dead.name} exited (${dead.exitStatus})` : undefined;
  }

  /**
   * The overlay has settled: links both ends hold active connect the group, no link is held
   * by one end only, and either every view is full (or holds the whole group), so nobody is
   * looking for neighbours, or no view has changed for QUIET_MS (in a larger mesh some views
   * can stay one short: full nodes refuse low-priority Neighbor requests). Messages are sent
   * only then: while a neighbour link is being set up or replaced, a message on it can be lost
   * (one end refuses data on a link it does not hold yet; a replaced link's frames are
   * discarded), and that is not what this check measures.
   */
  async #waitSettled(group: HostNode[], what: string): Promise<void> {
    const wanted = Math.min(DEFAULTS.activeSize, group.length - 1);
    const unsettled = (): string[] => {
      const unreached = unreachedFrom(group);
      if (unreached.length > 0) return unreached;
      const asymmetric = oneSided(group);
      if (asymmetric.length > 0) return asymmetric;
      const quietMs = performance.now() - Math.max(...group.map((node) => node.viewChangedAtMs));
      if (quietMs >= QUIET_MS) return [];
      return group
        .filter((node) => group.filter((peer) => node.active.has(peer.self.id)).length < wanted)
        .map((node) => `${node.name} holding ${wanted} neighbours or a quiet overlay`);
    };
    await this.#watch.until(unsettled, what, this.#timeoutMs, QUIET_MS / 4);
  }

  async #waitCutDetected(cut: HostNode, rest: HostNode[]): Promise<void> {
    await this.#watch.until(
      () => [
        ...rest
          .filter((node) => node.active.has(cut.self.id))
          .map((n) => `${n.name} still holds ${cut.name}`),
        ...[...cut.active.values()].map((peer) => `${cut.name} still holds ${peer.name}`),
      ],
      `the cut of ${cut.name} being detected`,
      this.#timeoutMs,
    );
  }

  // --- delivery -----------------------------------------------------------------------------

  /** Each node broadcasts once and sends one direct message to the next; all must arrive. */
  async #deliver(phase: string, group: HostNode[], settleMs: number): Promise<{ texts: string[] }> {
    const started = performance.now();
    const broadcasts = group.map((from) => ({
      from,
      text: `${phase} broadcast from ${from.name} ${this.#nonce}`,
    }));
    const directs = group.map((from, i) => {
      const to = group[(i + 1) % group.length] as HostNode;
      return { from, to, text: `${phase} direct ${from.name} to ${to.name} ${this.#nonce}` };
    });
    for (const { from, text } of broadcasts) from.send(text);
    for (const { from, to, text } of directs) from.send(`/msg ${to.self.id} ${text}`);
    const missing = (): string[] => [
      ...broadcasts.flatMap(({ from, text }) =>
        group
          .filter((to) => to !== from && !hasMessage(to, from, text))
          .map((to) => `${to.name} has not got ${from.name}'s broadcast`),
      ),
      ...directs.flatMap(({ from, to, text }) => [
        ...(hasMessage(to, from, text) ? [] : [`${to.name} has not got ${from.name}'s direct message`]),
        ...(hasReceipt(from, text) ? [] : [`${from.name} has no receipt from ${to.name}`]),
      ]),
    ];
    await this.#watch.until(missing, `${phase}: delivery among ${names(group)}`, this.#timeoutMs);
    const texts = [...broadcasts, ...directs].map((m) => m.text);
    const hops = group.flatMap((node) => node.find('message', (e) => texts.includes(e.text)));
    const report: PhaseReport = {
      name: phase,
      hosts: group.map((node) => node.name),
      broadcasts: broadcasts.length,
      deliveries: broadcasts.length * (group.length - 1),
      directs: directs.length,
      maxHops: Math.max(...hops.map((e) => Number(e.hops))),
      deliveryMs: Math.round(performance.now() - started),
      settleMs: Math.round(settleMs),
    };
    this.#phases.push(report);
    this.#log(
      `${phase}: ${report.deliveries} deliveries and ${report.directs} receipted direct messages among ` +
        `${names(group)} in ${report.deliveryMs} ms (max ${report.maxHops} hops)`,
    );
    return { texts };
  }

  // --- addresses ----------------------------------------------------------------------------

  /**
   * Every peer-up names the peer at its --announce address, its listen address, or (wildcard
   * without --announce) one of the peer's own addresses as its connection came from: never a
   * wildcard, never another host's address, always the node's port. A node on `0.0.0.0`
   * accepts IPv4 only: seen over IPv6 its address is unknown, which the node reports as port 0
   * (it then is never gossiped nor dialled).
   */
  #checkResolvedAddresses(): void {
    const byId = new Map(this.#nodes.map((node) => [node.self.id, node]));
    const wrong: string[] = [];
    for (const node of this.#nodes) {
      for (const up of node.peerUps) {
        const peer = byId.get(up.id);
        if (!peer) continue;
        const declared = WILDCARDS.has(peer.self.host) ? undefined : peer.self.host;
        const allowed = declared ? [declared] : [peer.host.ipv4, peer.host.ipv6];
        const isV4OnlySeenOverV6 =
          peer.self.host === '0.0.0.0' && up.host === peer.host.ipv6 && up.port === 0;
        if (!isV4OnlySeenOverV6 && (!allowed.includes(up.host) || up.port !== this.#port)) {
          wrong.push(
            `${node.name} saw ${peer.name} at ${bracket(up.host)}:${up.port}, not ${allowed.join(' or ')}`,
          );
        }
      }
    }
    if (wrong.length > 0) throw new Error(`peers resolved to wrong addresses:\n  ${wrong.join('\n  ')}`);
  }

  /** Asks every node for /peers and lists the entries at an address the peer does not listen on. */
  async #undialableViewEntries(): Promise<string[]> {
    const before = new Map(this.#nodes.map((node) => [node, node.find('peers').length]));
    for (const node of this.#nodes) node.send('/peers');
    await this.#watch.until(
      () => this.#nodes.filter((n) => n.find('peers').length <= (before.get(n) ?? 0)).map((n) => n.name),
      'answers to /peers',
      this.#timeoutMs,
    );
    const byName = new Map(this.#nodes.map((node) => [node.name, node]));
    return this.#nodes.flatMap((node) => {
      const views = node.find('peers').at(-1);
      const entries = [views?.active, views?.passive].flatMap((list) => list ?? []);
      return entries.flatMap((entry) => {
        const peer = byName.get(entry.name);
        if (!peer || (listensAt(peer).includes(entry.host) && entry.port === this.#port)) return [];
        const listen = argValue(peer.args, '--host') ?? '';
        const why = WILDCARDS.has(entry.host) ? 'a wildcard' : `${peer.name} listens on ${listen}`;
        return [`${node.name} holds ${peer.name} at ${bracket(entry.host)}:${entry.port} (${why})`];
      });
    });
  }

  // --- teardown -----------------------------------------------------------------------------

  report(): Omit<MeshReport, 'totalMs'> {
    return {
      prefix: this.#testbed?.prefix ?? '',
      hosts: this.#nodes.map((node) => ({
        name: node.name,
        id: node.isReady ? node.self.id : '',
        args: node.args.slice(3).join(' '),
        announced: node.isReady ? `${bracket(node.self.host)}:${node.self.port}` : '',
      })),
      cutHost: `h${this.#cutIndex}`,
      phases: this.#phases,
      undialable: this.#undialable,
    };
  }

  transcripts(): string {
    return this.#nodes.map((node) => node.transcript()).join('\n');
  }

  /** Graceful: every node leaves (SIGKILL past the bound), then the namespaces go. */
  async close(): Promise<void> {
    this.#stopping = true;
    try {
      await Promise.all(this.#nodes.map((node) => node.stop(STOP_TIMEOUT_MS)));
    } finally {
      this.abort();
    }
  }

  /** At once and synchronously, for signal and exit handlers. Idempotent. */
  abort(): void {
    this.#stopping = true;
    for (const node of this.#nodes) if (node.isRunning) node.child.kill('SIGKILL');
    this.#testbed?.destroy();
  }
}

function hasMessage(to: HostNode, from: HostNode, text: string): boolean {
  return to.find('message', (e) => e.text === text && e.from === from.self.id).length > 0;
}

function hasReceipt(from: HostNode, text: string): boolean {
  const sent = from.find('sent', (e) => e.text === text)[0];
  return sent !== undefined && from.find('receipt', (e) => e.messageId === sent.id).length > 0;
}

function names(group: HostNode[]): string {
  return group.map((node) => node.name).join(',');
}

/** The addresses where a node accepts connections: `0.0.0.0` is IPv4 only, `::` both. */
function listensAt(node: HostNode): string[] {
  const listen = argValue(node.args, '--host') ?? '';
  if (listen === '0.0.0.0') return [node.host.ipv4];
  if (listen === '::') return [node.host.ipv4, node.host.ipv6];
  return [listen];
}

function argValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

/** Active entries whose peer, in the group, does not hold this node active. */
function oneSided(group: HostNode[]): string[] {
  const byId = new Map(group.map((node) => [node.self.id, node]));
  const missing: string[] = [];
  for (const node of group) {
    for (const id of node.active.keys()) {
      const peer = byId.get(id);
      if (peer && !peer.active.has(node.self.id)) missing.push(`${peer.name} holding ${node.name} back`);
    }
  }
  return missing;
}

/**
 * The group's nodes a breadth-first walk from the first one does not reach, over the links
 * both ends hold as active (a one-sided link carries no data: the other end refuses it).
 */
function unreachedFrom(group: HostNode[]): string[] {
  const byId = new Map(group.filter((node) => node.isReady).map((node) => [node.self.id, node]));
  const start = group[0];
  if (!start || byId.size < group.length)
    return group.filter((n) => !n.isReady).map((n) => `${n.name} ready`);
  const reached = new Set([start]);
  const queue = [start];
  for (let node = queue.shift(); node; node = queue.shift()) {
    for (const id of node.active.keys()) {
      const peer = byId.get(id);
      if (peer && !reached.has(peer) && peer.active.has(node.self.id)) {
        reached.add(peer);
        queue.push(peer);
      }
    }
  }
  return group.filter((node) => !reached.has(node)).map((node) => `${node.name} connected to ${start.name}`);
}
