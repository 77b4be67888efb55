/**
 * `npm run bench [-- --quick] [-- --out DIR]`: every figure against a baseline measured in the
 * same run, printed as a table and written to DIR/results.json (default bench/).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { broadcastFigures } from './broadcast.js';
import { codecFigures } from './codec.js';
import { failureFigures } from './failure.js';
import { growthFigures } from './growth.js';
import { linkFigures } from './link.js';
import { memoryFigures } from './memory.js';
import { formatFigures, machine, writeResults, type Figure } from './results.js';

const sections: Record<string, (quick: boolean) => Promise<Figure[]> | Figure[]> = {
  codec: codecFigures,
  link: linkFigures,
  broadcast: broadcastFigures,
  growth: growthFigures,
  memory: memoryFigures,
  failure: failureFigures,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, out: { type: 'string' }, only: { type: 'string' } },
  });
  const quick = values.quick === true;
  const only = values.only?.split(',');
  const figures: Figure[] = [];
  for (const [name, run] of Object.entries(sections)) {
    if (only && !only.includes(name)) continue;
    process.stderr.write(`[bench] ${name}...\n`);
    figures.push(...(await run(quick)));
  }
  const results = { ...machine(), date: new Date().toISOString(), config: { quick }, figures };
  process.stdout.write(`${formatFigures(figures)}\n`);
  const path = await writeResults(resolve(values.out ?? 'bench'), results);
  process.stdout.write(`results: ${path}\n`);
}

await main();
