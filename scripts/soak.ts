/**
 * `npm run soak [-- --minutes M] [-- --nodes N] [-- --rate R] [-- --churn-ms C] [-- --seed S]
 * [-- --warmup-minutes W] [-- --max-growth-kib G] [-- --seen-ttl-ms T] [-- --seen-cache-size E]`:
 * a mesh of real nodes over TCP on 127.0.0.1 (50 by default, default settings but a seen-cache
 * age T of 2 minutes) under steady traffic (R broadcasts a second from random nodes) and churn
 * (every C ms a random node dies, crashed or leaving in turn, and a fresh one joins through a
 * random live node), for M minutes (10 by default). Not run in CI.
 *
 * It prints, every 30 s and at the end: broadcasts delivered / expected, where a node is
 * expected to deliver a broadcast when it had joined (had a neighbour) when the broadcast was
 * sent and was still alive `GRACE_MS` later, and only deliveries within those `GRACE_MS` count;
 * duplicate and late deliveries; memory per node (heap after GC / nodes) with the entries of
 * the seen and route caches per node; and at the end every drop counter of every node, summed by
 * reason (nodes that left included).
 *
 * Memory: caches fill up to their bounds during the first minutes, so growth is judged only
 * after a warm-up of W minutes (by default the longer of one seen-cache age and one mean node
 * lifetime under churn, N x C, plus 30 s: 4.7 minutes; see `defaultWarmupMs`): the least-squares
 * slope of heap per node over the samples from then on, in KiB per node per minute. Each broadcast is judged and forgotten `GRACE_MS` after
 * its sending, and a node that left is dropped, so the script's own bookkeeping stays flat and the
 * heap growth it measures is that of the nodes.
 *
 * Exits 1 on a duplicate delivery, when delivered / expected falls below `--min-ratio` (0.99 by
 * default), or when the heap slope after warm-up exceeds `--max-growth-kib`.
 */
import { parseArgs } from 'node:util';
import { randomInt } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Node } from '../node.js';
import type { Address, NodeConfig } from '../config.js';
import { Counters } from '../utils/counters.js';
import { seededRandom, type Random } from '../utils/random.js';

/** How long after its sending a broadcast must have reached every expected node. */
const GRACE_MS = 5000;
/** Progress lines and memory samples. */
const SAMPLE_EVERY_MS = 30_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Member {
  node: Node;
  name: string;
  stoppedAtMs: number | undefined;
}

interface Sent {
  atMs: number;
  /** Members joined and alive at send time, the origin excepted. */
  audience: Member[];
  /** Deliveries by member, whether in the audience or not (a newcomer may get it too). */
  deliveries: Map<Member, number>;
}

interface Tally {
  sent: number;
  judged: number;
  expected: number;
  delivered: number;
  duplicates: number;
  /** Deliveries of a broadcast already judged: late, or duplicates that came late. */
  late: number;
}

/** Memory per live node, and the gauges of the caches that grow with traffic, per node. */
interface Sample {
  atMs: number;
  heap: number;
  rss: number;
  seenEntries: number;
  routes: number;
}

interface Options {
  nodes: number;
  durationMs: number;
  ratePerSecond: number;
  churnMs: number;
  minRatio: number;
  warmupMs: number;
  maxGrowthKibPerMinute: number;
  random: Random;
  config: Partial<NodeConfig>;
}

const now = (): number => performance.now();
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

function log(line: string): void {
  process.stderr.write(`[soak ${(now() / 1000).toFixed(0)}s] ${line}\n`);
}

async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!condition()) {
    if (now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

class Soak {
  /** Live members only: a node that left is dropped, so that nothing here retains it. */
  members: Member[] = [];
  readonly tally: Tally = { sent: 0, judged: 0, expected: 0, delivered: 0, duplicates: 0, late: 0 };
  /** Broadcasts not judged yet, by id, in sending order. */
  readonly #pending = new Map<string, Sent>();
  /** Counters of the nodes that are gone, summed, so that the drops of the dead are counted. */
  readonly retired = new Counters();
  #serial = 0;

  constructor(private readonly options: Options) {}

  async add(seed: Address | undefined): Promise<Member> {
    const name = `s${this.#serial++}`;
    const node = new Node({ ...this.options.config, name, seeds: seed ? [seed] : [] });
    const member: Member = { node, name, stoppedAtMs: undefined };
    node.on('message', (m) => this.#onDelivered(member, m.id));
    this.members.push(member);
    await node.start();
    return member;
  }

  pick(from: Member[]): Member {
    return from[this.options.random.int(from.length)] as Member;
  }

  broadcast(): void {
    const joined = this.members.filter((m) => m.node.isRunning && m.node.peers().active.length > 0);
    if (joined.length < 2) return;
    const origin = this.pick(joined);
    const id = origin.node.broadcast(`soak ${this.tally.sent++} from ${origin.name}`);
    this.#pending.set(id, {
      atMs: now(),
      audience: joined.filter((m) => m !== origin),
      deliveries: new Map(),
    });
  }

  async churn(turn: number): Promise<void> {
    const victim = this.pick(this.members);
    victim.stoppedAtMs = now();
    this.#retire(victim);
    this.members = this.members.filter((m) => m !== victim);
    // In turn: a crash (sockets cut, no Leave) and a graceful leave.
    await (turn % 2 === 0 ? victim.node.crash() : victim.node.stop());
    const contact = this.pick(this.members);
    await this.add({ host: contact.node.info.host, port: contact.node.info.port });
  }

  /** Adds the broadcasts whose grace has passed to the tally, and forgets them. */
  judge(): void {
    const cutoff = now() - GRACE_MS;
    for (const [id, message] of this.#pending) {
      if (message.atMs > cutoff) break;
      this.#pending.delete(id);
      this.tally.judged++;
      for (const count of message.deliveries.values()) this.tally.duplicates += count - 1;
      for (const member of message.audience) {
        const isAliveThrough =
          member.stoppedAtMs === undefined || member.stoppedAtMs > message.atMs + GRACE_MS;
        if (!isAliveThrough) continue;
        this.tally.expected++;
        if (message.deliveries.has(member)) this.tally.delivered++;
      }
    }
  }

  /**
   * Heap and RSS after a full GC per node of the mesh, and the seen and route entries per live
   * node. Memory is divided by the mesh size, not by the live nodes: a sample may fall between a
   * departure and its replacement, while the departed node is still in memory.
   */
  sample(): Sample {
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    const count = this.members.length;
    let seenEntries = 0;
    let routes = 0;
    for (const member of this.members) {
      const stats = member.node.stats();
      seenEntries += stats['router.seenEntries'] ?? 0;
      routes += stats['router.routesKnown'] ?? 0;
    }
    return {
      atMs: now(),
      heap: heapUsed / this.options.nodes,
      rss: rss / this.options.nodes,
      seenEntries: seenEntries / count,
      routes: routes / count,
    };
  }

  /** Every drop, ban and refusal counter, summed over live and retired nodes. */
  drops(): Array<[string, number]> {
    const sum = new Counters();
    add(sum, this.retired.snapshot());
    for (const member of this.members) add(sum, member.node.stats());
    return Object.entries(sum.snapshot())
      .filter(([, value]) => value > 0)
      .sort((x, y) => y[1] - x[1]);
  }

  #onDelivered(member: Member, id: string): void {
    const message = this.#pending.get(id);
    if (message) message.deliveries.set(member, (message.deliveries.get(member) ?? 0) + 1);
    else this.tally.late++;
  }

  #retire(member: Member): void {
    if (member.node.isRunning) add(this.retired, member.node.stats());
  }
}

/** Adds the drop, ban and refusal counters of `stats` to `sum`. */
function add(sum: Counters, stats: Record<string, number>): void {
  for (const [key, value] of Object.entries(stats)) {
    if (/\.(drop|ban|refused)\./.test(key)) sum.increment(key, value);
  }
}

/** Least-squares slope of heap per node against time, in bytes per minute; NaN under 2 samples. */
function slopePerMinute(samples: Sample[]): number {
  if (samples.length < 2) return NaN;
  const xs = samples.map((s) => s.atMs / 60_000);
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = samples.reduce((a, s) => a + s.heap, 0) / samples.length;
  let covariance = 0;
  let variance = 0;
  samples.forEach((s, i) => {
    const dx = (xs[i] as number) - meanX;
    covariance += dx * (s.heap - meanY);
    variance += dx * dx;
  });
  return covariance / variance;
}

function describe(sample: Sample): string {
  return (
    `heap ${kib(sample.heap)}, rss ${kib(sample.rss)}, ` +
    `seen entries ${sample.seenEntries.toFixed(0)}, routes ${sample.routes.toFixed(0)}`
  );
}

function report(soak: Soak, label: string, sample: Sample): number {
  soak.judge();
  const { sent, judged, expected, delivered, duplicates, late } = soak.tally;
  const ratio = expected === 0 ? 1 : delivered / expected;
  log(
    `${label}: ${soak.members.length} nodes, ${sent} broadcasts sent (${judged} judged), ` +
      `delivered/expected ${delivered}/${expected} = ${(ratio * 100).toFixed(3)}%, duplicates ${duplicates}, ` +
      `late ${late}; per node: ${describe(sample)}`,
  );
  return ratio;
}

/**
 * Until every cache bounded by age is full (one seen-cache age), and until the nodes' ages mix as
 * they will for the rest of the run: a node lives `nodes x churnMs` on average (250 s by default),
 * and what it holds grows with what it has seen since it joined (seen entries up to one age, the
 * keys and rate buckets of the origins it met, the capacity of its hash tables), so the mean over
 * the nodes settles after about one lifetime, when most of the first nodes are gone. Plus one
 * sample.
 */
function defaultWarmupMs(seenCacheTtlMs: number, nodes: number, churnMs: number): number {
  return Math.max(seenCacheTtlMs, nodes * churnMs) + SAMPLE_EVERY_MS;
}

function parseOptions(): Options & { seed: number } {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      minutes: { type: 'string' },
      'duration-ms': { type: 'string' },
      rate: { type: 'string' },
      'churn-ms': { type: 'string' },
      'min-ratio': { type: 'string' },
      'warmup-minutes': { type: 'string' },
      'max-growth-kib': { type: 'string' },
      'seen-ttl-ms': { type: 'string' },
      'seen-cache-size': { type: 'string' },
      seed: { type: 'string' },
      membership: { type: 'string' },
      router: { type: 'string' },
    },
  });
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
  const durationMs =
    values['duration-ms'] !== undefined
      ? Number(values['duration-ms'])
      : Number(values.minutes ?? 10) * 60_000;
  // Shorter than the default 10 minutes so that the seen cache (and the route cache, which
  // shares its age) can reach its steady state, rate x age entries, within a 10-minute run. Safe:
  // copies of a message die within seconds (see the seen-cache invariant in router.ts).
  const seenCacheTtlMs = Number(values['seen-ttl-ms'] ?? 120_000);
  const nodes = Number(values.nodes ?? 50);
  const churnMs = Number(values['churn-ms'] ?? 5000);
  const options = {
    seed,
    nodes,
    durationMs,
    ratePerSecond: Number(values.rate ?? 5),
    churnMs,
    minRatio: Number(values['min-ratio'] ?? 0.99),
    warmupMs:
      values['warmup-minutes'] !== undefined
        ? Number(values['warmup-minutes']) * 60_000
        : defaultWarmupMs(seenCacheTtlMs, nodes, churnMs),
    // 4 KiB per node per minute: over what is left after the warm-up, 1.9 and 2.5 KiB in two runs
    // (the approach to the steady mix of node ages, and the per-origin public keys and text-rate
    // buckets, caches bounded by entries and not by age, that take in each newcomer); under a leak
    // of one small object (16 bytes and up) per broadcast per node at 5 broadcasts a second, or of
    // 1 KiB per departed node per node.
    maxGrowthKibPerMinute: Number(values['max-growth-kib'] ?? 4),
    random: seededRandom(seed),
    config: {
      seenCacheTtlMs,
      // A seen cache bounded by entries too (rate x age, say) tells its growth from any other.
      ...(values['seen-cache-size'] ? { seenCacheSize: Number(values['seen-cache-size']) } : {}),
      ...(values.membership ? { membership: values.membership } : {}),
      ...(values.router ? { router: values.router } : {}),
    },
  };
  const numbers = [
    options.nodes,
    options.durationMs,
    options.ratePerSecond,
    options.churnMs,
    options.minRatio,
    options.maxGrowthKibPerMinute,
  ];
  if (numbers.some((n) => !Number.isFinite(n) || n <= 0) || options.nodes < 3 || !(options.warmupMs >= 0)) {
    throw new Error(
      'usage: npm run soak -- [--minutes M | --duration-ms D] [--nodes N>=3] [--rate R] [--churn-ms C] ' +
        '[--min-ratio F] [--warmup-minutes W] [--max-growth-kib G] ' +
        '[--seen-ttl-ms T] [--seen-cache-size E] [--seed S] [--membership NAME] [--router NAME]',
    );
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { durationMs } = options;
  log(
    `seed ${options.seed}: ${options.nodes} nodes, ${options.ratePerSecond} broadcasts/s, a node replaced every ` +
      `${options.churnMs} ms, for ${(durationMs / 60_000).toFixed(1)} min, ` +
      `memory judged after ${(options.warmupMs / 60_000).toFixed(1)} min`,
  );

  const soak = new Soak(options);
  try {
    const first = await soak.add(undefined);
    const contact = { host: first.node.info.host, port: first.node.info.port };
    for (let i = 1; i < options.nodes; i++) {
      await soak.add(contact);
      await new Promise((resolve) => setTimeout(resolve, 50)); // staggered, as a mesh grows
    }
    await until(
      () => soak.members.every((m) => m.node.peers().active.length > 0),
      'every node to join',
      60_000,
    );
    const start = soak.sample();
    const warmupEndMs = start.atMs + options.warmupMs;
    log(`grown; per node: ${describe(start)}`);

    const samples: Sample[] = [];
    const traffic = setInterval(() => soak.broadcast(), 1000 / options.ratePerSecond);
    let turn = 0;
    let churning = Promise.resolve();
    const churn = setInterval(() => {
      churning = churning
        .then(() => soak.churn(turn++))
        .catch((err: unknown) => log(`churn failed: ${String(err)}`));
    }, options.churnMs);
    const progress = setInterval(() => {
      const sample = soak.sample();
      samples.push(sample);
      report(soak, 'progress', sample);
    }, SAMPLE_EVERY_MS);
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    clearInterval(traffic);
    clearInterval(churn);
    clearInterval(progress);
    await churning;
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 1000));

    const end = soak.sample();
    samples.push(end);
    const ratio = report(soak, 'end', end);
    const judged = samples.filter((s) => s.atMs >= warmupEndMs);
    const warm = judged[0];
    // NaN, and not judged, when the run is too short for two samples after the warm-up.
    const slope = slopePerMinute(judged) / 1024;
    const { duplicates, late } = soak.tally;
    const seenAgeS = (options.config.seenCacheTtlMs ?? 0) / 1000;
    const liveSeenEntries = options.ratePerSecond * seenAgeS;
    const drops = soak.drops();
    process.stdout.write(
      [
        `delivered/expected: ${(ratio * 100).toFixed(3)}%  duplicates: ${duplicates}  late: ${late}  ` +
          `churn: ${turn} nodes replaced`,
        `memory per node at start:        ${describe(start)}`,
        `memory per node after warm-up:   ${warm ? describe(warm) : 'none, the run ended first'}`,
        `memory per node at end:          ${describe(end)}`,
        Number.isNaN(slope)
          ? `heap growth after warm-up: not judged, the run is too short for two samples after it`
          : `heap growth after warm-up: ${slope.toFixed(2)} KiB per node per minute ` +
            `(least squares over ${judged.length} samples; limit ${options.maxGrowthKibPerMinute})`,
        `seen entries per node at end: ${end.seenEntries.toFixed(0)}; unexpired ones are at most ` +
          `${liveSeenEntries.toFixed(0)} (${options.ratePerSecond} broadcasts/s x ${seenAgeS} s of age)`,
        `drops by reason (all nodes, the departed included):`,
        ...(drops.length === 0 ? ['  none'] : drops.map(([key, value]) => `  ${key} ${value}`)),
        '',
      ].join('\n'),
    );
    if (duplicates > 0) throw new Error(`${duplicates} duplicate deliveries`);
    if (ratio < options.minRatio) throw new Error(`delivered/expected ${ratio} below ${options.minRatio}`);
    if (slope > options.maxGrowthKibPerMinute) {
      throw new Error(
        `heap grows ${slope.toFixed(2)} KiB per node per minute after warm-up, ` +
          `over ${options.maxGrowthKibPerMinute}`,
      );
    }
  } finally {
    await Promise.all(soak.members.map((m) => m.node.stop()));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[soak] FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
