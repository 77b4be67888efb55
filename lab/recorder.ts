/**
 * Turns what the cluster reports (deliveries, copies, receipts) into per-message observations,
 * one phase at a time.
 */
import type { ClusterObserver } from './cluster.js';
import type { BroadcastObservation, DeliveryObservation, DirectObservation } from './stats.js';

interface TrackedBroadcast extends BroadcastObservation {
  deliveries: Map<string, DeliveryObservation>;
}

export class Recorder implements ClusterObserver {
  /**
   * By message id, the origin checked at each lookup: a key of both would be a new string for
   * each of the millions of copies a large run reports.
   */
  #broadcasts = new Map<string, TrackedBroadcast>();
  #direct = new Map<string, DirectObservation>();

  /** Starts a new phase: later events about older messages are ignored. */
  reset(): void {
    this.#broadcasts = new Map();
    this.#direct = new Map();
  }

  trackBroadcast(originId: string, id: string, liveNodeIds: readonly string[]): void {
    this.#broadcasts.set(id, {
      originId,
      liveNodeIds: new Set(liveNodeIds),
      deliveries: new Map(),
      copiesReceived: 0,
    });
  }

  trackDirect(id: string): void {
    this.#direct.set(id, { receipted: false, hops: null });
  }

  delivered(
    nodeId: string,
    message: { id: string; originId: string; hops: number; latencyMs: number },
  ): void {
    const tracked = this.#tracked(message.originId, message.id);
    tracked?.deliveries.set(nodeId, { hops: message.hops, latencyMs: message.latencyMs });
  }

  receipted(messageId: string, hops: number): void {
    const direct = this.#direct.get(messageId);
    if (direct) {
      direct.receipted = true;
      direct.hops = hops;
    }
  }

  copyReceived(originId: string, messageId: string): void {
    const tracked = this.#tracked(originId, messageId);
    if (tracked) tracked.copiesReceived++;
  }

  #tracked(originId: string, id: string): TrackedBroadcast | undefined {
    const tracked = this.#broadcasts.get(id);
    return tracked?.originId === originId ? tracked : undefined;
  }

  /** Whether every broadcast reached every node live at its send time that is still alive. */
  isSettled(isAlive: (id: string) => boolean): boolean {
    for (const b of this.#broadcasts.values()) {
      for (const id of b.liveNodeIds as Set<string>) {
        if (id !== b.originId && isAlive(id) && !b.deliveries.has(id)) return false;
      }
    }
    return [...this.#direct.values()].every((d) => d.receipted);
  }

  broadcasts(): BroadcastObservation[] {
    return [...this.#broadcasts.values()];
  }

  directs(): DirectObservation[] {
    return [...this.#direct.values()];
  }
}
