/**
 * Admission of gossiped peers into a passive view (docs/protocol.md section 4): which NodeInfos may
 * enter, and how a Shuffle or ShuffleReply is merged when the view is full. Every NodeInfo here is
 * valid already: gossiped ones were checked where their message entered the node
 * (link/membership-rules.ts), a linked peer's by the handshake.
 */
import { formatAddress, isWildcardHost, type Address } from '../config.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import type { Random } from '../utils/random.js';
import type { View } from './view.js';

/** Why a NodeInfo may not enter a passive view. */
export type PassiveRefusal = 'self' | 'active' | 'unreachable';

/**
 * Never the node itself, never an active peer (the views stay disjoint), and never a node that
 * does not listen (port 0): nobody could ever dial it.
 */
export function passiveRefusal(
  info: NodeInfo,
  selfId: string,
  isActive: (id: string) => boolean,
): PassiveRefusal | undefined {
  if (info.id === selfId) return 'self';
  if (isActive(info.id)) return 'active';
  // A wildcard host only means something to the node it came from: nobody else can dial it.
  if (info.port === 0 || isWildcardHost(info.host)) return 'unreachable';
  return undefined;
}

export function addressOf(info: NodeInfo): Address {
  return { host: info.host, port: info.port };
}

/** Log fields naming a peer: every log line about a peer carries its id and its address. */
export function peerFields(info: NodeInfo): { peer: string; address: string } {
  return { peer: info.id, address: formatAddress(addressOf(info)) };
}

/** The key of a dial target: host and port, whatever id claims them. */
export function addressKey({ host, port }: Address): string {
  return `${host}|${port}`;
}

/** Gossip entries for a list of peers; age is 0 because HyParView does not use it. */
export function toPeerEntries(infos: readonly NodeInfo[]): PeerEntry[] {
  return infos.map((node) => ({ node, age: 0 }));
}

export interface MergeOptions<T> {
  passive: View<T>;
  selfId: string;
  isActive: (id: string) => boolean;
  /** Ids this node sent in the same exchange: evicted first, as the paper says. */
  sentIds: ReadonlySet<string>;
  random: Random;
  /** Data of a fresh entry, made from the gossiped NodeInfo (Cyclon looks up its age). */
  fresh: (node: NodeInfo) => T;
  /**
   * Whether a full view may evict entries it did not send (random ones) to make room. Cyclon's
   * merge replaces only the entries sent in the exchange and discards what does not fit.
   * @default true
   */
  evictUnsent?: boolean;
  /** Called once for each refused entry, with the reason. */
  onRefused: (reason: PassiveRefusal) => void;
  /** Whether the view holds all it may of the node's address prefix (eviction-limit.ts). */
  isCrowded?: (node: NodeInfo) => boolean;
}

/**
 * Merges gossiped NodeInfos into a passive view. When the view is full, it makes room by
 * evicting first the entries this node sent in the exchange (the peer now knows them), then
 * (unless `evictUnsent` is false) random ones; never an entry added by this same merge.
 * Returns how many were added.
 */
export function mergeEntries<T>(nodes: readonly NodeInfo[], options: MergeOptions<T>): number {
  const { passive, selfId, isActive, random } = options;
  const sent = new Set(options.sentIds);
  const added = new Set<string>();
  const evictUnsent = options.evictUnsent ?? true;
  for (const node of nodes) {
    const refusal = passiveRefusal(node, selfId, isActive);
    if (refusal !== undefined) {
      options.onRefused(refusal);
      continue;
    }
    if (passive.has(node.id) || options.isCrowded?.(node) === true) continue;
    if (passive.isFull && !evictOne(passive, sent, added, evictUnsent ? random : undefined)) break;
    if (passive.add(node, options.fresh(node)) === 'added') added.add(node.id);
  }
  return added.size;
}

/** Evicts a sent entry, else (given a random source) a random one not added by this merge. */
function evictOne<T>(
  passive: View<T>,
  sent: Set<string>,
  added: ReadonlySet<string>,
  random: Random | undefined,
): boolean {
  for (const id of sent) {
    sent.delete(id);
    if (passive.remove(id)) return true;
  }
  if (!random) return false;
  const victims = passive.entries().filter((entry) => !added.has(entry.info.id));
  const victim = victims[random.int(victims.length)];
  return victim !== undefined && passive.remove(victim.info.id) !== undefined;
}
