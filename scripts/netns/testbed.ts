/**
 * Test hosts as Linux network namespaces, wired to one switch (a bridge):
 *
 *   netns <run>-sw              netns <run>-h1                netns <run>-h2
 *   +--------------------+      +----------------------+      +----------------------+
 *   | br0 --- p1 ========|======|= eth0 10.213.0.1/24  |      |                      |
 *   |     \-- p2 ========|======|======================|======|= eth0 10.213.0.2/24  |
 *   |     \-- ...        |      |       fd00:213::1/64 |      |       fd00:213::2/64 |
 *   +--------------------+      +----------------------+      +----------------------+
 *
 * The switch has a namespace of its own, so nothing is added to the machine's own network:
 * the test range exists only on the wires between these namespaces, and no namespace has a
 * route anywhere else. Namespace names carry the run's prefix (`p2pc-<pid>-<random>`), so
 * parallel runs never collide; names inside a namespace (br0, pN, eth0) need no prefix.
 *
 * Cutting a host's link sets its switch port down, like pulling the cable: the host keeps its
 * addresses and sees no carrier (an IPv6 address on an interface set down would be flushed).
 *
 * Every call is synchronous (`spawnSync`), so `destroy()` also works from a signal or exit
 * handler. It kills what still runs inside the namespaces (only processes this run started can
 * be there) and deletes them, which removes the bridge and every veth pair with them.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface TestHost {
  /** 1-based: host N has 10.213.0.N and fd00:213::N (hex). */
  readonly index: number;
  readonly name: string;
  readonly ns: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

/** The private test range; it exists only inside the namespaces of a run. */
export const IPV4_PREFIX = '10.213.0.';
export const IPV6_PREFIX = 'fd00:213::';
export const MAX_HOSTS = 250;

const NAME_PREFIX = 'p2pc-';
const RUN_NAME = /^p2pc-(\d+)-[0-9a-f]+-(sw|h\d+|probe)$/;

export class TestbedError extends Error {
  override readonly name = 'TestbedError';
}

/** iproute2's `ip`: on the PATH, or where Debian puts it (root's PATH may lack sbin). */
const IP = ['ip', '/usr/sbin/ip', '/sbin/ip'].find((path) => !spawnSync(path, ['-V']).error) ?? 'ip';

/** Runs `ip ...args`; throws with ip's own message when it fails. */
function ip(...args: string[]): string {
  const result = spawnSync(IP, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.error) throw new TestbedError(`ip ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new TestbedError(`ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.status}`}`);
  }
  return result.stdout;
}

function newRunPrefix(): string {
  return `${NAME_PREFIX}${process.pid}-${randomBytes(2).toString('hex')}`;
}

/**
 * Why namespaces cannot be built here, or undefined when they can: Linux, root, iproute2's
 * `ip`, and the right to create a namespace (a container may refuse it even to root).
 */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces (run it with sudo)';
  const version = spawnSync(IP, ['-V'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return "needs iproute2's 'ip' command (apt-get install -y iproute2)";
  }
  const probe = `${newRunPrefix()}-probe`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
  ip('netns', 'del', probe);
  return undefined;
}

/** `ip netns exec` runs the command in place (no fork), so a child's pid is the program's. */
function canSetParentDeathSignal(): boolean {
  const help = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
  return !help.error && help.stdout.includes('--pdeathsig');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside a namespace and deletes it; quiet about what is already gone. */
function removeNamespace(ns: string): void {
  const pids = spawnSync(IP, ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  for (const pid of (pids.stdout ?? '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  spawnSync(IP, ['netns', 'del', ns], { timeout: 10_000 });
}

/** The namespaces whose name starts with `<prefix>-`: what a run with that prefix left. */
export function namespacesOf(prefix: string): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${prefix}-`));
}

/**
 * Deletes the namespaces of earlier runs whose process no longer exists (a run killed with
 * SIGKILL cannot clean up). Returns their names. Live runs are never touched.
 */
export function sweepStaleNamespaces(): string[] {
  const swept: string[] = [];
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = RUN_NAME.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    removeNamespace(name);
    swept.push(name);
  }
  return swept;
}

export class Testbed {
  readonly prefix: string;
  readonly hosts: readonly TestHost[];
  readonly #switchNs: string;
  /** Namespaces made so far, in order: a failed build removes exactly these. */
  readonly #made: string[] = [];
  readonly #deathSignal: boolean;
  #destroyed = false;

  /** Builds the switch and `hostCount` hosts; on any failure removes what it made and throws. */
  constructor(hostCount: number) {
    if (!Number.isInteger(hostCount) || hostCount < 2 || hostCount > MAX_HOSTS) {
      throw new TestbedError(`host count must be an integer from 2 to ${MAX_HOSTS}, got ${hostCount}`);
    }
    this.prefix = newRunPrefix();
    this.#switchNs = `${this.prefix}-sw`;
    this.#deathSignal = canSetParentDeathSignal();
    this.hosts = Array.from({ length: hostCount }, (_, i) => ({
      index: i + 1,
      name: `h${i + 1}`,
      ns: `${this.prefix}-h${i + 1}`,
      ipv4: `${IPV4_PREFIX}${i + 1}`,
      ipv6: `${IPV6_PREFIX}${(i + 1).toString(16)}`,
    }));
    try {
      this.#addNamespace(this.#switchNs);
      ip('-n', this.#switchNs, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', this.#switchNs, 'link', 'set', 'br0', 'up');
      for (const host of this.hosts) this.#addHost(host);
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  #addNamespace(ns: string): void {
    ip('netns', 'add', ns);
    this.#made.push(ns);
  }

  #addHost(host: TestHost): void {
    const port = `p${host.index}`;
    this.#addNamespace(host.ns);
    ip('-n', this.#switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns);
    ip('-n', this.#switchNs, 'link', 'set', port, 'master', 'br0', 'up');
    ip('-n', host.ns, 'link', 'set', 'lo', 'up');
    ip('-n', host.ns, 'addr', 'add', `${host.ipv4}/24`, 'dev', 'eth0');
    // nodad: the address is usable at once, not "tentative" for a second of duplicate detection.
    ip('-n', host.ns, 'addr', 'add', `${host.ipv6}/64`, 'dev', 'eth0', 'nodad');
    ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
  }

  /** Pulls the host's cable: its switch port goes down. */
  cut(host: TestHost): void {
    ip('-n', this.#switchNs, 'link', 'set', `p${host.index}`, 'down');
  }

  /** Plugs the cable back in. */
  heal(host: TestHost): void {
    ip('-n', this.#switchNs, 'link', 'set', `p${host.index}`, 'up');
  }

  /**
   * The argv that runs `command` inside the host. With util-linux's setpriv, the program also
   * dies with its parent, so even a run killed with SIGKILL leaves no process behind.
   */
  commandIn(host: TestHost, command: readonly string[]): [string, string[]] {
    const guard = this.#deathSignal ? ['setpriv', '--pdeathsig', 'KILL'] : [];
    return [IP, ['netns', 'exec', host.ns, ...guard, ...command]];
  }

  /** Kills what runs in the namespaces and deletes them. Synchronous and idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const ns of this.#made.reverse()) removeNamespace(ns);
  }
}
