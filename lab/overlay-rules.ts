/**
 * When a lab overlay counts as settled (after growth) and as healed (after a failure or a
 * partition), per membership strategy. A rule reads only what every cluster reports, the live
 * nodes' active views, so it holds over every transport, child processes included.
 *
 * Why the rules differ:
 * - HyParView keeps a few symmetric links and changes them only on a failure, a Join or a
 *   shuffle that finds a free slot: its views go quiet. Growth alone does not fill them: a
 *   joiner keeps what the ForwardJoin walks gave it, and asks for more only with low-priority
 *   Neighbor requests, which full nodes refuse, so a few nodes of a grown mesh stay at 2 or 3
 *   links. Settling asks for one quiet component; healing also asks for refilled views,
 *   `activeSize - 1` links each (views are symmetric: with an odd total one node may be left
 *   with no free partner for its last slot), or as many as the node had before the failure.
 * - `full` keeps `fullDegree` links of its own plus inbound ones, and `static` exactly the
 *   links it was told: both go quiet, with `fullDegree` and no links required respectively.
 * - Cyclon replaces entries every round by design, so its views never go quiet: it settles once
 *   every view is full (`cyclonViewSize - 1` entries, one being out for the shuffle in flight)
 *   over a whole quiet window. It forgets a dead entry only when the entry ages to the top of a
 *   view and fails to answer a shuffle, while shuffles spread the dead entries meanwhile: after
 *   killing 30 of 100 nodes about 800 dead entries remain, still 700 two minutes later. Waiting
 *   for none would measure minutes of aging, so Cyclon counts as healed once the live nodes are
 *   one component over their live entries and each holds a Shuffle's worth
 *   (`cyclonShuffleLength`) of live entries; the dead ones left show in the healed phase's
 *   figures instead.
 */
import type { NodeConfig } from '../config.js';
import { connectedComponents } from './graph.js';

export interface OverlayRule {
  /** Live entries each live node holds once the overlay settled, with `liveNodes` alive. */
  settledDegree(liveNodes: number): number;
  /** Live entries each live node holds again once the overlay healed. */
  healedDegree(liveNodes: number): number;
  /** Whether settling waits for the views to stop changing; false where they change by design. */
  isQuietRequired: boolean;
  /** Whether a healed view may still list dead nodes. */
  allowsDeadEntries: boolean;
}

/** `wanted`, or every other live node when there are fewer. */
const atMost = (wanted: number, liveNodes: number): number => Math.max(0, Math.min(wanted, liveNodes - 1));

/** The rule of the strategy `config.membership`; a strategy unknown here must not isolate nodes. */
export function overlayRule(config: NodeConfig): OverlayRule {
  const rule = (
    settled: number,
    healed: number,
    isQuietRequired = true,
    allowsDeadEntries = false,
  ): OverlayRule => ({
    settledDegree: (liveNodes) => atMost(settled, liveNodes),
    healedDegree: (liveNodes) => atMost(healed, liveNodes),
    isQuietRequired,
    allowsDeadEntries,
  });
  switch (config.membership) {
    case 'hyparview':
      return rule(1, config.activeSize - 1);
    case 'full':
      return rule(config.fullDegree, config.fullDegree);
    case 'static':
      return rule(0, 0);
    case 'cyclon':
      return rule(config.cyclonViewSize - 1, config.cyclonShuffleLength, false, true);
    default:
      return rule(1, 1);
  }
}

/** The live nodes' views, by id: an id absent here is dead. */
export type LiveViews = ReadonlyMap<string, readonly string[]>;

/** What one look at the live nodes' views found. */
export interface OverlayCheck {
  liveNodes: number;
  /** Components of the live nodes over their live entries. */
  components: number;
  /** View entries naming a dead node. */
  deadEntries: number;
  /** Live nodes holding fewer live entries than asked. */
  belowDegree: number;
}

/** Live entries per live node. */
export function liveDegrees(views: LiveViews): Map<string, number> {
  return new Map([...views].map(([id, view]) => [id, view.filter((peer) => views.has(peer)).length]));
}

/** Checks views against the live entries each live node should hold. */
export function checkOverlay(views: LiveViews, degreeOf: (id: string) => number): OverlayCheck {
  let deadEntries = 0;
  let belowDegree = 0;
  for (const [id, liveEntries] of liveDegrees(views)) {
    deadEntries += (views.get(id)?.length ?? 0) - liveEntries;
    if (liveEntries < degreeOf(id)) belowDegree++;
  }
  const components = connectedComponents({ adjacency: views, live: new Set(views.keys()) }).length;
  return { liveNodes: views.size, components, deadEntries, belowDegree };
}

/** Why a check fails, for progress lines: "2 components, 3 nodes short of live entries". */
export function describeCheck(check: OverlayCheck, allowsDeadEntries: boolean): string {
  const parts: string[] = [];
  if (check.components > 1) parts.push(`${check.components} components`);
  if (check.belowDegree > 0) parts.push(`${check.belowDegree} nodes short of live entries`);
  if (!allowsDeadEntries && check.deadEntries > 0) parts.push(`${check.deadEntries} dead entries`);
  return parts.join(', ');
}
