/**
 * `node sim-child.js NODES BROADCASTS`: measures the simulator in a process of its own (see
 * bench/sim-mesh.ts) and prints the figures as one JSON line, progress on stderr: what an
 * earlier mesh left behind would otherwise be freed during this one and make its memory figures
 * too low.
 */
import { measureSimHere } from './sim-mesh.js';

const [nodes, broadcasts] = process.argv.slice(2);
const measured = measureSimHere(Number(nodes), Number(broadcasts), (line) =>
  process.stderr.write(`[sim] ${line}\n`),
);
process.stdout.write(`${JSON.stringify(measured)}\n`);
