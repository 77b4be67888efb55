/**
 * The simulator's network model: how long a message takes on a link, whether it is lost, and how
 * long the peers of a node that died without Leave take to see its links close. Drawn from the
 * network's own seeded random stream, so two runs that differ only in their routers see the same
 * network.
 */
import type { Random } from '../utils/random.js';

export interface NetworkModel {
  /** One-way latency of a message (and of a link's close), drawn for each. */
  latencyMs(random: Random): number;
  /** Share of messages lost on the way, 0 (default) to 1. TCP loses none; this models worse. */
  readonly lossRate: number;
  /**
   * How long after a node dies without Leave each peer sees its link close. Undefined: one
   * way's latency, as when the dying process's kernel sends FIN or RST.
   */
  readonly killDetectionMs: number | undefined;
}

export interface NetworkModelOptions {
  /** Latencies are uniform in [minMs, maxMs]. @default 1..2, as the memory transport's */
  minLatencyMs?: number;
  maxLatencyMs?: number;
  lossRate?: number;
  killDetectionMs?: number;
}

export function uniformNetwork(options: NetworkModelOptions = {}): NetworkModel {
  const min = options.minLatencyMs ?? 1;
  const max = Math.max(min, options.maxLatencyMs ?? 2);
  const lossRate = options.lossRate ?? 0;
  if (!(lossRate >= 0 && lossRate <= 1)) throw new RangeError(`lossRate ${lossRate} is not in [0, 1]`);
  return {
    latencyMs: (random) => min + random.float() * (max - min),
    lossRate,
    killDetectionMs: options.killDetectionMs,
  };
}
