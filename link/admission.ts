/**
 * Who may connect: caps on connections in total and per remote IP, a token bucket on new
 * inbound connections, and a ban list of misbehaving peers by node id and announced address.
 * Loopback is exempt from the per-IP caps unless `limitLoopback` is set, since many honest
 * nodes of a lab share it.
 */
import type { Address, NodeConfig } from '../config.js';
import { formatAddress } from '../config.js';
import type { Clock } from '../utils/clock.js';
import { TokenBucket } from '../utils/token-bucket.js';

export function isLoopback(host: string): boolean {
  return host === '::1' || host === 'localhost' || host.startsWith('127.');
}

export class Admission {
  readonly #perIp = new Map<string, number>();
  #total = 0;
  readonly #acceptBucket: TokenBucket;
  /** key (id or address) -> banned until (ms). Bounded: expired entries are swept on insert. */
  readonly #bans = new Map<string, number>();
  static readonly MAX_BANS = 10_000;

  constructor(
    private readonly config: NodeConfig,
    private readonly clock: Clock,
  ) {
    this.#acceptBucket = new TokenBucket(clock, config.acceptRatePerSecond, config.acceptBurst);
  }

  get connectionCount(): number {
    return this.#total;
  }

  /** Why an inbound connection from `host` is refused, or undefined when it may proceed. */
  refuseInbound(host: string): string | undefined {
    if (this.#total >= this.config.maxConnections) return 'max-connections';
    if (this.#isIpLimited(host) && (this.#perIp.get(host) ?? 0) >= this.config.maxConnectionsPerIp) {
      return 'max-connections-per-ip';
    }
    if (!this.#acceptBucket.tryTake()) return 'accept-rate';
    return undefined;
  }

  /** Whether an outbound connection may open now. */
  mayDial(): boolean {
    return this.#total < this.config.maxConnections;
  }

  opened(host: string): void {
    this.#total++;
    this.#perIp.set(host, (this.#perIp.get(host) ?? 0) + 1);
  }

  closed(host: string): void {
    this.#total--;
    const count = (this.#perIp.get(host) ?? 1) - 1;
    if (count <= 0) this.#perIp.delete(host);
    else this.#perIp.set(host, count);
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
