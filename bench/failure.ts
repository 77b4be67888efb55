/**
 * The HyParView paper's failure table, reproduced (Leitão, Pereira, Rodrigues, DSN 2007, fig. 4):
 * a mesh on the memory transport with the paper's settings (active 5, passive 30, ARWL 6,
 * PRWL 3) loses 10% to 95% of its nodes at once, and broadcasts are sent right away, before any
 * membership round; reliability is the share of survivors that delivered them. Three pairs, as
 * in the paper: flood over HyParView's active view (fanout 4 + the link it came from), gossip
 * with fanout 4 over a Cyclon view of 35 (shuffle length 14), and gossip with fanout 4 over full
 * membership. The paper's own figures are the baselines where it states one.
 */
import type { NodeConfig } from '../config.js';
import { figure, type Figure } from './results.js';
import { type MeshBenchOptions, phaseOf, runMesh } from './mesh.js';

const KILLS = [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95] as const;

const PAPER_SETTINGS: Partial<NodeConfig> = { activeSize: 5, passiveSize: 30, arwl: 6, prwl: 3 };

interface Pair {
  name: string;
  membership: string;
  router: string;
  config: Partial<NodeConfig>;
  /** The paper's reliability at a kill fraction, where it states one. */
  paper: (kill: number) => { name: string; value: number } | null;
}

const PAIRS: Pair[] = [
  {
    name: 'hyparview-flood',
    membership: 'hyparview',
    router: 'flood',
    config: PAPER_SETTINGS,
    // "Almost no loss up to 90% of failures, about 90% at 95%."
    paper: (kill) => ({ name: 'paper HyParView', value: kill <= 0.9 ? 1 : 0.9 }),
  },
  {
    name: 'cyclon-gossip',
    membership: 'cyclon',
    router: 'gossip',
    config: { ...PAPER_SETTINGS, gossipFanout: 4, cyclonViewSize: 35, cyclonShuffleLength: 14 },
    // "Below 50% once more than 40% failed": an upper bound, given as 0.5.
    paper: (kill) => (kill > 0.4 ? { name: 'paper Cyclon: below', value: 0.5 } : null),
  },
  {
    name: 'full-gossip',
    membership: 'full',
    router: 'gossip',
    config: { ...PAPER_SETTINGS, gossipFanout: 4 },
    paper: () => null,
  },
];

export async function failureFigures({ quick, sizes }: MeshBenchOptions): Promise<Figure[]> {
  const nodes = sizes.memory;
  const kills = quick ? [0.3, 0.9] : KILLS;
  const figures: Figure[] = [];
  for (const pair of PAIRS) {
    for (const kill of kills) {
      const run = await runMesh({
        transport: 'memory',
        nodes,
        membership: pair.membership,
        router: pair.router,
        config: pair.config,
        broadcasts: quick ? 3 : 10,
        quick,
        steps: [{ grow: nodes }, { settle: true }, { kill }, { traffic: 'after-kill' }],
      });
      const reliability = phaseOf(run, 'after-kill').reliability.mean ?? 0;
      const paper = pair.paper(kill);
      // HyParView must hold the paper's figure (within 5%); the others are reported.
      const target = pair.membership === 'hyparview' ? { atLeast: 0.95 } : null;
      const percent = Math.round(kill * 100);
      figures.push(
        figure(`failure.memory-${nodes}.${pair.name}.kill-${percent}`, reliability, 'share', paper, target),
      );
    }
  }
  return figures;
}
