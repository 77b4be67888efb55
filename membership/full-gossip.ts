/**
 * What a `full` node knows and tells (full.ts has the strategy): every address it has heard of,
 * and the gossip that spreads them.
 *
 * - At most `fullMaxKnown` addresses; when full, the first learned is forgotten (insertion
 *   order: hearing of an address again does not refresh it). Never the node itself, never a
 *   node that does not listen (port 0); an invalid NodeInfo never gets this far (the node removes
 *   it from the message, link/membership-rules.ts).
 * - A round's gossip is the node itself and the known addresses, in ShuffleReply messages of
 *   at most `maxEntriesPerMessage` entries, at most 8 messages per neighbour; a list too long for
 *   that is walked by a cursor over the next rounds.
 * - At most 3 x 8 gossip messages are accepted per link per round (rounds are jittered, and a
 *   Join adds a burst); the rest are dropped and counted.
 */
import type { NodeInfo } from '../proto/messages.js';
import { passiveRefusal, toPeerEntries } from './entries.js';
import type { CheckedPeerEntry, MembershipContext } from './strategy.js';
import { View } from './view.js';

/** Gossip messages sent to each neighbour per round. */
const GOSSIP_MESSAGES_PER_ROUND = 8;
const GOSSIP_RECEIVED_PER_ROUND = 3 * GOSSIP_MESSAGES_PER_ROUND;
/** Known addresses listed for display (views().passive). */
const DISPLAY_LIMIT = 100;

const GOSSIP_COUNTERS = [
  'gossipSent',
  'gossipReceived',
  'entriesLearned',
  'entriesForgotten',
  'entriesRefused',
] as const;
type GossipCounter = (typeof GOSSIP_COUNTERS)[number];

export class KnownAddresses {
  readonly counters = Object.fromEntries(GOSSIP_COUNTERS.map((name) => [name, 0])) as Record<
    GossipCounter,
    number
  >;
  readonly #ctx: MembershipContext;
  readonly #known: View<null>;
  /** Gossip messages received per peer's link this round; a new link starts afresh. */
  readonly #received = new Map<string, number>();
  /** Where the next round's gossip starts in a list too long for one round. */
  #cursor = 0;

  constructor(context: MembershipContext) {
    this.#ctx = context;
    this.#known = new View(context.config.fullMaxKnown, context.self.id);
  }

  get size(): number {
    return this.#known.size;
  }

  has(id: string): boolean {
    return this.#known.has(id);
  }

  forget(id: string): void {
    this.#known.remove(id);
  }

  /** Up to `count` distinct random known addresses. */
  sample(count: number): NodeInfo[] {
    return this.#known.randomEntries(this.#ctx.random, count).map((entry) => entry.info);
  }

  /** The first 100 known addresses that `isExcluded` does not reject. */
  forDisplay(isExcluded: (id: string) => boolean): NodeInfo[] {
    const out: NodeInfo[] = [];
    for (const { info } of this.#known.entries()) {
      if (out.length >= DISPLAY_LIMIT) break;
      if (!isExcluded(info.id)) out.push(info);
    }
    return out;
  }

  /** Remembers an address; true when it was new. */
  learn(info: NodeInfo): boolean {
    const refusal = passiveRefusal(info, this.#ctx.self.id, () => false);
    if (refusal !== undefined) {
      // Ourselves is normal in gossip; only bad inputs are drops.
      if (refusal !== 'self') {
        this.counters.entriesRefused++;
        this.#ctx.countDrop(`entry-${refusal}`);
      }
      return false;
    }
    if (this.#known.has(info.id)) return false;
    const oldest = this.#known.isFull ? this.#known.oldest() : undefined;
    if (oldest) {
      this.#known.remove(oldest.info.id);
      this.counters.entriesForgotten++;
    }
    if (this.#known.add(info, null) !== 'added') return false;
    this.counters.entriesLearned++;
    return true;
  }

  /** A new round: receive budgets reset, and this round's gossip (the cursor moves on). */
  nextRound(): NodeInfo[] {
    this.#received.clear();
    const { infos, next } = this.window(this.#cursor);
    this.#cursor = next;
    return infos;
  }

  /** The node itself and as many known addresses, from `start`, as one round's messages carry. */
  window(start = 0): { infos: NodeInfo[]; next: number } {
    const known = this.#known.infos();
    const room = GOSSIP_MESSAGES_PER_ROUND * this.#ctx.config.maxEntriesPerMessage - 1;
    const self = this.#ctx.self.port !== 0 ? [this.#ctx.self] : [];
    if (known.length <= room) return { infos: [...self, ...known], next: 0 };
    const from = start % known.length;
    const wrapped = known.slice(0, Math.max(0, from + room - known.length));
    return {
      infos: [...self, ...known.slice(from, from + room), ...wrapped],
      next: (from + room) % known.length,
    };
  }

  /** Sends `infos` in chunks of at most maxEntriesPerMessage; never tells a peer about itself. */
  sendTo(peerId: string, infos: readonly NodeInfo[]): void {
    const entries = toPeerEntries(infos.filter((info) => info.id !== peerId));
    const max = this.#ctx.config.maxEntriesPerMessage;
    for (let i = 0; i < entries.length; i += max) {
      if (!this.#ctx.send(peerId, { shuffleReply: { entries: entries.slice(i, i + max) } })) return;
      this.counters.gossipSent++;
    }
  }

  /** Gossip from a neighbour, within its budget of the round; returns how many were new. */
  receive(peerId: string, entries: readonly CheckedPeerEntry[]): number {
    const count = (this.#received.get(peerId) ?? 0) + 1;
    this.#received.set(peerId, count);
    if (count > GOSSIP_RECEIVED_PER_ROUND) {
      this.#ctx.countDrop('gossip-rate');
      return 0;
    }
    this.counters.gossipReceived++;
    return entries.filter((entry) => this.learn(entry.node)).length;
  }

  /** The peer's link opened or closed: the budget of the round is per link. */
  resetBudget(peerId: string): void {
    this.#received.delete(peerId);
  }

  clear(): void {
    this.#received.clear();
  }
}
