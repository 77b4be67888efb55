/**
 * `npm run fuzz [-- --cases N] [-- --seed S] [-- --only decoder,codec,node]`: the properties of
 * test/hardening-fuzz.test.ts at scale, 10^5 cases each by default. Not run in CI.
 *
 * - decoder: mutated frame streams in random chunks through the FrameDecoder;
 * - codec: mutated encodings of every Envelope kind through the decoder and the input rules;
 * - node: a node (HyParView, between two honest neighbours over TCP) fed clear, sealed and
 *   tampered frames by hand-driven peers; after every case no internal error was logged; at the
 *   end it still carries a broadcast between its neighbours, is back to their two connections,
 *   and its heap after GC has not grown past its bounded caches.
 *
 * Prints fast-check's seed and counterexample on a failure, and exits 1; a run is replayed with
 * `--seed`.
 */
import { parseArgs } from 'node:util';
import { randomInt } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import { Node } from '../node.js';
import type { NodeConfig } from '../config.js';
import { FuzzRunner, codecProperty, frameDecoderProperty, fuzzCase, identityPool } from './fuzz-harness.js';

/** Peers feeding the node at once. */
const PARALLEL = 4;
/** Heap growth allowed between the end of the warm-up and the end of the run, after GC. */
const HEAP_GROWTH_LIMIT_BYTES = 32 * 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function log(line: string): void {
  process.stderr.write(`[fuzz] ${line}\n`);
}

/** Polls `condition` every 20 ms; rejects naming `what` after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function fuzzPure(cases: number, seed: number): void {
  let started = performance.now();
  fc.assert(frameDecoderProperty(300), { numRuns: cases, seed });
  log(`decoder: ${cases} cases passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
  fc.assert(codecProperty({ pool: identityPool(8), ports: [0, 1, 65535] }), { numRuns: cases, seed });
  log(`codec: ${cases} cases passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const TARGET: Partial<NodeConfig> = {
  name: 'x',
  membership: 'hyparview',
  handshakeTimeoutMs: 2000,
  pingIdleMs: 20_000,
  pingTimeoutMs: 20_000,
  shortLivedIdleMs: 2000,
  shuffleIntervalMs: 500,
  retryBaseBackoffMs: 20,
  retryMaxBackoffMs: 300,
  dialTimeoutMs: 2000,
  // The fuzz connects hundreds of times a second; and small caches show that bounds hold.
  acceptRatePerSecond: 1_000_000,
  acceptBurst: 1_000_000,
  seenCacheSize: 1024,
  routeCacheSize: 1024,
};

async function fuzzNode(cases: number, seed: number): Promise<void> {
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (entry: string) => void errors.push(entry) });
  const x = new Node(TARGET, { logger });
  await x.start();
  const seeds = [{ host: x.info.host, port: x.info.port }];
  const honest: Partial<NodeConfig> = {
    membership: 'static',
    seeds,
    retryBaseBackoffMs: 20,
    retryMaxBackoffMs: 300,
  };
  const a = new Node({ ...honest, name: 'a' });
  const b = new Node({ ...honest, name: 'b' });
  const texts: string[] = [];
  b.on('message', (message) => texts.push(message.text));
  try {
    await Promise.all([a.start(), b.start()]);
    await until(() => x.peers().active.length === 2, 'a and b to join x');
    const world = { pool: identityPool(8), ports: [0, 1, x.info.port, a.info.port] };
    // Cases go in batches to parallel peers: more load, and more peers than the active view holds.
    const runners = Array.from({ length: PARALLEL }, () => new FuzzRunner(x.info.port));
    const started = performance.now();
    const heapStart = heapAfterGc();
    let heapWarm = heapStart;
    let done = 0;
    const batches = Math.ceil(cases / PARALLEL);
    const step = Math.max(1, Math.floor(batches / 10));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fuzzCase(world), { minLength: PARALLEL, maxLength: PARALLEL }),
          async (batch) => {
            await Promise.all(batch.map((input, i) => runners[i]?.run(input)));
            if (errors.length > 0) throw new Error(`internal error logged: ${errors[0]}`);
            if (!x.isRunning) throw new Error('the node stopped');
            done += batch.length;
            if ((done / PARALLEL) % step !== 0) return;
            const heap = heapAfterGc();
            if (done / PARALLEL === step) heapWarm = heap;
            const rate = done / ((performance.now() - started) / 1000);
            const open = x.stats()['node.connections'];
            log(
              `node: ${done}/${batches * PARALLEL} cases, ${rate.toFixed(0)}/s, heap ${mb(heap)}, connections ${open}`,
            );
          },
        ),
        { numRuns: batches, seed },
      );
    } finally {
      for (const runner of runners) runner.close();
    }
    const outcomes = runners.map((runner) => runner.outcomes);
    // Evicted by the fuzz peers, a and b redial x: wait until both are back.
    await until(
      () => [a.id, b.id].every((id) => x.peers().active.some((p) => p.id === id)),
      'a and b back at x',
    );
    a.broadcast('after the fuzz');
    await until(() => texts.includes('after the fuzz'), 'a broadcast from a to b through x');
    await until(() => x.stats()['node.connections'] === 2, 'x back to its two honest connections');
    const heapEnd = heapAfterGc();
    const stats = x.stats();
    const counters = Object.entries(stats)
      .filter(([key]) =>
        /\.(drop|ban|refused|dial)\.|badSignature|invalidPayload|duplicates|delivered/.test(key),
      )
      .map(([key, value]) => `  ${key} ${value}`);
    process.stdout.write(
      [
        `node: ${done} cases in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        `outcomes (clear / sealed / tampered: link kept or closed): ${JSON.stringify(sumOutcomes(outcomes))}`,
        `heap after GC: start ${mb(heapStart)}, after warm-up ${mb(heapWarm)}, end ${mb(heapEnd)}`,
        `connections at the end: ${stats['node.connections']}; bans held: ${stats['node.bans']}`,
        'counters of x:',
        ...counters,
        '',
      ].join('\n'),
    );
    if (heapEnd - heapWarm > HEAP_GROWTH_LIMIT_BYTES) {
      throw new Error(`heap grew by ${mb(heapEnd - heapWarm)} after the warm-up`);
    }
  } finally {
    await Promise.all([x.stop(), a.stop(), b.stop()]);
  }
}

function sumOutcomes(all: Array<FuzzRunner['outcomes']>): FuzzRunner['outcomes'] {
  const sum: FuzzRunner['outcomes'] = {
    clear: { kept: 0, closed: 0 },
    sealed: { kept: 0, closed: 0 },
    tampered: { kept: 0, closed: 0 },
  };
  for (const outcomes of all) {
    for (const kind of ['clear', 'sealed', 'tampered'] as const) {
      sum[kind].kept += outcomes[kind].kept;
      sum[kind].closed += outcomes[kind].closed;
    }
  }
  return sum;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { cases: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' } },
  });
  const cases = Number(values.cases ?? 100_000);
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
  if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed)) {
    throw new Error('usage: npm run fuzz -- [--cases N] [--seed S] [--only decoder,codec,node]');
  }
  const only = new Set((values.only ?? 'decoder,codec,node').split(','));
  log(`seed ${seed}, ${cases} cases per section (replay with --seed ${seed})`);
  if (only.has('decoder') || only.has('codec')) fuzzPure(cases, seed);
  if (only.has('node')) await fuzzNode(cases, seed);
  log('no failure');
}

main().catch((err: unknown) => {
  process.stderr.write(`[fuzz] FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
