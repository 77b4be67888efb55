/**
 * Memory per node: heap (V8 heap plus Buffers, over what the process held before the mesh) and
 * the process's whole RSS, after a full collection, divided by N, with N nodes idle after
 * settling and again after 1,000 broadcasts. Accounted for:
 * - `idle`: the nodes themselves, their views, links and sockets;
 * - `per-seen-entry`: what 1,000 broadcasts added, per node and message: the seen cache (and
 *   the route of each origin);
 * - `tcp-sockets`: what a TCP node costs over a memory-transport node of the same mesh size,
 *   i.e. the sockets and their buffers;
 * - `relay-*`: one node relaying large chat messages, with and without a neighbour that never
 *   reads (bench/relay-memory.ts).
 */
import { execFile } from 'node:child_process';
import { totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pickOne, seededRandom } from '../utils/random.js';
import { figure, type Figure } from './results.js';
import { relayMemoryFigures } from './relay-memory.js';
import { type MeshBenchOptions, memoryAfterGc, progress, runMesh, type MeshTransport } from './mesh.js';

const KIB = 1024;
/** 50 broadcasts a second across the mesh: far under every rate limit. */
const SPACING_MS = 20;

const run = promisify(execFile);

/**
 * 10,000 nodes after 1,000 broadcasts hold gigabytes, more than V8's default heap limit: the
 * child may use three quarters of the machine's memory.
 */
const CHILD_HEAP_MIB = Math.floor((totalmem() / 2 ** 20) * 0.75);

export interface Measured {
  idle: number;
  after: number;
  rss: number;
}

export async function memoryFigures({ quick, sizes }: MeshBenchOptions): Promise<Figure[]> {
  const broadcasts = quick ? 50 : 1000;
  const memoryAtTcpSize = await measure('memory', sizes.tcpLarge, 0, quick);
  const memory = await measure('memory', sizes.memory, broadcasts, quick);
  const tcp = await measure('tcp', sizes.tcpLarge, broadcasts, quick);
  const figures: Figure[] = [];
  for (const [transport, nodes, measured, limitKiB] of [
    ['tcp', sizes.tcpLarge, tcp, 512],
    ['memory', sizes.memory, memory, 128],
  ] as Array<[MeshTransport, number, Measured, number]>) {
    const prefix = `memory.${transport}-${nodes}`;
    figures.push(
      figure(`${prefix}.idle`, measured.idle / KIB, 'KiB/node', null),
      figure(
        `${prefix}.after-${broadcasts}-broadcasts`,
        measured.after / KIB,
        'KiB/node',
        { name: 'idle', value: measured.idle / KIB },
        { atMost: limitKiB, of: 'value' },
      ),
      figure(`${prefix}.rss-after-${broadcasts}-broadcasts`, measured.rss / KIB, 'KiB/node', null),
      figure(`${prefix}.per-seen-entry`, (measured.after - measured.idle) / broadcasts, 'B', null),
    );
  }
  figures.push(
    figure(`memory.tcp-${sizes.tcpLarge}.tcp-sockets`, (tcp.idle - memoryAtTcpSize.idle) / KIB, 'KiB/node', {
      name: 'memory-transport node idle',
      value: memoryAtTcpSize.idle / KIB,
    }),
  );
  figures.push(...(await relayMemoryFigures(quick)));
  return figures;
}

/**
 * Each mesh is measured in a fresh process (bench/memory-child.ts): in one process, what an
 * earlier mesh left behind (sockets closing, caches collected late) is freed during the next
 * and makes its figures too low, even negative.
 */
export async function measure(
  transport: MeshTransport,
  nodes: number,
  broadcasts: number,
  quick: boolean,
): Promise<Measured> {
  const child = fileURLToPath(new URL('./memory-child.js', import.meta.url));
  const heap = `--max-old-space-size=${CHILD_HEAP_MIB}`;
  const args = [heap, child, transport, String(nodes), String(broadcasts), String(quick)];
  try {
    const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Measured;
  } catch (err) {
    // One mesh that could not be measured (out of memory, say) must not cost the bench every
    // other figure: its figures are null, and so not met.
    progress(`memory ${transport}-${nodes}: not measured: ${(err as Error).message.split('\n')[0] ?? ''}`);
    return { idle: Number.NaN, after: Number.NaN, rss: Number.NaN };
  }
}

/** One mesh's memory figures, measured in this process (run by bench/memory-child.ts). */
export async function measureHere(
  transport: MeshTransport,
  nodes: number,
  broadcasts: number,
  quick: boolean,
): Promise<Measured> {
  const before = memoryAfterGc();
  let measured: Measured = { idle: 0, after: 0, rss: 0 };
  await runMesh(
    { transport, nodes, steps: [{ grow: nodes }, { settle: true }], broadcasts: 0, quick },
    async ({ cluster }) => {
      const { driver } = cluster;
      const idle = memoryAfterGc();
      const random = seededRandom(nodes);
      const live = cluster.nodes.filter((n) => n.alive).map((n) => n.index);
      for (let i = 0; i < broadcasts; i++) {
        await cluster.broadcast(pickOne(random, live) as number, `memory probe ${i}`);
        await driver.sleep(SPACING_MS);
      }
      // Every copy in flight lands: a few link delays, well under a second.
      await driver.sleep(2000);
      const after = memoryAfterGc();
      measured = {
        idle: (idle.heap - before.heap) / nodes,
        after: (after.heap - before.heap) / nodes,
        rss: after.rss / nodes,
      };
    },
  );
  return measured;
}
