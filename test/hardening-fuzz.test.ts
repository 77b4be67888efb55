/**
 * Hardening (issue 7): property tests with random and mutated input, from the frame decoder up
 * to a whole node over TCP. The generators and the hand-driven peer are shared with
 * `npm run fuzz` (scripts/fuzz.ts), which runs the same properties 10^5 times and more; CI runs
 * a few hundred cases of each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import {
  FuzzRunner,
  codecProperty,
  frameDecoderProperty,
  fuzzCase,
  identityPool,
  type FuzzWorld,
} from '../scripts/fuzz-harness.js';
import {
  ATTACKED,
  addressOf,
  expectOnlyHonestConnections,
  expectStillServing,
  type Line,
} from './helpers/hardening.js';
import { TcpMesh, waitFor } from './helpers/tcp-mesh.js';

describe('the pure layers', () => {
  it('the frame decoder, fed mutated streams in random chunks: never throws, keeps what came before the damage, never holds a whole frame', () => {
    fc.assert(frameDecoderProperty(300), { numRuns: 1000 });
  });

  it('the codec and the input rules, fed mutated encodings of every kind: never throw, one known body', () => {
    // NodeInfos point at ports nobody listens on: nothing here dials.
    fc.assert(codecProperty({ pool: identityPool(6), ports: [0, 1, 65535] }), { numRuns: 2000 });
  });
});

describe('a node over TCP fed random and mutated frames', () => {
  const CASES = 400;
  const mesh = new TcpMesh();
  const errors: string[] = [];
  let line: Line;
  let world: FuzzWorld;

  beforeAll(async () => {
    // Captures error-level logs: a Link logs "unexpected error on link" when a handler throws.
    const logger = pino({ level: 'error' }, { write: (entry: string) => void errors.push(entry) });
    const x = await mesh.add(
      {
        ...ATTACKED,
        name: 'x',
        membership: 'hyparview',
        acceptRatePerSecond: 1_000_000,
        acceptBurst: 1_000_000,
      },
      { logger },
    );
    const seeds = [addressOf(x.node)];
    const a = await mesh.add({ membership: 'static', name: 'a', seeds });
    const b = await mesh.add({ membership: 'static', name: 'b', seeds });
    line = { a, x, b };
    await waitFor(() => x.node.peers().active.length === 2, 15_000, 'a and b joined x');
    // Gossiped NodeInfos point at nobody, at x itself, or at a (whose id will not match).
    world = { pool: identityPool(8), ports: [0, 1, x.node.info.port, a.node.info.port] };
  });

  afterAll(() => mesh.stopAll());

  it(`handles ${CASES} cases with no internal error, then serves a and b and goes back to its baseline`, async () => {
    const socketsBefore = tcpSockets();
    const heapBefore = heapAfterGc();
    const runner = new FuzzRunner(line.x.node.info.port);
    try {
      await fc.assert(
        fc.asyncProperty(fuzzCase(world), async (input) => {
          await runner.run(input);
          expect(errors).toEqual([]);
          expect(line.x.node.isRunning).toBe(true);
        }),
        { numRuns: CASES },
      );
    } finally {
      runner.close();
    }
    const { outcomes } = runner;
    expect(outcomes.sealed.kept).toBeGreaterThan(0); // the fuzz reached the handlers, not only the handshake
    expect(outcomes.sealed.closed).toBeGreaterThan(0);
    await expectStillServing(line, 'after the fuzz');
    await expectOnlyHonestConnections(line);
    await waitFor(
      () => tcpSockets() === socketsBefore,
      15_000,
      'the process back to its sockets before the fuzz',
    );
    const stats = line.x.node.stats();
    expect(stats['router.seenEntries']).toBeLessThanOrEqual(CASES * 4 + 10);
    expect(stats['membership.passivePeers']).toBeLessThanOrEqual(line.x.node.config.passiveSize);
    expect(stats['membership.activePeers']).toBe(2);
    // Tolerant: the caches the fuzz filled are bounded, and a leak per case would show as megabytes.
    expect(heapAfterGc() - heapBefore).toBeLessThan(16 * 1024 * 1024);
  });
});

/** Heap in use after a full collection (`gc` made available at run time, as `--expose-gc` would). */
function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  return process.memoryUsage().heapUsed;
}

/** Open TCP sockets of this process (the honest links and whatever the fuzz left behind). */
function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
}
