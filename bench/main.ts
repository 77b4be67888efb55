/**
 * `npm run bench [-- --quick] [-- --out DIR] [-- --only SECTIONS] [-- --nodes S,L,M]`: every
 * figure against a baseline measured in the same run, printed as a table and written to
 * DIR/results.json (default bench/). `--nodes` sets the mesh sizes (TCP small, TCP large,
 * memory transport; default 100,1000,10000, the issue's).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { broadcastFigures } from './broadcast.js';
import { codecFigures } from './codec.js';
import { failureFigures } from './failure.js';
import { growthFigures } from './growth.js';
import { linkFigures } from './link.js';
import { memoryFigures } from './memory.js';
import { FULL_SIZES, MEMORY_LINKS, QUICK_SIZES, type MeshBenchOptions, type MeshSizes } from './mesh.js';
import { formatFigures, machine, writeResults, type Figure } from './results.js';

const sections: Record<string, (options: MeshBenchOptions) => Promise<Figure[]> | Figure[]> = {
  codec: ({ quick }) => codecFigures(quick),
  link: ({ quick }) => linkFigures(quick),
  broadcast: broadcastFigures,
  growth: growthFigures,
  memory: memoryFigures,
  failure: failureFigures,
};

/** `--nodes 100,1000,10000`: the small and large TCP meshes and the memory-transport mesh. */
function parseSizes(text: string): MeshSizes {
  const [tcpSmall, tcpLarge, memory] = text.split(',').map(Number);
  for (const n of [tcpSmall, tcpLarge, memory]) {
    if (n === undefined || !Number.isInteger(n) || n < 2) {
      process.stderr.write('--nodes takes three node counts of at least 2: TCP small, TCP large, memory\n');
      process.exit(2);
    }
  }
  return { tcpSmall, tcpLarge, memory } as MeshSizes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      only: { type: 'string' },
      nodes: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const sizes = values.nodes ? parseSizes(values.nodes) : quick ? QUICK_SIZES : FULL_SIZES;
  const only = values.only?.split(',');
  const figures: Figure[] = [];
  for (const [name, run] of Object.entries(sections)) {
    if (only && !only.includes(name)) continue;
    process.stderr.write(`[bench] ${name}...\n`);
    figures.push(...(await run({ quick, sizes })));
  }
  const config = {
    quick,
    nodes: `${sizes.tcpSmall},${sizes.tcpLarge},${sizes.memory}`,
    memoryLinks: MEMORY_LINKS.memory,
  };
  const results = { ...machine(), date: new Date().toISOString(), config, figures };
  process.stdout.write(`${formatFigures(figures)}\n`);
  const path = await writeResults(resolve(values.out ?? 'bench'), results);
  process.stdout.write(`results: ${path}\n`);
}

await main();
