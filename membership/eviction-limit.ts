/**
 * Who may enter an active view on its own request: a joiner (Join), a Neighbor, or the joiner a
 * ForwardJoin walk ends with, and which of them may take a full view's slot by evicting a
 * member. The paper admits each of them always (evicting for all but a low-priority Neighbor);
 * then one host with many cheap identities can evict honest neighbours at will, fill the room it
 * made, and in a few rounds own every slot of its target (an eclipse). Deviation: admission is
 * bounded per address prefix (an IPv4 /24, an IPv6 /48, a host name), which identities do not
 * multiply:
 *
 * - a prefix that already holds `MAX_ACTIVE_PER_PREFIX` active entries gets no more on request,
 *   nor by the node's own repair; its passive entries are capped alike (no more than that many
 *   of one prefix enter the passive view);
 * - a prefix makes this node evict at most once per period (a tenth of the shuffle period: an
 *   honest node evicted from a view may need to force its way back in within seconds).
 *
 * A refused newcomer is not banned: a Join is closed, a Neighbor answered `accepted: false`, a
 * ForwardJoin's joiner kept in the passive view. An honest node seldom forces its way into one
 * view twice within a period, so honest meshes hardly meet the limit; many nodes of a test share
 * loopback, which, as for the node's per-IP caps, counts by address and port unless
 * `limitLoopback` is set.
 *
 * Bounded: at most `maxPrefixes` prefixes are remembered; past that the oldest is forgotten
 * (which only frees a prefix early).
 */
import { isLoopback } from '../link/admission.js';

/** Entries of one view a prefix may hold (no more on request, nor by repair); a majority of 5 needs 3. */
export const MAX_ACTIVE_PER_PREFIX = 2;

/**
 * The prefix a host counts under. Loopback counts by address and port unless `limitLoopback`
 * (many nodes of a test share one host); a private or link-local address by host, since one
 * LAN's honest nodes share its prefix (the netns mesh: 10.213.0.0/24); a public IPv4 by /24,
 * a public IPv6 by /48, a name by itself.
 */
export function addressPrefix(host: string, port: number, limitLoopback: boolean): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)?.[1];
  const bare = (mapped ?? host).toLowerCase();
  if (isLoopback(bare)) return limitLoopback ? bare : `${bare}|${port}`;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(bare);
  if (v4) return isPrivateIpv4(Number(v4[1]), Number(v4[2])) ? bare : `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (bare.includes(':')) {
    const groups = expandIpv6(bare);
    const first = parseInt(groups[0] ?? '0', 16);
    // fc00::/7 (unique local) and fe80::/10 (link-local).
    if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80) return bare;
    return `${groups.slice(0, 3).join(':')}::/48`;
  }
  return bare;
}

/** 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), 169.254/16 (link-local). */
function isPrivateIpv4(a: number, b: number): boolean {
  return (
    a === 10 ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254)
  );
}

/** The eight groups of an IPv6 address, '::' expanded (an IPv4 tail counts as two groups). */
function expandIpv6(host: string): string[] {
  const [head = '', tail] = host.toLowerCase().split('::', 2);
  const groups = (part: string): string[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g.replace(/^0+(?=.)/, '')]));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  return [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
}

export class EvictionLimit {
  /** Prefix -> time of the last eviction it caused here, oldest first. */
  readonly #lastEvictionMs = new Map<string, number>();

  constructor(
    private readonly periodMs: number,
    private readonly maxPrefixes = 1024,
  ) {}

  /** Whether a newcomer from `prefix` may take a slot by evicting now (the rate rule alone). */
  mayEvict(prefix: string, nowMs: number): boolean {
    const last = this.#lastEvictionMs.get(prefix);
    return last === undefined || nowMs - last >= this.periodMs;
  }

  noteEviction(prefix: string, nowMs: number): void {
    this.#lastEvictionMs.delete(prefix);
    for (const [key, last] of this.#lastEvictionMs) {
      if (this.#lastEvictionMs.size < this.maxPrefixes && nowMs - last < this.periodMs) break;
      this.#lastEvictionMs.delete(key);
    }
    this.#lastEvictionMs.set(prefix, nowMs);
  }
}
