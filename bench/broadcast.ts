/**
 * Broadcast across a mesh: flood and Plumtree side by side on the same seed, over TCP (100 and
 * 1,000 nodes in this process) and over the memory transport (10,000 nodes, simulated time).
 * Each run grows the mesh, lets it settle, warms up (Plumtree prunes its tree into shape on the
 * first broadcasts), then measures: reliability, RMR, LDH against the overlay's diameter, and
 * the time to deliver.
 */
import { figure, type Figure } from './results.js';
import { type MeshBenchOptions, phaseOf, runMesh, type MeshTransport } from './mesh.js';

const ROUTERS = ['flood', 'plumtree'] as const;

export async function broadcastFigures({ quick, sizes }: MeshBenchOptions): Promise<Figure[]> {
  const meshes: Array<[MeshTransport, number]> = [
    ['tcp', sizes.tcpSmall],
    ['tcp', sizes.tcpLarge],
    ['memory', sizes.memory],
  ];
  const figures: Figure[] = [];
  for (const [transport, nodes] of meshes) figures.push(...(await meshFigures(transport, nodes, quick)));
  return figures;
}

async function meshFigures(transport: MeshTransport, nodes: number, quick: boolean): Promise<Figure[]> {
  const broadcasts = quick ? 3 : 20;
  const measured = new Map<string, ReturnType<typeof phaseOf>>();
  for (const router of ROUTERS) {
    const run = await runMesh({
      transport,
      nodes,
      router,
      broadcasts,
      quick,
      steps: [{ grow: nodes }, { settle: true }, { traffic: 'warm-up' }, { traffic: 'measured' }],
    });
    measured.set(router, phaseOf(run, 'measured'));
  }
  const flood = measured.get('flood') as ReturnType<typeof phaseOf>;
  const plumtree = measured.get('plumtree') as ReturnType<typeof phaseOf>;
  const prefix = `broadcast.${transport}-${nodes}`;
  const figures: Figure[] = [];
  for (const router of ROUTERS) {
    const phase = router === 'flood' ? flood : plumtree;
    const other = router === 'plumtree' ? flood : undefined;
    const name = `${prefix}.${router}`;
    figures.push(
      figure(`${name}.reliability-min`, phase.reliability.min ?? 0, 'share', null, { atLeast: 1 }),
      figure(
        `${name}.rmr`,
        phase.rmr ?? Number.NaN,
        'ratio',
        other ? { name: 'flood rmr', value: other.rmr ?? Number.NaN } : null,
        router === 'plumtree' ? { atMost: 0.1, of: 'value' } : null,
      ),
      figure(
        `${name}.ldh`,
        phase.ldh ?? Number.NaN,
        'hops',
        { name: 'overlay diameter', value: phase.overlay.diameter ?? Number.NaN },
        { atMost: 1.5 },
      ),
    );
    for (const percentile of ['p50', 'p99', 'max'] as const) {
      figures.push(
        figure(
          `${name}.deliver-${percentile}`,
          phase.latencyMs[percentile] ?? Number.NaN,
          'ms',
          other ? { name: `flood ${percentile}`, value: other.latencyMs[percentile] ?? Number.NaN } : null,
        ),
      );
    }
  }
  return figures;
}
