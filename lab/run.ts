/**
 * Runs one combination (membership x router) through a scenario and measures every phase.
 */
import { resolveConfig, type NodeConfig } from '../config.js';
import { pickOne, pickSome, seededRandom, type Random } from '../utils/random.js';
import type { Cluster, TransportName } from './cluster.js';
import { Recorder } from './recorder.js';
import { graphOfSnapshot, overlayMetrics } from './graph.js';
import { liveDegrees, overlayRule, type LiveViews, type OverlayRule } from './overlay-rules.js';
import { healedJudge, OverlayWatch, settledJudge, type Judge } from './overlay-watch.js';
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
  /** How long settle and heal wait at most, from the last join or the failure. */
  convergeTimeoutMs: number;
  progress: (line: string) => void;
}

type Extras = PhaseExtras;

/** How often a watch samples the views while waiting to settle, and to heal. */
export const SETTLE_POLL_MS = 250;
export const HEAL_POLL_MS = 100;

/** A watch and what it measures from, for the progress line. */
interface PendingWatch {
  watch: OverlayWatch;
  since: string;
}

export class LabRun {
  readonly #cluster: Cluster;
  readonly #options: RunOptions;
  readonly #recorder: Recorder;
  readonly #random: Random;
  readonly #phases: PhaseReport[] = [];
  /** Figures of the last structural step (grow, settle, heal) for the next measured phase. */
  #pending: Extras = {};
  #messageCounter = 0;
  readonly #rule: OverlayRule;
  /** Watching for the overlay to settle since the last join, until a settle step reads it. */
  #converging: PendingWatch | undefined;
  /** Watching for the overlay to heal since the last failure, until a heal step reads it. */
  #healing: PendingWatch | undefined;
  /** Live entries per node when the last partition was cut. */
  #beforePartition: ReadonlyMap<string, number> = new Map();

  constructor(cluster: Cluster, recorder: Recorder, options: RunOptions) {
    this.#cluster = cluster;
    this.#recorder = recorder;
    this.#options = options;
    this.#random = seededRandom(options.seed ^ 0x1ab);
    this.#rule = overlayRule(resolveConfig(options.config));
  }

  async run(): Promise<RunInput> {
    try {
      for (const step of this.#options.steps) await this.#step(step);
    } finally {
      this.#converging?.watch.stop();
      this.#healing?.watch.stop();
    }
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
      const joinedAt = driver.clock.now();
      await this.#cluster.add(seed);
      if (this.#cluster.nodes.length === target) this.#watchConvergence(joinedAt, 'the last join');
      if (this.#cluster.nodes.length % 50 === 0)
        this.#options.progress(`grow: ${this.#cluster.nodes.length}/${target} nodes up`);
      await driver.sleep(this.#options.joinStaggerMs);
    }
    this.#pending.convergeMs = undefined;
    this.#options.progress(`grow: ${target} nodes up in ${Math.round(driver.clock.now() - started)} ms`);
  }

  /** From `since` (the last join) on, watches for the overlay to settle: see `settledJudge`. */
  #watchConvergence(since: number, what: string): void {
    this.#converging?.watch.stop();
    const quietMs = Math.max(1000, (this.#options.config.shuffleIntervalMs ?? 10_000) / 2);
    this.#converging = this.#watch(since, what, settledJudge(this.#rule, quietMs), SETTLE_POLL_MS);
  }

  /**
   * Waits for the overlay to settle (`settledJudge`). Converge time: from the last join (or
   * this step, without a grow before it) to the start of the stretch over which it held.
   */
  async #settle(): Promise<void> {
    if (!this.#converging) this.#watchConvergence(this.#cluster.driver.clock.now(), 'the settle step');
    const { watch, since } = this.#converging as PendingWatch;
    this.#converging = undefined;
    const waitedFrom = this.#cluster.driver.clock.now();
    const outcome = await this.#awaitWatch(watch);
    const waitedMs = Math.round(this.#cluster.driver.clock.now() - waitedFrom);
    this.#pending.convergeMs = outcome.state === 'reached' ? outcome.ms : null;
    this.#pending.settleTimedOut = outcome.state === 'timeout';
    this.#options.progress(
      outcome.state === 'reached'
        ? `settle: converged ${outcome.ms} ms after ${since}; the step waited ${waitedMs} ms`
        : `settle: TIMEOUT, not settled ${this.#options.convergeTimeoutMs} ms after ${since}: ${outcome.why}`,
    );
  }

  #watch(startedAt: number, since: string, judge: Judge, pollMs: number): PendingWatch {
    const watch = new OverlayWatch({
      clock: this.#cluster.driver.clock,
      views: () => this.#cluster.activeViews(),
      judge,
      startedAt,
      pollMs,
      timeoutMs: this.#options.convergeTimeoutMs,
    });
    return { watch, since };
  }

  /** Lets time pass until the watch ends; it ends by itself at its timeout at the latest. */
  async #awaitWatch(watch: OverlayWatch): Promise<NonNullable<ReturnType<OverlayWatch['outcome']>>> {
    const { convergeTimeoutMs } = this.#options;
    // The margin covers a sample still in flight at the deadline (a child process answering).
    await this.#cluster.driver.waitUntil(() => watch.isFinished, convergeTimeoutMs + 10_000, 50);
    watch.stop();
    return watch.outcome() ?? { state: 'timeout', ms: convergeTimeoutMs, why: 'no answer from the nodes' };
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
    const before = liveDegrees(await this.#cluster.activeViews());
    const failedAt = this.#cluster.driver.clock.now();
    await Promise.all(victims.map((i) => (how === 'kill' ? this.#cluster.kill(i) : this.#cluster.leave(i))));
    this.#watchHealing(failedAt, `the ${how}`, before);
    this.#options.progress(`${how}: ${victims.length} nodes, ${this.#live().length} left`);
  }

  /**
   * From `since` (a failure, a partition lifted) on, watches for the overlay to heal, back to
   * the live entries per node of `before` (taken before the failure) or the rule's degree.
   */
  #watchHealing(since: number, what: string, before: ReadonlyMap<string, number>): void {
    this.#converging?.watch.stop();
    this.#converging = undefined;
    this.#healing?.watch.stop();
    this.#healing = this.#watch(since, what, healedJudge(this.#rule, before), HEAL_POLL_MS);
  }

  async #partition(groups: number): Promise<void> {
    const live = this.#live();
    this.#beforePartition = liveDegrees(await this.#cluster.activeViews());
    const split = live.map((index, position) => ({ index, group: position % groups }));
    const ok = this.#cluster.partition(
      Array.from({ length: groups }, (_, g) => split.filter((s) => s.group === g).map((s) => s.index)),
    );
    this.#converging?.watch.stop();
    this.#converging = undefined;
    this.#options.progress(
      ok ? `partition: ${groups} groups` : 'partition: not supported on this transport, skipped',
    );
  }

  /**
   * Waits until the overlay healed (`healedJudge`): measured from the failure, watched since
   * then beside the steps in between; after a partition, from the moment it is lifted.
   */
  async #heal(what: 'failure' | 'partition'): Promise<void> {
    const now = this.#cluster.driver.clock.now();
    if (what === 'partition') {
      this.#cluster.heal();
      this.#watchHealing(now, 'the partition was lifted', this.#beforePartition);
    } else if (!this.#healing) {
      this.#watchHealing(now, 'the heal step', liveDegrees(await this.#cluster.activeViews()));
    }
    const { watch, since } = this.#healing as PendingWatch;
    this.#healing = undefined;
    const outcome = await this.#awaitWatch(watch);
    this.#pending.healMs = outcome.state === 'reached' ? outcome.ms : null;
    this.#pending.healTimedOut = outcome.state === 'timeout';
    this.#options.progress(
      outcome.state === 'reached'
        ? `heal: healed ${outcome.ms} ms after ${since}`
        : `heal: TIMEOUT, not healed ${this.#options.convergeTimeoutMs} ms after ${since}: ${outcome.why}`,
    );
  }

  async #churn(durationMs: number, perSecond: number): Promise<void> {
    const { driver } = this.#cluster;
    const stepMs = 1000 / perSecond;
    const end = driver.clock.now() + durationMs;
    // Joins go on during churn: a settle after it watches from its own start.
    this.#converging?.watch.stop();
    this.#converging = undefined;
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

  #snapshotOf(views: LiveViews): OverlaySnapshot {
    const nodes = this.#cluster.nodes.map((n) => ({ id: n.id, alive: n.alive }));
    const edges: Array<[string, string]> = [];
    for (const [from, view] of views) for (const to of view) edges.push([from, to]);
    return { nodes, edges };
  }

  async #snapshot(): Promise<OverlaySnapshot> {
    return this.#snapshotOf(await this.#cluster.activeViews());
  }
}
