/**
 * Broadcast and latency statistics for the lab, computed from what the nodes themselves report
 * (delivery events and Routed-copy counters). Pure functions: no clock, no randomness, no I/O,
 * so a replayed run yields the same numbers.
 *
 * A quantity that is undefined for its input (the mean of nothing, the RMR of a message nobody
 * else received) is `null`, never 0: a 0 would read as "perfect" in a comparison table.
 */

/** One bar of a histogram: `count` observations had exactly `value`. */
export interface HistogramBin {
  value: number;
  count: number;
}

/** Nearest-rank percentiles; every field is `null` when there were no samples. */
export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** How one node delivered one broadcast. */
export interface DeliveryObservation {
  /** Overlay hops from the origin (the origin's own delivery, if listed, is 0). */
  hops: number;
  /** Send-to-deliver time. */
  latencyMs: number;
}

/** Everything the lab observed about one broadcast. */
export interface BroadcastObservation {
  originId: string;
  /** Nodes alive when the broadcast was sent (the origin among them). */
  liveNodeIds: ReadonlySet<string> | readonly string[];
  /** First delivery per node; an entry for the origin is allowed and ignored for hops/latency. */
  deliveries: ReadonlyMap<string, DeliveryObservation>;
  /** Routed payload copies of this message received by all nodes, duplicates included. */
  copiesReceived: number;
}

/** The figures of one broadcast. */
export interface BroadcastMetrics {
  /** Live nodes other than the origin that delivered / (live nodes other than the origin). */
  reliability: number | null;
  /** Relative message redundancy m / (n - 1) - 1 (Plumtree paper). */
  rmr: number | null;
  /** Last delivery hop: the largest hop count among deliveries other than the origin's. */
  ldh: number | null;
  /** Nodes that delivered, the origin included (the `n` of RMR). */
  delivered: number;
}

/** The broadcast figures of one phase. */
export interface BroadcastSummary {
  broadcasts: number;
  /** Mean and minimum of the per-broadcast reliability. */
  reliability: { mean: number | null; min: number | null };
  /** Mean of the per-broadcast RMR over broadcasts where it is defined. */
  rmr: number | null;
  /** Mean of the per-broadcast LDH, as the Plumtree paper reports it. */
  ldh: number | null;
  /** Largest per-broadcast LDH, the worst case the mean hides. */
  ldhMax: number | null;
  /** Over every delivery of every broadcast, origins excluded. */
  latencyMs: Percentiles;
  /** Hop counts of every delivery of every broadcast, origins excluded. */
  hopsHistogram: HistogramBin[];
}

/** One direct (unicast) message: whether its receipt came back and how far it travelled. */
export interface DirectObservation {
  receipted: boolean;
  /** Overlay hops to the destination, `null` when unknown (no receipt). */
  hops: number | null;
}

export interface DirectSummary {
  sent: number;
  receipted: number;
  /** Mean hops of the receipted messages whose hop count is known. */
  hops: number | null;
  /** receipted / sent. */
  successRate: number | null;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest value such that at least p% of
 * the samples are <= it, i.e. `sorted[ceil(p / 100 * N) - 1]`. It always returns an observed
 * value (no interpolation), so p99 of 10 samples is the maximum; p = 0 gives the minimum.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  // p * n / 100, not p / 100 * n: 0.95 is inexact in binary and 0.95 * n can land just above an
  // integer, which ceil would push one rank too far; p * n is exact for integer p.
  const rank = Math.min(n, Math.max(1, Math.ceil((p * n) / 100)));
  return sorted[rank - 1] ?? null;
}

/** p50/p95/p99/max by nearest rank (see {@link percentileOfSorted}); the input is not modified. */
export function percentiles(values: Iterable<number>): Percentiles {
  // A Float64Array sorts numerically by default, and fast, for a phase's million latencies.
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentileOfSorted(sorted, 50),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99),
    max: percentileOfSorted(sorted, 100),
  };
}

export function mean(values: Iterable<number>): number | null {
  let sum = 0;
  let count = 0;
  for (const value of values) {
    sum += value;
    count++;
  }
  return count === 0 ? null : sum / count;
}

export function min(values: Iterable<number>): number | null {
  let least: number | null = null;
  for (const value of values) if (least === null || value < least) least = value;
  return least;
}

export function max(values: Iterable<number>): number | null {
  let most: number | null = null;
  for (const value of values) if (most === null || value > most) most = value;
  return most;
}

/** Counts of each distinct value, ascending by value (a sparse, stable form for JSON). */
export function histogram(values: Iterable<number>): HistogramBin[] {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]).map(([value, count]) => ({ value, count }));
}

/** Adds histograms bin by bin. */
export function mergeHistograms(histograms: Iterable<readonly HistogramBin[]>): HistogramBin[] {
  const counts = new Map<number, number>();
  for (const bins of histograms) {
    for (const bin of bins) counts.set(bin.value, (counts.get(bin.value) ?? 0) + bin.count);
  }
  return [...counts].sort((a, b) => a[0] - b[0]).map(([value, count]) => ({ value, count }));
}

/**
 * Relative message redundancy as defined in the Plumtree paper: m / (n - 1) - 1, with m the
 * payload messages received and n the nodes that delivered. 0 means each node other than the
 * origin received exactly one copy (a tree); flood on a complete graph of n nodes gives n - 2.
 * Undefined (`null`) when n <= 1: no node other than the origin received the message, so
 * there is nothing to be redundant about.
 */
export function relativeMessageRedundancy(copiesReceived: number, delivered: number): number | null {
  return delivered <= 1 ? null : copiesReceived / (delivered - 1) - 1;
}

/** Other-than-origin deliveries: the ones that travelled, so the ones with hops and latency. */
function* remoteDeliveries(observation: BroadcastObservation): Iterable<DeliveryObservation> {
  for (const [nodeId, delivery] of observation.deliveries) {
    if (nodeId !== observation.originId) yield delivery;
  }
}

/**
 * The figures of one broadcast. Reliability counts only nodes live at send time, because a node
 * that joined later was never owed the message; RMR's n counts every node that delivered, as
 * each of them received copies that m counts.
 */
export function broadcastMetrics(observation: BroadcastObservation): BroadcastMetrics {
  const { originId, deliveries } = observation;
  let owed = 0;
  let reached = 0;
  for (const nodeId of observation.liveNodeIds) {
    if (nodeId === originId) continue;
    owed++;
    if (deliveries.has(nodeId)) reached++;
  }
  const delivered = deliveries.size + (deliveries.has(originId) ? 0 : 1);
  const hops = [...remoteDeliveries(observation)].map((d) => d.hops);
  return {
    reliability: owed === 0 ? null : reached / owed,
    rmr: relativeMessageRedundancy(observation.copiesReceived, delivered),
    ldh: max(hops),
    delivered,
  };
}

function nonNull(values: Iterable<number | null>): number[] {
  const out: number[] = [];
  for (const value of values) if (value !== null) out.push(value);
  return out;
}

/**
 * The broadcast figures of one phase. Per-broadcast figures are averaged over the broadcasts
 * where they are defined; latency and hops pool every delivery of the phase, so a broadcast
 * that reached more nodes weighs more, which is what a user waiting for a message sees.
 */
export function summarizeBroadcasts(observations: readonly BroadcastObservation[]): BroadcastSummary {
  const perBroadcast = observations.map(broadcastMetrics);
  const reliabilities = nonNull(perBroadcast.map((m) => m.reliability));
  const ldhs = nonNull(perBroadcast.map((m) => m.ldh));
  const latencies: number[] = [];
  const hops: number[] = [];
  for (const observation of observations) {
    for (const delivery of remoteDeliveries(observation)) {
      latencies.push(delivery.latencyMs);
      hops.push(delivery.hops);
    }
  }
  return {
    broadcasts: observations.length,
    reliability: { mean: mean(reliabilities), min: min(reliabilities) },
    rmr: mean(nonNull(perBroadcast.map((m) => m.rmr))),
    ldh: mean(ldhs),
    ldhMax: max(ldhs),
    latencyMs: percentiles(latencies),
    hopsHistogram: histogram(hops),
  };
}

/** Success rate and mean path length of the direct messages of one phase. */
export function summarizeDirect(observations: readonly DirectObservation[]): DirectSummary {
  const receipted = observations.filter((o) => o.receipted);
  return {
    sent: observations.length,
    receipted: receipted.length,
    hops: mean(nonNull(receipted.map((o) => o.hops))),
    successRate: observations.length === 0 ? null : receipted.length / observations.length,
  };
}
