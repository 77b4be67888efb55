/**
 * The Shuffle exchange of HyParView (docs/protocol.md section 4): a random walk that carries a
 * sample of the origin's views, and a ShuffleReply over a short-lived connection from the node
 * where the walk ends. Both ends merge what they received into their passive views.
 *
 * The node where a walk ends dials an origin address at most once per shuffle period
 * (`DialLimit`), and only answers the node that authenticates as that origin.
 *
 * What one message may change is bounded (deviation: the paper trusts its peers): a Shuffle
 * merges at most ka + kp entries and its origin where its walk ends, a ShuffleReply at most
 * ka + kp, whatever either carries (up to maxEntriesPerMessage). Without that, one Shuffle of 32
 * entries ending at a node, or one reply, replaced its whole passive view. And a ShuffleReply is
 * taken only as the walk's end sends it: once per Shuffle, within a shuffle period, over an
 * active link or a connection the replier opened after our Shuffle left. v1 has no field that
 * ties a reply to its walk, so a node on the walk could still answer in the end's place; it
 * changes at most ka + kp entries once per period. A neighbour's Shuffles are taken at most
 * SHUFFLES_PER_LINK_PER_PERIOD times per period.
 *
 * Synchronous like the strategy: the reply to an origin that is not a neighbour is a dial whose
 * outcome the strategy hands back to `onOriginDialed`.
 */
import type { NodeInfo, PeerEntry, Shuffle } from '../proto/messages.js';
import type { CheckedMembershipMessage, CheckedPeerEntry } from './strategy.js';
import { DialLimit } from './dial-limit.js';
import { addressKey, addressOf, mergeEntries, toPeerEntries } from './entries.js';
import type { DialPurpose, LinkFacts, ShuffleHost } from './hyparview-state.js';

/**
 * Distinct origin addresses remembered per shuffle period for the dial limit. An honest mesh
 * needs a handful; past this the node stops answering Shuffles by dialling until the sweep.
 */
const MAX_ORIGIN_DIALS_PER_PERIOD = 256;

/** A Shuffle as it passed the node's message checks: its origin and every entry valid. */
type CheckedShuffle = Extract<CheckedMembershipMessage, { kind: 'shuffle' }>['body'];

/**
 * Shuffles taken from one link per shuffle period. A node originates one Shuffle per period and
 * forwards those of others: an honest link carries one or two per period on average.
 */
const SHUFFLES_PER_LINK_PER_PERIOD = 4;

/** At most this many Shuffles out of period per period, each only when a node is starving. */
const EARLY_SHUFFLES_PER_PERIOD = 10;

export class ShuffleExchange {
  readonly #host: ShuffleHost;
  readonly #originDials: DialLimit;
  /** Our last Shuffle, until its one reply arrives or the next Shuffle replaces it. */
  #awaitingReply: { sentIds: ReadonlySet<string>; sentAtMs: number } | undefined;
  #lastSentMs = -Infinity;
  /** Shuffles taken per link in its current period (dropped with the link's facts). */
  readonly #perLink = new WeakMap<LinkFacts, { sinceMs: number; count: number }>();

  constructor(host: ShuffleHost) {
    this.#host = host;
    this.#originDials = new DialLimit(host.context.config.shuffleIntervalMs, MAX_ORIGIN_DIALS_PER_PERIOD);
  }

  /** Once per shuffle period: a new period for the dial limit, and our own Shuffle. */
  onPeriod(): void {
    this.#originDials.prune(this.#host.context.clock.now());
    this.#send();
  }

  stop(): void {
    this.#originDials.clear();
    this.#awaitingReply = undefined;
  }

  /**
   * Our Shuffle now, out of period, when the last one left at least a tenth of a period ago:
   * for a node below its floor with an empty passive view (hyparview.ts). True when sent.
   */
  maybeSendEarly(): boolean {
    const { clock, config } = this.#host.context;
    if (clock.now() - this.#lastSentMs < config.shuffleIntervalMs / EARLY_SHUFFLES_PER_PERIOD) return false;
    return this.#send();
  }

  /** ka active entries (never the target) and kp passive ones, to one random neighbour. */
  #send(): boolean {
    const { active, passive, context } = this.#host;
    const { random, config } = context;
    const target = active.randomEntry(random);
    if (!target) return false;
    const nodes = [
      ...active.randomEntries(random, config.shuffleActive, target.info.id),
      ...passive.randomEntries(random, config.shufflePassive),
    ]
      .map((entry) => entry.info)
      .filter((info) => info.port !== 0);
    const shuffle: Shuffle = { origin: context.self, entries: toPeerEntries(nodes), ttl: config.arwl };
    if (!context.send(target.info.id, { shuffle })) return false;
    this.#lastSentMs = context.clock.now();
    this.#awaitingReply = { sentIds: new Set(nodes.map((info) => info.id)), sentAtMs: this.#lastSentMs };
    this.#host.counters.shufflesSent++;
    return true;
  }

  onShuffle(from: string, shuffle: CheckedShuffle): void {
    const { context, active, counters } = this.#host;
    const link = active.get(from)?.data;
    if (!link) return context.countDrop('shuffle-not-neighbor');
    if (!this.#takeFromLink(link)) return context.countDrop('shuffle-link-rate');
    const origin = shuffle.origin;
    counters.shufflesReceived++;
    // A walk never gets longer than ours, whatever a peer claims.
    const ttl = Math.min(shuffle.ttl, context.config.arwl) - 1;
    const next = active.randomEntry(context.random, from);
    if (ttl > 0 && active.size > 1 && next) {
      context.send(next.info.id, { shuffle: { origin, entries: shuffle.entries, ttl } });
      counters.shufflesForwarded++;
      return;
    }
    this.#endWalk(origin, shuffle.entries);
  }

  /**
   * Counts a Shuffle against its link's allowance: a neighbour that shuffles far more often than
   * the protocol does would otherwise feed its entries into the walks at will.
   */
  #takeFromLink(link: LinkFacts): boolean {
    const now = this.#host.context.clock.now();
    const period = this.#host.context.config.shuffleIntervalMs;
    const window = this.#perLink.get(link);
    if (!window || now - window.sinceMs >= period) {
      this.#perLink.set(link, { sinceMs: now, count: 1 });
      return true;
    }
    return ++window.count <= SHUFFLES_PER_LINK_PER_PERIOD;
  }

  onShuffleReply(from: string, entries: readonly CheckedPeerEntry[]): void {
    const { context, counters } = this.#host;
    // One reply per Shuffle sent: unsolicited entries could flood the passive view.
    const awaited = this.#awaitingReply;
    if (!awaited || context.clock.now() - awaited.sentAtMs > context.config.shuffleIntervalMs)
      return context.countDrop('shuffleReply-unsolicited');
    if (!this.#couldBeWalkEnd(from, awaited.sentAtMs)) return context.countDrop('shuffleReply-not-walk-end');
    this.#awaitingReply = undefined;
    counters.shuffleRepliesReceived++;
    this.#merge(
      entries.slice(0, this.#maxMerged()).map((entry) => entry.node),
      awaited.sentIds,
    );
  }

  /**
   * The walk's end answers over our active link to it, or over a connection it opened to us
   * once our Shuffle had left; an older connection (one we opened, or that sat idle since
   * before) carries no answer to it.
   */
  #couldBeWalkEnd(from: string, sentAtMs: number): boolean {
    if (this.#host.active.has(from)) return true;
    const link = this.#host.linkOf(from);
    return link !== undefined && link.role === 'listener' && link.openedAtMs >= sentAtMs;
  }

  /** ka + kp: the most entries one Shuffle or ShuffleReply may change here. */
  #maxMerged(): number {
    const { shuffleActive, shufflePassive } = this.#host.context.config;
    return shuffleActive + shufflePassive;
  }

  /**
   * The walk ends here: answer the origin with as many passive entries, then merge.
   *
   * Deviation: the answer carries at least kp entries even when the Shuffle carried fewer. An
   * origin whose views are nearly empty (one neighbour, no passive entry: a node that lost its
   * neighbours moments after joining) sends an empty Shuffle, and as many would be nothing:
   * it could never learn whom to ask. The answer stays within ka + kp entries.
   */
  #endWalk(origin: NodeInfo, entries: readonly CheckedPeerEntry[]): void {
    const { context, passive } = this.#host;
    if (origin.id === context.self.id) return context.countDrop('shuffle-own-walk');
    const taken = entries.slice(0, this.#maxMerged());
    const count = Math.max(taken.length, context.config.shufflePassive);
    const reply = passive.randomEntries(context.random, count, origin.id).map((e) => e.info);
    this.#replyTo(origin, toPeerEntries(reply));
    // The origin is part of the exchange, as in the paper where it heads its own list.
    this.#merge([origin, ...taken.map((entry) => entry.node)], new Set(reply.map((info) => info.id)));
  }

  #replyTo(origin: NodeInfo, entries: PeerEntry[]): void {
    const { context, active, counters } = this.#host;
    if (active.has(origin.id)) {
      if (context.send(origin.id, { shuffleReply: { entries } })) counters.shuffleReplies++;
      return;
    }
    if (origin.port === 0) return context.countDrop('shuffle-origin-unreachable');
    if (!this.#originDials.tryAcquire(addressKey(origin), context.clock.now())) {
      counters.shuffleRepliesLimited++;
      return context.countDrop('shuffle-origin-rate');
    }
    this.#host.dial(addressOf(origin), { kind: 'shuffleReply', origin, entries });
  }

  /** The dial to a walk's origin reached `peerId`: the reply goes out if it is the origin. */
  onOriginDialed({ origin, entries }: Extract<DialPurpose, { kind: 'shuffleReply' }>, peerId: string): void {
    const { context, counters } = this.#host;
    if (peerId !== origin.id) {
      context.countDrop('shuffle-origin-mismatch');
      return this.#host.maybeCloseShortLived(peerId);
    }
    if (context.send(peerId, { shuffleReply: { entries } })) counters.shuffleReplies++;
    // We sent the last message of a short-lived exchange: ours to close (unless it is active).
    this.#host.maybeCloseShortLived(peerId);
  }

  #merge(nodes: readonly NodeInfo[], sentIds: ReadonlySet<string>): void {
    const { context, active, passive, counters } = this.#host;
    const added = mergeEntries(nodes, {
      passive,
      selfId: context.self.id,
      isActive: (id) => active.has(id),
      sentIds,
      random: context.random,
      fresh: () => ({ failures: 0 }),
      isCrowded: (node) => this.#host.isPassiveCrowded(node),
      onRefused: (reason) => {
        // Self and active peers are normal in gossip; only bad inputs count as drops.
        if (reason === 'unreachable') context.countDrop(`entry-${reason}`);
        counters.entriesRefused++;
      },
    });
    if (added > 0) this.#host.onPassiveGrew();
  }
}
