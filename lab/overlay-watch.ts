/**
 * Watches the overlay from an event on (the last join, a kill, a partition lifted) until it
 * settles or heals, or a timeout passes. It samples the live nodes' views every `pollMs` on the
 * driver's clock, beside whatever steps follow the event (the traffic of the next phase), so the
 * instant it reports is the first sample at which the overlay met its rule, not the end of
 * those steps. Samples are clock timers: under a SimClock each is taken at its exact virtual
 * instant, between two timers of the nodes, and a run still replays byte for byte.
 */
import type { Clock, Scheduled } from '../utils/clock.js';
import {
  checkOverlay,
  describeCheck,
  type LiveViews,
  type OverlayCheck,
  type OverlayRule,
} from './overlay-rules.js';

/** Turns the samples, in order, into the instant the watched state was reached. */
export interface Judge {
  /** The instant the state was reached, once a sample shows it; undefined until then. */
  observe(views: LiveViews, at: number): number | undefined;
  /** What keeps the state from being reached, as of the last sample. */
  why(): string;
}

/**
 * Settled: one component, every live node at the rule's settled degree, no dead entry (unless
 * the rule allows them) and, where the rule asks for quiet, at most 2% of the nodes changed
 * their view since the stretch began; all of it held over `quietMs`. Reached at the start of
 * that stretch. Not "no change at all": in a mesh of thousands some node is always filling its
 * last slot, and waiting for none would run every large settle into its timeout.
 */
export function settledJudge(rule: OverlayRule, quietMs: number): Judge {
  /** Each node's view at the last sample, and its members sorted (its shape). */
  const shapes = new Map<string, { view: readonly string[]; shape: string }>();
  let since: number | undefined;
  let changedSince = 0;
  let why = 'not looked at yet';
  /** The last check, and of how many nodes: the same views give the same check. */
  let last: { check: OverlayCheck; size: number } | undefined;
  return {
    observe(views, at) {
      let changed = 0;
      for (const [id, view] of views) {
        const last = shapes.get(id);
        // The same array is the same view (Cluster.activeViews): no sort, no string.
        if (last?.view === view) continue;
        const shape = [...view].sort().join();
        if (last?.shape !== shape) changed++;
        shapes.set(id, { view, shape });
      }
      // No view changed, and none came or went (a newcomer has no shape yet: it counts as changed).
      const isSame = changed === 0 && last?.size === views.size;
      const degree = rule.settledDegree(views.size);
      const check = isSame && last ? last.check : checkOverlay(views, () => degree);
      last = { check, size: views.size };
      if (!isWhole(check, rule)) {
        since = undefined;
        why = describeCheck(check, rule.allowsDeadEntries);
        return undefined;
      }
      if (since === undefined) {
        since = at;
        changedSince = 0;
      } else if (rule.isQuietRequired) {
        changedSince += changed;
        if (changedSince > Math.floor(views.size / 50)) {
          why = `views still changing (${changedSince} of ${views.size} nodes)`;
          since = at;
          changedSince = 0;
        }
      }
      return at - since >= quietMs ? since : undefined;
    },
    why: () => why,
  };
}

/**
 * Healed: one component, no dead entry (unless the rule allows them), and every live node back
 * to the rule's healed degree, or to the live entries it held before the failure (`before`) if
 * that was fewer: a heal refills what the failure took, not what growth never gave.
 */
export function healedJudge(rule: OverlayRule, before: ReadonlyMap<string, number>): Judge {
  let why = 'not looked at yet';
  return {
    observe(views, at) {
      const degree = rule.healedDegree(views.size);
      const check = checkOverlay(views, (id) => Math.min(degree, before.get(id) ?? degree));
      const isHealed = isWhole(check, rule);
      if (!isHealed) why = describeCheck(check, rule.allowsDeadEntries);
      return isHealed ? at : undefined;
    },
    why: () => why,
  };
}

function isWhole(check: OverlayCheck, rule: OverlayRule): boolean {
  return (
    check.components <= 1 && check.belowDegree === 0 && (rule.allowsDeadEntries || check.deadEntries === 0)
  );
}

export interface WatchOptions {
  clock: Clock;
  /** The live nodes' active views, by id. */
  views: () => Promise<LiveViews>;
  judge: Judge;
  /** The event the watch measures from. */
  startedAt: number;
  pollMs: number;
  /** Counted from `startedAt`. */
  timeoutMs: number;
}

export type WatchOutcome =
  { state: 'reached'; at: number; ms: number } | { state: 'timeout'; ms: number; why: string };

export class OverlayWatch {
  readonly #options: WatchOptions;
  #timer: Scheduled | undefined;
  #outcome: WatchOutcome | undefined;
  #error: unknown;
  #stopped = false;

  /** Takes the first sample now, then one every `pollMs`. */
  constructor(options: WatchOptions) {
    this.#options = options;
    void this.#sample();
  }

  get isFinished(): boolean {
    return this.#outcome !== undefined || this.#error !== undefined || this.#stopped;
  }

  /** The outcome once finished; a failed sample (a cluster that cannot list views) throws here. */
  outcome(): WatchOutcome | undefined {
    if (this.#error !== undefined) throw this.#error;
    return this.#outcome;
  }

  /** Ends the watch without an outcome; idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #sample(): Promise<void> {
    const { clock, judge, startedAt, timeoutMs, pollMs } = this.#options;
    const at = clock.now();
    let reachedAt: number | undefined;
    try {
      reachedAt = judge.observe(await this.#options.views(), at);
    } catch (err) {
      this.#error = err;
      return;
    }
    if (this.#stopped) return;
    if (reachedAt !== undefined) {
      this.#outcome = { state: 'reached', at: reachedAt, ms: Math.round(reachedAt - startedAt) };
    } else if (at + pollMs > startedAt + timeoutMs) {
      this.#outcome = { state: 'timeout', ms: Math.round(at - startedAt), why: judge.why() };
    } else {
      this.#timer = clock.schedule(pollMs, () => void this.#sample());
    }
  }
}
