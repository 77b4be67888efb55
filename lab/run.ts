/**
 * Runs one combination (membership x router) through a scenario and measures every phase.
 */
import type { NodeConfig } from '../config.js';
import { pickOne, pickSome, seededRandom, type Random } from '../utils/random.js';
import type { Cluster, TransportName } from './cluster.js';
import { Recorder } from './recorder.js';
import { connectedComponents, graphOfSnapshot, overlayMetrics } from './graph.js';
import {
  phaseReport,
  type OverlaySnapshot,
  type PhaseExtras,
  type PhaseReport,
  type RunInput,
} from './report.js';
import type { Step } from './scenario.js';
import { summarizeBroadcasts, summarizeDirect } from './stats.js';

export interface RunOptions {
  membership: string;
  router: string;
  transport: TransportName;
  config: Partial<NodeConfig>;
  steps: readonly Step[];
  seed: number;
  broadcasts: number;
  direct: number;
  /** Between two joins while growing. */
  joinStaggerMs: number;
  /** Between two messages of a phase. */
  messageSpacingMs: number;
  /** How long a phase waits for its messages to arrive. */
  deliveryTimeoutMs: number;
  /** How long settle and heal wait at most. */
  convergeTimeoutMs: number;
  progress: (line: string) => void;
}

type Extras = PhaseExtras;

export class LabRun {
  readonly #cluster: Cluster;
  readonly #options: RunOptions;
  readonly #recorder: Recorder;
  readonly #random: Random;
  readonly #phases: PhaseReport[] = [];
  /** Figures of the last structural step (grow, settle, heal) for the next measured phase. */
  #pending: Extras = {};
  #messageCounter = 0;

  constructor(cluster: Cluster, recorder: Recorder, options: RunOptions) {
    this.#cluster = cluster;
    this.#recorder = recorder;
    this.#options = options;
    this.#random = seededRandom(options.seed ^ 0x1ab);
  }

  async run(): Promise<RunInput> {
    for (const step of this.#options.steps) await this.#step(step);
    const snapshot = await this.#snapshot();
    const { membership, router, transport } = this.#options;
    return {
      membership,
      router,
      transport,
      nodes: this.#cluster.nodes.length,
      phases: this.#phases,
      snapshot,
    };
  }

  async #step(step: Step): Promise<void> {
    if ('grow' in step) return this.#grow(step.grow);
    if ('settle' in step) return this.#settle();
    if ('traffic' in step) return this.#traffic(step.traffic);
    if ('kill' in step) return this.#fail(step.kill, 'kill');
    if ('leave' in step) return this.#fail(step.leave, 'leave');
    if ('partition' in step) return this.#partition(step.partition);
    if ('heal' in step) return this.#heal(step.heal);
    return this.#churn(step.churn.durationMs, step.churn.perSecond);
  }

  #live(): number[] {
    return this.#cluster.nodes.filter((n) => n.alive).map((n) => n.index);
  }

  async #grow(target: number): Promise<void> {
    const { driver } = this.#cluster;
    const started = driver.clock.now();
    while (this.#cluster.nodes.length < target) {
      const seed = this.#cluster.nodes.length === 0 ? undefined : 0;
      await this.#cluster.add(seed);
      if (this.#cluster.nodes.length % 50 === 0)
        this.#options.progress(`grow: ${this.#cluster.nodes.length}/${target} nodes up`);
      await driver.sleep(this.#options.joinStaggerMs);
    }
    this.#pending.convergeMs = undefined;
    this.#options.progress(`grow: ${target} nodes up in ${Math.round(driver.clock.now() - started)} ms`);
  }

  /**
   * One component, and views quiet over a window: at most 2% of the nodes changed their active
   * view in it. Not "no change at all": in a mesh of thousands some node is always filling its
   * last slot, and waiting for none would run every large settle into its timeout.
   */
  async #settle(): Promise<void> {
    const { driver } = this.#cluster;
    const started = driver.clock.now();
    const quietMs = Math.max(1000, (this.#options.config.shuffleIntervalMs ?? 10_000) / 2);
    const shapes = new Map<string, string>();
    /** Nodes whose view changed, per poll, newest last. */
    const changes: Array<{ at: number; nodes: number }> = [];
    let connectedAt: number | undefined;
    while (driver.clock.now() - started < this.#options.convergeTimeoutMs) {
      const now = driver.clock.now();
      const views = await this.#cluster.activeViews();
      let changed = 0;
      for (const [id, view] of views) {
        const shape = [...view].sort().join();
        if (shapes.get(id) !== shape) changed++;
        shapes.set(id, shape);
      }
      changes.push({ at: now, nodes: changed });
      while ((changes[0]?.at ?? now) < now - quietMs) changes.shift();
      const isConnected = this.#componentCount(views) === 1;
      if (isConnected && connectedAt === undefined) connectedAt = now;
      const changedInWindow = changes.reduce((sum, c) => sum + c.nodes, 0);
      const watchedLongEnough = now - started >= quietMs;
      if (isConnected && watchedLongEnough && changedInWindow <= Math.floor(views.size / 50)) break;
      await driver.sleep(250);
    }
    this.#pending.convergeMs = connectedAt === undefined ? undefined : Math.round(connectedAt - started);
    this.#options.progress(
      `settle: ${connectedAt === undefined ? 'not connected' : `connected after ${this.#pending.convergeMs} ms`}, quiet after ${Math.round(driver.clock.now() - started)} ms`,
    );
  }

  async #traffic(name: string): Promise<void> {
    const { driver } = this.#cluster;
    const started = driver.clock.now();
    const resources = this.#cluster.resources();
    this.#recorder.reset();
    const live = this.#live();
    for (let i = 0; i < this.#options.broadcasts; i++) {
      const origin = pickOne(this.#random, this.#live());
      if (origin === undefined) break;
      const originId = this.#cluster.nodes[origin]?.id as string;
      const id = await this.#cluster.broadcast(origin, `${name} broadcast ${this.#messageCounter++}`);
      this.#recorder.trackBroadcast(originId, id, this.#liveIds());
      await driver.sleep(this.#options.messageSpacingMs);
    }
    for (let i = 0; i < this.#options.direct; i++) {
      const [from, to] = pickSome(this.#random, this.#live(), 2);
      if (from === undefined || to === undefined) break;
      const id = await this.#cluster.send(
        from,
        this.#cluster.nodes[to]?.id as string,
        `${name} direct ${this.#messageCounter++}`,
      );
      this.#recorder.trackDirect(id);
      await driver.sleep(this.#options.messageSpacingMs);
    }
    await driver.waitUntil(
      () => {
        const aliveNow = new Set(this.#liveIds());
        return this.#recorder.isSettled((id) => aliveNow.has(id));
      },
      this.#options.deliveryTimeoutMs,
      50,
    );
    const views = await this.#cluster.activeViews();
    const overlay = overlayMetrics(graphOfSnapshot(this.#snapshotOf(views)), {
      random: () => this.#random.float(),
    });
    const after = this.#cluster.resources();
    const extras: Extras = { ...this.#pending };
    if (resources && after) {
      extras.memoryPerNodeBytes = Math.round(after.heapBytes / Math.max(1, live.length));
      extras.cpuMs = Math.round(after.cpuMs - resources.cpuMs);
    }
    this.#pending = {};
    const broadcasts = summarizeBroadcasts(this.#recorder.broadcasts());
    if (!this.#cluster.countsCopies) broadcasts.rmr = null;
    const phase = phaseReport({
      name,
      broadcasts,
      direct: summarizeDirect(this.#recorder.directs()),
      overlay,
      durationMs: Math.round(driver.clock.now() - started),
      extras,
    });
    this.#phases.push(phase);
    this.#options.progress(
      `${name}: reliability ${phase.reliability.mean?.toFixed(3) ?? '-'} (min ${phase.reliability.min?.toFixed(3) ?? '-'}), RMR ${phase.rmr?.toFixed(2) ?? '-'}, direct ${phase.direct.receipted}/${phase.direct.sent}`,
    );
  }

  async #fail(fraction: number, how: 'kill' | 'leave'): Promise<void> {
    const candidates = this.#live().filter((i) => i !== 0 || how === 'kill');
    const victims = pickSome(this.#random, candidates, Math.round(this.#live().length * fraction));
    this.#failedAt = this.#cluster.driver.clock.now();
    await Promise.all(victims.map((i) => (how === 'kill' ? this.#cluster.kill(i) : this.#cluster.leave(i))));
    this.#options.progress(`${how}: ${victims.length} nodes, ${this.#live().length} left`);
  }

  #failedAt = 0;

  async #partition(groups: number): Promise<void> {
    const live = this.#live();
    const split = live.map((index, position) => ({ index, group: position % groups }));
    const ok = this.#cluster.partition(
      Array.from({ length: groups }, (_, g) => split.filter((s) => s.group === g).map((s) => s.index)),
    );
    this.#failedAt = this.#cluster.driver.clock.now();
    this.#options.progress(
      ok ? `partition: ${groups} groups` : 'partition: not supported on this transport, skipped',
    );
  }

  /** Waits until the live nodes form one component and no view lists a dead node. */
  async #heal(what: 'failure' | 'partition'): Promise<void> {
    const { driver } = this.#cluster;
    if (what === 'partition') this.#cluster.heal();
    const started = what === 'partition' ? driver.clock.now() : this.#failedAt;
    let healed = false;
    while (!healed && driver.clock.now() - started < this.#options.convergeTimeoutMs) {
      const views = await this.#cluster.activeViews();
      const alive = new Set(this.#liveIds());
      const listsDead = [...views.values()].some((view) => view.some((id) => !alive.has(id)));
      healed = !listsDead && this.#componentCount(views) === 1;
      if (!healed) await driver.sleep(100);
    }
    this.#pending.healMs = healed ? Math.round(driver.clock.now() - started) : undefined;
    this.#options.progress(
      `heal: ${healed ? `healed in ${this.#pending.healMs} ms` : 'not healed before the timeout'}`,
    );
  }

  async #churn(durationMs: number, perSecond: number): Promise<void> {
    const { driver } = this.#cluster;
    const stepMs = 1000 / perSecond;
    const end = driver.clock.now() + durationMs;
    const traffic = this.#traffic('churn');
    while (driver.clock.now() < end) {
      const victim = pickOne(
        this.#random,
        this.#live().filter((i) => i !== 0),
      );
      if (victim !== undefined) await this.#cluster.kill(victim);
      await this.#cluster.add(0);
      await driver.sleep(stepMs);
    }
    await traffic;
  }

  #liveIds(): string[] {
    return this.#live().map((i) => this.#cluster.nodes[i]?.id as string);
  }

  /**
   * Components only: settle and heal poll this every few hundred ms, and the full overlay
   * metrics (all-pairs BFS up to 1,000 nodes, clustering) cost far more than the answer.
   */
  #componentCount(views: Map<string, string[]>): number {
    return connectedComponents(graphOfSnapshot(this.#snapshotOf(views))).length;
  }

  #snapshotOf(views: Map<string, string[]>): OverlaySnapshot {
    const nodes = this.#cluster.nodes.map((n) => ({ id: n.id, alive: n.alive }));
    const edges: Array<[string, string]> = [];
    for (const [from, view] of views) for (const to of view) edges.push([from, to]);
    return { nodes, edges };
  }

  async #snapshot(): Promise<OverlaySnapshot> {
    return this.#snapshotOf(await this.#cluster.activeViews());
  }
}
