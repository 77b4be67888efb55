/**
 * `node memory-child.js TRANSPORT NODES BROADCASTS QUICK`: measures one mesh's memory in a
 * process of its own and prints the figures as one JSON line (see bench/memory.ts).
 */
import { measureHere } from './memory.js';
import type { MeshTransport } from './mesh.js';

const [transport, nodes, broadcasts, quick] = process.argv.slice(2);
const measured = await measureHere(
  transport as MeshTransport,
  Number(nodes),
  Number(broadcasts),
  quick === 'true',
);
process.stdout.write(`${JSON.stringify(measured)}\n`);
// Lingering sockets and timers of the closed mesh must not keep the child alive.
process.exit(0);
