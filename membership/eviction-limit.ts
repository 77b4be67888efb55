/**
 * Who may take a full active view's slot by evicting a member: a joiner (Join), a high-priority
 * Neighbor, or the joiner a ForwardJoin walk ends with. The paper admits each of them always;
 * then one host with many cheap identities can evict honest neighbours at will, and in a few
 * rounds own every slot of its target (an eclipse). Deviation: admission by eviction is bounded
 * per address prefix (an IPv4 /24, an IPv6 /48, a host name), which identities do not multiply:
 *
 * - a prefix makes this node evict at most once per period (a tenth of the shuffle period: an
 *   honest node evicted from a view may need to force its way back in within seconds);
 * - a prefix that already holds `MAX_ACTIVE_PER_PREFIX` active entries evicts nobody.
 *
 * What bounds the share of a view rather than its churn is the strategy's other rule: once half
 * the view (rounded down) took its slot by eviction, a newcomer evicts one of those, never a
 * member the node chose or admitted with room to spare (hyparview.ts, `#evictFor`).
 *
 * A refused newcomer is not banned: a Join is closed, a Neighbor answered `accepted: false`, a
 * ForwardJoin's joiner kept in the passive view. An honest node seldom forces its way into one
 * view twice within a period, so honest meshes hardly meet the limit; many nodes of a test share
 * loopback, which, as for the node's per-IP caps, counts by address unless `limitLoopback` is set.
 *
 * Bounded: at most `maxPrefixes` prefixes are remembered; past that the oldest is forgotten
 * (which only frees a prefix early).
 */
import { isLoopback } from '../link/admission.js';

/** Active entries one prefix may hold before it may evict nobody; a majority of 5 needs 3. */
export const MAX_ACTIVE_PER_PREFIX = 2;

/** The prefix a host counts under; loopback hosts count by address unless `limitLoopback`. */
export function addressPrefix(host: string, port: number, limitLoopback: boolean): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)?.[1];
  const bare = mapped ?? host;
  if (isLoopback(bare) && !limitLoopback) return `${bare}|${port}`;
  const v4 = /^(\d+\.\d+\.\d+)\.\d+$/.exec(bare);
  if (v4) return `${v4[1]}.0/24`;
  if (bare.includes(':')) return `${expandIpv6(bare).slice(0, 3).join(':')}::/48`;
  return bare.toLowerCase();
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

  /**
   * Whether a newcomer from `prefix` may take a slot by evicting, given the prefixes of the
   * current active entries.
   */
  mayEvict(prefix: string, activePrefixes: readonly string[], nowMs: number): boolean {
    const last = this.#lastEvictionMs.get(prefix);
    if (last !== undefined && nowMs - last < this.periodMs) return false;
    return activePrefixes.filter((p) => p === prefix).length < MAX_ACTIVE_PER_PREFIX;
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
