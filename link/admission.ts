/**
 * Who may connect: caps on connections in total, per remote address (an IPv6 /64 counts as one)
 * and per IPv4 /24, token buckets on new inbound connections (global and per address), slots
 * kept for our own dials, and a ban list of misbehaving peers by node id and announced address.
 * Loopback is exempt from the per-IP caps unless `limitLoopback` is set, since many honest
 * nodes of a lab share it.
 */
import type { Address, NodeConfig } from '../config.js';
import { formatAddress } from '../config.js';
import type { Clock } from '../utils/clock.js';
import { KeyedRate } from '../utils/keyed-rate.js';
import { TokenBucket } from '../utils/token-bucket.js';

export function isLoopback(host: string): boolean {
  return host === '::1' || host === 'localhost' || host.startsWith('127.');
}

/**
 * The key a connection is counted under for the per-address caps: the exact IPv4 address, or the
 * /64 of an IPv6 one (one host is routinely given a whole /64, so exact IPv6 addresses would let
 * it open unlimited connections).
 */
export function addressKeyOf(host: string): string {
  if (!host.includes(':')) return host;
  return `${expandIpv6(host).slice(0, 4).join(':')}::/64`;
}

/** The /24 of an IPv4 address, or undefined for IPv6 (whose /64 is already the address key). */
export function subnetKeyOf(host: string): string | undefined {
  if (host.includes(':')) return undefined;
  const parts = host.split('.');
  return parts.length === 4 ? `${parts.slice(0, 3).join('.')}.0/24` : undefined;
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded and any embedded IPv4 ignored. */
function expandIpv6(host: string): string[] {
  const [head = '', tail] = host.split('%')[0]?.split('::') ?? [''];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = Math.max(0, 8 - left.length - right.length);
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => group.toLowerCase() || '0');
}

/** Per-prefix accept buckets remembered (an LRU): a forgotten prefix gets only a fresh burst. */
const ACCEPT_PREFIXES_REMEMBERED = 4096;

export class Admission {
  /** Open connections per address key (`addressKeyOf`) and per IPv4 /24. */
  readonly #perAddress = new Map<string, number>();
  readonly #perSubnet = new Map<string, number>();
  #total = 0;
  #inbound = 0;
  readonly #acceptBucket: TokenBucket;
  /** New inbound connections per address key, so that no one client drains the global bucket. */
  readonly #acceptPerAddress: KeyedRate;
  /** key (id or address) -> banned until (ms). Bounded: expired entries are swept on insert. */
  readonly #bans = new Map<string, number>();
  static readonly MAX_BANS = 10_000;

  constructor(
    private readonly config: NodeConfig,
    private readonly clock: Clock,
  ) {
    this.#acceptBucket = new TokenBucket(clock, config.acceptRatePerSecond, config.acceptBurst);
    this.#acceptPerAddress = new KeyedRate(
      clock,
      config.acceptRatePerAddressPerSecond,
      config.acceptBurstPerAddress,
      ACCEPT_PREFIXES_REMEMBERED,
    );
  }

  get connectionCount(): number {
    return this.#total;
  }

  /**
   * Why an inbound connection from `host` is refused, or undefined when it may proceed. Inbound
   * connections never take the last `reservedDialSlots` slots: a node saturated by others can
   * still dial to repair its views.
   */
  refuseInbound(host: string): string | undefined {
    const { maxConnections, reservedDialSlots } = this.config;
    // At most a quarter kept back, so a small maxConnections still admits inbound connections.
    const inboundCap = maxConnections - Math.min(reservedDialSlots, Math.floor(maxConnections / 4));
    if (this.#total >= maxConnections || this.#inbound >= inboundCap) return 'max-connections';
    if (this.#isIpLimited(host)) {
      if ((this.#perAddress.get(addressKeyOf(host)) ?? 0) >= this.config.maxConnectionsPerIp) {
        return 'max-connections-per-ip';
      }
      const subnet = subnetKeyOf(host);
      if (subnet && (this.#perSubnet.get(subnet) ?? 0) >= this.config.maxConnectionsPerSubnet) {
        return 'max-connections-per-subnet';
      }
      if (!this.#acceptPerAddress.tryTake(addressKeyOf(host))) return 'accept-rate-per-ip';
    }
    if (!this.#acceptBucket.tryTake()) return 'accept-rate';
    return undefined;
  }

  /** Whether an outbound connection may open now. */
  mayDial(): boolean {
    return this.#total < this.config.maxConnections;
  }

  opened(host: string, direction: 'inbound' | 'outbound'): void {
    this.#total++;
    if (direction === 'inbound') this.#inbound++;
    increment(this.#perAddress, addressKeyOf(host), 1);
    const subnet = subnetKeyOf(host);
    if (subnet) increment(this.#perSubnet, subnet, 1);
  }

  closed(host: string, direction: 'inbound' | 'outbound'): void {
    this.#total--;
    if (direction === 'inbound') this.#inbound--;
    increment(this.#perAddress, addressKeyOf(host), -1);
    const subnet = subnetKeyOf(host);
    if (subnet) increment(this.#perSubnet, subnet, -1);
  }

  ban(id: string | undefined, address: Address | undefined): void {
    if (this.config.banMs === 0) return;
    const until = this.clock.now() + this.config.banMs;
    if (this.#bans.size >= Admission.MAX_BANS) this.#sweep();
    if (id) this.#bans.set(`id:${id}`, until);
    if (address && address.port !== 0) this.#bans.set(`addr:${formatAddress(address)}`, until);
  }

  isIdBanned(id: string): boolean {
    return this.#isBanned(`id:${id}`);
  }

  isAddressBanned(address: Address): boolean {
    return this.#isBanned(`addr:${formatAddress(address)}`);
  }

  get banCount(): number {
    return this.#bans.size;
  }

  #isBanned(key: string): boolean {
    const until = this.#bans.get(key);
    if (until === undefined) return false;
    if (until > this.clock.now()) return true;
    this.#bans.delete(key);
    return false;
  }

  #isIpLimited(host: string): boolean {
    return this.config.limitLoopback || !isLoopback(host);
  }

  #sweep(): void {
    const now = this.clock.now();
    for (const [key, until] of this.#bans) if (until <= now) this.#bans.delete(key);
    // Still full of live bans: forget the oldest rather than grow without bound.
    while (this.#bans.size >= Admission.MAX_BANS) {
      const oldest = this.#bans.keys().next().value;
      if (oldest === undefined) break;
      this.#bans.delete(oldest);
    }
  }
}

/** Adds `by` to a count, deleting it at zero so the map holds only open connections' keys. */
function increment(counts: Map<string, number>, key: string, by: number): void {
  const count = (counts.get(key) ?? 0) + by;
  if (count <= 0) counts.delete(key);
  else counts.set(key, count);
}
