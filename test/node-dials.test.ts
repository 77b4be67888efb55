/**
 * How a node dials, through its public API and an instrumented transport, on the memory
 * transport under a simulated clock: at most `maxPendingDials` dials in flight (the next one is
 * refused and counted), and concurrent connects to one address share one transport dial.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatAddress, type Address } from '../config.js';
import { SIM_PORT, SimNodes, addressOf } from './helpers/sim-nodes.js';

const sims: SimNodes[] = [];
function simulation(seed: number): SimNodes {
  const sim = new SimNodes(seed);
  sims.push(sim);
  return sim;
}
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.crashAll();
});

const at = (host: string): Address => ({ host, port: SIM_PORT });

describe('maxPendingDials', () => {
  it('a dial past the limit is refused and counted as dial.too-many-pending; a finished dial frees its slot', async () => {
    const sim = simulation(1);
    // HyParView joins through each /connect at once (static membership would dial one at a time),
    // and its own retries wait far longer than this test runs.
    const a = await sim.add('a', {
      maxPendingDials: 3,
      retryBaseBackoffMs: 60_000,
      retryMaxBackoffMs: 60_000,
    });
    a.transport.isHolding = true;
    for (const host of ['b', 'c', 'd', 'e']) a.node.connect(at(host));
    await sim.run(1);
    expect(a.transport.dials.map(formatAddress)).toEqual(['b:7000', 'c:7000', 'd:7000']);
    expect(a.node.stats()['node.dial.too-many-pending']).toBe(1);

    a.node.connect(at('f')); // still three in flight
    await sim.run(1);
    expect(a.transport.dials).toHaveLength(3);
    expect(a.node.stats()['node.dial.too-many-pending']).toBe(2);

    a.transport.held[0]?.fail(); // the dial to b fails: two in flight
    await sim.run(1);
    a.node.connect(at('g'));
    await sim.run(1);
    expect(a.transport.dials.map(formatAddress)).toEqual(['b:7000', 'c:7000', 'd:7000', 'g:7000']);
    expect(a.node.stats()['node.dial.too-many-pending']).toBe(2);
    expect(a.node.stats()['node.dial.failed']).toBe(1);
  });
});

describe('dials shared per address', () => {
  it('two concurrent connects to one address make one transport dial, and one link', async () => {
    const sim = simulation(2);
    const b = await sim.add('b');
    const a = await sim.add('a');
    a.transport.isHolding = true;
    a.node.connect(addressOf(b.node));
    a.node.connect(addressOf(b.node));
    await sim.run(1);
    expect(a.transport.dialsTo(addressOf(b.node))).toBe(1);
    a.transport.releaseAll();
    await sim.until(
      () => a.node.peers().active.length === 1 && b.node.peers().active.length === 1,
      10_000,
      'a and b neighbours',
    );
    expect(a.transport.dialsTo(addressOf(b.node))).toBe(1);
    expect(a.transport.connections).toHaveLength(1);
    expect(b.transport.connections).toHaveLength(1);
    expect(a.node.stats()['node.duplicates'] ?? 0).toBe(0);
    expect(b.node.stats()['node.duplicates'] ?? 0).toBe(0);
  });
});
