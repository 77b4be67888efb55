/**
 * `npm run bench [-- --quick] [-- --out DIR] [-- --only SECTIONS] [-- --nodes S,L,M] [-- --sim-nodes N] [-- --help]`:
 * every figure against a baseline measured in the same run, printed as a table and written to
 * DIR/results.json (default bench/). `--nodes` sets the mesh sizes (TCP small, TCP large,
 * memory transport; default 100,1000,10000, the issue's), `--sim-nodes` the simulator's
 * (default 10000; 100000 for the other target). The `paper` section runs the simulator
 * at the memory-transport size, and writes DIR/paper.svg.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { broadcastFigures } from './broadcast.js';
import { codecFigures } from './codec.js';
import { failureFigures } from './failure.js';
import { growthFigures } from './growth.js';
import { linkFigures } from './link.js';
import { memoryFigures } from './memory.js';
import { paperFigures } from './paper.js';
import { FULL_SIZES, MEMORY_LINKS, QUICK_SIZES, type MeshBenchOptions, type MeshSizes } from './mesh.js';
import { formatFigures, machine, writeResults, type Figure } from './results.js';
import { QUICK_SIM_NODES, SIM_NODES, simFigures } from './sim.js';

interface SectionOptions extends MeshBenchOptions {
  /** The simulator's size (the `sim` section). */
  simNodes: number;
}

const sections: Record<string, (options: SectionOptions) => Promise<Figure[]> | Figure[]> = {
  codec: ({ quick }) => codecFigures(quick),
  link: ({ quick }) => linkFigures(quick),
  broadcast: broadcastFigures,
  growth: growthFigures,
  memory: memoryFigures,
  failure: failureFigures,
  sim: ({ quick, simNodes }) => simFigures(quick, simNodes),
  paper: paperFigures,
};

const USAGE = `usage: npm run bench -- [flags]
  --quick             small sizes and short runs (under a minute): keeps the bench from rotting
  --out DIR           where results.json goes (default bench/)
  --only SECTIONS     comma-separated subset of: ${Object.keys(sections).join(', ')}
  --nodes S,L,M       TCP small, TCP large and memory-transport mesh sizes (default 100,1000,10000);
                      the paper section runs the simulator at M (--only paper --nodes 100,1000,100000)
  --kills K,K,...     the paper section's failure rates, shares in (0, 1) (default 0.1,...,0.9,0.95)
  --sim-nodes N       the simulator's size (section sim; default 10000, --quick ${QUICK_SIM_NODES}); the
                      issue's targets: 30 s at 10000, 10 minutes and 6 GiB at 100000
  --help              this text
`;

class BenchUsageError extends Error {}

/** `--nodes 100,1000,10000`: the small and large TCP meshes and the memory-transport mesh. */
function parseSizes(text: string): MeshSizes {
  const counts = text.split(',').map(Number);
  const [tcpSmall, tcpLarge, memory] = counts;
  if (counts.length !== 3 || counts.some((n) => !Number.isInteger(n) || n < 2)) {
    throw new BenchUsageError('--nodes takes three node counts of at least 2: TCP small, TCP large, memory');
  }
  return { tcpSmall, tcpLarge, memory } as MeshSizes;
}

function parseSimNodes(text: string): number {
  const nodes = Number(text);
  if (!Number.isInteger(nodes) || nodes < 2)
    throw new BenchUsageError('--sim-nodes takes a node count of at least 2');
  return nodes;
}

/** `--kills 0.5,0.9`: shares of the nodes that fail at once. */
function parseKills(text: string): number[] {
  const kills = text.split(',').map(Number);
  if (kills.some((k) => !(k > 0 && k < 1))) throw new BenchUsageError('--kills takes shares between 0 and 1');
  return kills;
}

function parseSections(text: string): string[] {
  const only = text.split(',');
  const unknown = only.filter((name) => !Object.hasOwn(sections, name));
  if (unknown.length > 0) throw new BenchUsageError(`unknown --only section '${unknown.join(',')}'`);
  return only;
}

interface BenchFlags {
  quick: boolean;
  out: string;
  only: string[] | undefined;
  sizes: MeshSizes;
  simNodes: number;
  kills: number[] | undefined;
}

function parseBenchFlags(argv: string[]): BenchFlags | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean' },
        out: { type: 'string' },
        only: { type: 'string' },
        nodes: { type: 'string' },
        'sim-nodes': { type: 'string' },
        kills: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new BenchUsageError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help === true) return 'help';
  const quick = values.quick === true;
  return {
    quick,
    out: resolve(values.out ?? 'bench'),
    only: values.only === undefined ? undefined : parseSections(values.only),
    sizes: values.nodes ? parseSizes(values.nodes) : quick ? QUICK_SIZES : FULL_SIZES,
    simNodes: values['sim-nodes'] ? parseSimNodes(values['sim-nodes']) : quick ? QUICK_SIM_NODES : SIM_NODES,
    kills: values.kills === undefined ? undefined : parseKills(values.kills),
  };
}

async function main(argv: string[]): Promise<number> {
  let flags: BenchFlags | 'help';
  try {
    flags = parseBenchFlags(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\ntry 'npm run bench -- --help'\n`);
    return 2;
  }
  if (flags === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { quick, sizes, only, simNodes, kills } = flags;
  const figures: Figure[] = [];
  for (const [name, run] of Object.entries(sections)) {
    if (only && !only.includes(name)) continue;
    process.stderr.write(`[bench] ${name}...\n`);
    figures.push(...(await run({ quick, sizes, simNodes, out: flags.out, ...(kills ? { kills } : {}) })));
  }
  const config = {
    quick,
    nodes: `${sizes.tcpSmall},${sizes.tcpLarge},${sizes.memory}`,
    memoryLinks: MEMORY_LINKS.memory,
    simNodes,
    ...(kills ? { kills: kills.join(',') } : {}),
  };
  const results = { ...machine(), date: new Date().toISOString(), config, figures };
  process.stdout.write(`${formatFigures(figures)}\n`);
  const path = await writeResults(flags.out, results);
  process.stdout.write(`results: ${path}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
