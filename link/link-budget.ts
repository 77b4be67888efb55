/**
 * What one neighbour may make this node do per second, charged per link:
 * - peer-exchange entries (`peerEntriesPerSecond`, `peerEntriesBurst`): the NodeInfos a neighbour
 *   hands us in Shuffle, ShuffleReply and ForwardJoin. The per-message limit bounds one message;
 *   this bounds how fast one link may feed the passive view and the dials that follow from it,
 *   which would otherwise let one neighbour rewrite that view many times a second (an eclipse)
 *   while staying under every per-message limit;
 * - Routed frames (`routedPerSecond`, `routedBurst`): each costs a decode, a hash and maybe a
 *   signature check, and a relay is not otherwise bounded in how many it pushes;
 * - ids asked for in Graft (`graftIdsPerSecond`, `graftIdsBurst`): each may make us send a whole
 *   cached message back (a 256-id Graft of 4 KiB texts is 1 MiB), so a Graft is an amplifier.
 *
 * Two buckets of the same rate and size: the allowance pays for what is accepted; once it is
 * empty, the overdraft pays for what is dropped. A link that empties both has sent more than
 * twice the burst at once, or more than twice the rate for long: it is flooding, not bursting.
 */
import type { NodeConfig } from '../config.js';
import type { MembershipMessage } from '../membership/strategy.js';
import type { Clock } from '../utils/clock.js';
import { TokenBucket } from '../utils/token-bucket.js';

/** `accept`: hand it on; `drop`: over the rate, drop and count; `close`: flooding, close with LIMIT. */
export type BudgetVerdict = 'accept' | 'drop' | 'close';

/** The NodeInfos a membership message asks its receiver to consider; 0 for any other message. */
export function exchangeEntries(message: MembershipMessage): number {
  switch (message.kind) {
    case 'shuffle':
      // The origin is merged too.
      return message.body.entries.length + 1;
    case 'shuffleReply':
      return message.body.entries.length;
    case 'forwardJoin':
      return 1;
    default:
      return 0;
  }
}

export class LinkBudget {
  readonly #allowance: TokenBucket;
  readonly #overdraft: TokenBucket;

  constructor(clock: Clock, perSecond: number, burst: number) {
    this.#allowance = new TokenBucket(clock, perSecond, burst);
    this.#overdraft = new TokenBucket(clock, perSecond, burst);
  }

  /** Charges `units` (entries, frames) to the link. */
  charge(units: number): BudgetVerdict {
    if (units === 0 || this.#allowance.tryTake(units)) return 'accept';
    return this.#overdraft.tryTake(units) ? 'drop' : 'close';
  }
}

/** What a neighbour's traffic is charged to. */
export type BudgetName = 'exchange' | 'routed' | 'graft';

type BudgetConfig = Pick<
  NodeConfig,
  | 'peerEntriesPerSecond'
  | 'peerEntriesBurst'
  | 'routedPerSecond'
  | 'routedBurst'
  | 'graftIdsPerSecond'
  | 'graftIdsBurst'
>;

/** One link's budgets, each made on its first use. */
export class LinkBudgets {
  readonly #budgets: Partial<Record<BudgetName, LinkBudget>> = {};

  constructor(
    private readonly clock: Clock,
    private readonly config: BudgetConfig,
  ) {}

  charge(name: BudgetName, units: number): BudgetVerdict {
    if (units === 0) return 'accept';
    const { perSecond, burst } = this.limits(name);
    return (this.#budgets[name] ??= new LinkBudget(this.clock, perSecond, burst)).charge(units);
  }

  limits(name: BudgetName): { perSecond: number; burst: number; what: string } {
    const { config } = this;
    switch (name) {
      case 'exchange':
        return {
          perSecond: config.peerEntriesPerSecond,
          burst: config.peerEntriesBurst,
          what: 'peer-exchange entries',
        };
      case 'routed':
        return { perSecond: config.routedPerSecond, burst: config.routedBurst, what: 'routed messages' };
      case 'graft':
        return {
          perSecond: config.graftIdsPerSecond,
          burst: config.graftIdsBurst,
          what: 'grafted message ids',
        };
    }
  }
}
