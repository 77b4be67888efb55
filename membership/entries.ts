/**
 * Admission of gossiped peers into a passive view (PROTOCOL.md section 4): which NodeInfos may
 * enter, and how a Shuffle or ShuffleReply is merged when the view is full.
 */
import type { Address } from '../config.js';
import { nodeInfoProblem } from '../crypto/identity.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import type { Random } from '../utils/random.js';
import type { View } from './view.js';

/** Why a NodeInfo may not enter a passive view. */
export type PassiveRefusal = 'self' | 'active' | 'invalid' | 'unreachable';

/**
 * Never the node itself, never an active peer (the views stay disjoint), never an invalid
 * NodeInfo, and never a node that does not listen (port 0): nobody could ever dial it.
 */
export function passiveRefusal(
  info: NodeInfo | null | undefined,
  selfId: string,
  isActive: (id: string) => boolean,
): PassiveRefusal | undefined {
  if (!info || nodeInfoProblem(info) !== undefined) return 'invalid';
  if (info.id === selfId) return 'self';
  if (isActive(info.id)) return 'active';
  if (info.port === 0) return 'unreachable';
  return undefined;
}

export function addressOf(info: NodeInfo): Address {
  return { host: info.host, port: info.port };
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
  /** Data of a fresh passive entry. */
  fresh: () => T;
  /** Called once for each refused entry, with the reason. */
  onRefused: (reason: PassiveRefusal) => void;
}

/**
 * Merges gossiped NodeInfos into a passive view. When the view is full, it makes room by
 * evicting first the entries this node sent in the exchange (the peer now knows them), then
 * random ones; never an entry added by this same merge. Returns how many were added.
 */
export function mergeEntries<T>(
  nodes: ReadonlyArray<NodeInfo | null | undefined>,
  options: MergeOptions<T>,
): number {
  const { passive, selfId, isActive, random } = options;
  const sent = new Set(options.sentIds);
  const added = new Set<string>();
  for (const node of nodes) {
    const refusal = passiveRefusal(node, selfId, isActive);
    if (refusal !== undefined || !node) {
      options.onRefused(refusal ?? 'invalid');
      continue;
    }
    if (passive.has(node.id)) continue;
    if (passive.isFull && !evictOne(passive, sent, added, random)) break;
    if (passive.add(node, options.fresh()) === 'added') added.add(node.id);
  }
  return added.size;
}

function evictOne<T>(
  passive: View<T>,
  sent: Set<string>,
  added: ReadonlySet<string>,
  random: Random,
): boolean {
  for (const id of sent) {
    sent.delete(id);
    if (passive.remove(id)) return true;
  }
  const victims = passive.entries().filter((entry) => !added.has(entry.info.id));
  const victim = victims[random.int(victims.length)];
  return victim !== undefined && passive.remove(victim.info.id) !== undefined;
}
