/**
 * The HyParView paper's failure table, reproduced (Leitão, Pereira, Rodrigues, DSN 2007, fig. 4):
 * a mesh on the memory transport with the paper's settings (active 5, passive 30, ARWL 6,
 * PRWL 3) loses 10% to 95% of its nodes at once, and broadcasts are sent right away, before any
 * membership round; reliability is the share of survivors that delivered them. Three pairs, as
 * in the paper: flood over HyParView's active view (fanout 4 + the link it came from), gossip
 * with fanout 4 over a Cyclon view of 35 (shuffle length 14), and gossip with fanout 4 over full
 * membership. The paper's own figures are the baselines where it states one (bench/paper.ts, which
 * runs the same table on the simulator at the paper's size, with the rounds after the failure).
 */
import { figure, type Figure } from './results.js';
import { type MeshBenchOptions, phaseOf, runMesh } from './mesh.js';
import { PAPER_PAIRS } from './paper.js';

const KILLS = [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95] as const;

export async function failureFigures({ quick, sizes }: MeshBenchOptions): Promise<Figure[]> {
  const nodes = sizes.memory;
  const kills = quick ? [0.3, 0.9] : KILLS;
  const figures: Figure[] = [];
  for (const pair of PAPER_PAIRS) {
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
