/**
 * `npm run soak [-- --minutes M] [-- --nodes N] [-- --rate R] [-- --churn-ms C] [-- --seed S]`:
 * a mesh of real nodes over TCP on 127.0.0.1 (50 by default, default settings) under steady
 * traffic (R broadcasts a second from random nodes) and churn (every C ms a random node dies,
 * crashed or leaving in turn, and a fresh one joins through a random live node), for M minutes
 * (10 by default). Not run in CI.
 *
 * It prints, every 30 s and at the end: broadcasts delivered / expected, where a node is
 * expected to deliver a broadcast when it had joined (had a neighbour) when the broadcast was
 * sent and was still alive `GRACE_MS` later; duplicate deliveries; memory per node (heap after
 * GC / nodes) at the start and at the end; and every drop counter of every node, summed by
 * reason (nodes that left included). Exits 1 on a duplicate delivery or when delivered /
 * expected falls below `--min-ratio` (0.99 by default).
 */
import { parseArgs } from 'node:util';
import { randomInt } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Node } from '../node.js';
import type { Address, NodeConfig } from '../config.js';
import { seededRandom, type Random } from '../utils/random.js';

/** How long after its sending a broadcast must have reached every expected node. */
const GRACE_MS = 5000;
const REPORT_EVERY_MS = 30_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Member {
  node: Node;
  name: string;
  startedAtMs: number;
  stoppedAtMs: number | undefined;
  /** Message id -> deliveries. */
  delivered: Map<string, number>;
}

interface Sent {
  id: string;
  atMs: number;
  /** Members joined and alive at send time, the origin excepted. */
  audience: Member[];
}

interface Options {
  nodes: number;
  durationMs: number;
  ratePerSecond: number;
  churnMs: number;
  minRatio: number;
  random: Random;
  config: Partial<NodeConfig>;
}

const now = (): number => performance.now();
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

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

function heapPerNode(count: number): { heap: number; rss: number } {
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed / count, rss: rss / count };
}

class Soak {
  readonly members: Member[] = [];
  readonly sent: Sent[] = [];
  /** Counters of the nodes that are gone, summed, so that the drops of the dead are counted. */
  readonly retired = new Map<string, number>();
  #serial = 0;

  constructor(private readonly options: Options) {}

  live(): Member[] {
    return this.members.filter((m) => m.stoppedAtMs === undefined);
  }

  async add(seed: Address | undefined): Promise<Member> {
    const name = `s${this.#serial++}`;
    const node = new Node({ ...this.options.config, name, seeds: seed ? [seed] : [] });
    const member: Member = { node, name, startedAtMs: now(), stoppedAtMs: undefined, delivered: new Map() };
    node.on('message', (m) => member.delivered.set(m.id, (member.delivered.get(m.id) ?? 0) + 1));
    this.members.push(member);
    await node.start();
    return member;
  }

  pick(from: Member[]): Member {
    return from[this.options.random.int(from.length)] as Member;
  }

  broadcast(): void {
    const joined = this.live().filter((m) => m.node.isRunning && m.node.peers().active.length > 0);
    if (joined.length < 2) return;
    const origin = this.pick(joined);
    const id = origin.node.broadcast(`soak ${this.sent.length} from ${origin.name}`);
    this.sent.push({ id, atMs: now(), audience: joined.filter((m) => m !== origin) });
  }

  async churn(turn: number): Promise<void> {
    const live = this.live();
    const victim = this.pick(live);
    victim.stoppedAtMs = now();
    this.#retire(victim);
    // In turn: a crash (sockets cut, no Leave) and a graceful leave.
    await (turn % 2 === 0 ? victim.node.crash() : victim.node.stop());
    const contact = this.pick(this.live());
    await this.add({ host: contact.node.info.host, port: contact.node.info.port });
  }

  /** Delivered / expected over the broadcasts whose grace has passed, and duplicate deliveries. */
  tally(): { expected: number; delivered: number; duplicates: number; judged: number } {
    let expected = 0;
    let delivered = 0;
    let duplicates = 0;
    let judged = 0;
    const cutoff = now() - GRACE_MS;
    for (const message of this.sent) {
      if (message.atMs > cutoff) continue;
      judged++;
      for (const member of message.audience) {
        const count = member.delivered.get(message.id) ?? 0;
        if (count > 1) duplicates += count - 1;
        const isAliveThrough =
          member.stoppedAtMs === undefined || member.stoppedAtMs > message.atMs + GRACE_MS;
        if (!isAliveThrough) continue;
        expected++;
        if (count > 0) delivered++;
      }
    }
    return { expected, delivered, duplicates, judged };
  }

  /** Every drop, ban and refusal counter, summed over live and retired nodes. */
  drops(): Array<[string, number]> {
    const sum = new Map(this.retired);
    for (const member of this.live()) add(sum, member.node.stats());
    return [...sum.entries()].filter(([, value]) => value > 0).sort((x, y) => y[1] - x[1]);
  }

  #retire(member: Member): void {
    if (member.node.isRunning) add(this.retired, member.node.stats());
  }
}

function add(sum: Map<string, number>, stats: Record<string, number>): void {
  for (const [key, value] of Object.entries(stats)) {
    if (/\.(drop|ban|refused)\./.test(key)) sum.set(key, (sum.get(key) ?? 0) + value);
  }
}

function report(soak: Soak, label: string): { ratio: number; duplicates: number } {
  const { expected, delivered, duplicates, judged } = soak.tally();
  const ratio = expected === 0 ? 1 : delivered / expected;
  log(
    `${label}: ${soak.live().length} nodes, ${soak.sent.length} broadcasts sent (${judged} judged), ` +
      `delivered/expected ${delivered}/${expected} = ${(ratio * 100).toFixed(3)}%, duplicates ${duplicates}`,
  );
  return { ratio, duplicates };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      minutes: { type: 'string' },
      'duration-ms': { type: 'string' },
      rate: { type: 'string' },
      'churn-ms': { type: 'string' },
      'min-ratio': { type: 'string' },
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
  const options: Options = {
    nodes: Number(values.nodes ?? 50),
    durationMs,
    ratePerSecond: Number(values.rate ?? 5),
    churnMs: Number(values['churn-ms'] ?? 5000),
    minRatio: Number(values['min-ratio'] ?? 0.99),
    random: seededRandom(seed),
    config: {
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
  ];
  if (numbers.some((n) => !Number.isFinite(n) || n <= 0) || options.nodes < 3) {
    throw new Error(
      'usage: npm run soak -- [--minutes M | --duration-ms D] [--nodes N>=3] [--rate R] [--churn-ms C]',
    );
  }
  log(
    `seed ${seed}: ${options.nodes} nodes, ${options.ratePerSecond} broadcasts/s, a node replaced every ` +
      `${options.churnMs} ms, for ${(durationMs / 60_000).toFixed(1)} min`,
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
      () => soak.live().every((m) => m.node.peers().active.length > 0),
      'every node to join',
      60_000,
    );
    const start = heapPerNode(options.nodes);
    log(`grown; memory per node: heap ${mb(start.heap)}, rss ${mb(start.rss)}`);

    const traffic = setInterval(() => soak.broadcast(), 1000 / options.ratePerSecond);
    let turn = 0;
    let churning = Promise.resolve();
    const churn = setInterval(() => {
      churning = churning
        .then(() => soak.churn(turn++))
        .catch((err: unknown) => log(`churn failed: ${String(err)}`));
    }, options.churnMs);
    const progress = setInterval(() => report(soak, 'progress'), REPORT_EVERY_MS);
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    clearInterval(traffic);
    clearInterval(churn);
    clearInterval(progress);
    await churning;
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 1000));

    const end = heapPerNode(soak.live().length);
    const { ratio, duplicates } = report(soak, 'end');
    const drops = soak.drops();
    process.stdout.write(
      [
        `delivered/expected: ${(ratio * 100).toFixed(3)}%  duplicates: ${duplicates}  churn: ${turn} nodes replaced`,
        `memory per node: start heap ${mb(start.heap)} rss ${mb(start.rss)}; end heap ${mb(end.heap)} rss ${mb(end.rss)}`,
        `drops by reason (all nodes, the departed included):`,
        ...(drops.length === 0 ? ['  none'] : drops.map(([key, value]) => `  ${key} ${value}`)),
        '',
      ].join('\n'),
    );
    if (duplicates > 0) throw new Error(`${duplicates} duplicate deliveries`);
    if (ratio < options.minRatio) throw new Error(`delivered/expected ${ratio} below ${options.minRatio}`);
  } finally {
    await Promise.all(soak.live().map((m) => m.node.stop()));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[soak] FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
