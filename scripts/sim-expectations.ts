/**
 * `npm run sim:expect [-- --out FILE]`: runs the simulation regression set (lab/regression.ts)
 * on the current code, its seeds and its spread seeds, and writes the figures of its seeds, with
 * tolerances from the spread of each figure across all of them, to
 * test/fixtures/sim-regression.json (or FILE), in about three times the check's time. Before
 * overwriting, it prints how the new figures compare with the old expectations, so the commit
 * that changes them says what moved.
 *
 * `node dist/scripts/sim-expectations.js --print` runs only the checked seeds, quietly, and
 * prints their figures as JSON: test/sim-regression.test.ts runs it so, in a plain Node process,
 * where the simulator runs about a third faster than in a test worker's transformed modules.
 *
 * Regenerate after a deliberate change of behaviour whose figures were looked at: an improvement
 * (commit it with its new expectations, so that it is kept), or a neutral change that reshuffles
 * the random draws. Never to make a failing check pass without reading what failed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  REGRESSION_SET,
  compareFigures,
  expectationsOf,
  runRegression,
  type Expectations,
} from '../lab/regression.js';

/** From dist/scripts/ to the source tree's fixture. */
const DEFAULT_OUT = fileURLToPath(new URL('../../test/fixtures/sim-regression.json', import.meta.url));

const log = (line: string): void => void process.stderr.write(`[sim:expect] ${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, print: { type: 'boolean' } } });
  if (values.print) {
    process.stdout.write(JSON.stringify(await runRegression(REGRESSION_SET)) + '\n');
    return;
  }
  const out = values.out ?? DEFAULT_OUT;
  const { seeds, spreadSeeds } = REGRESSION_SET;
  const progress = (line: string) => {
    if (!line.startsWith('grow: ') || line.includes(' in ')) log(line);
  };
  const figures = await runRegression(REGRESSION_SET, progress, [...seeds, ...spreadSeeds]);
  const expectations = expectationsOf(REGRESSION_SET, figures);
  if (existsSync(out)) {
    const old = JSON.parse(readFileSync(out, 'utf8')) as Expectations;
    const checked = Object.fromEntries(
      Object.keys(expectations.scenarios).map((key) => [key, figures[key] ?? {}]),
    );
    const { failures, tolerated, improvements } = compareFigures(old.scenarios, checked);
    log(
      `against the old expectations: ${failures.length} worse beyond tolerance, ${tolerated.length} worse within, ${improvements.length} better`,
    );
    for (const line of failures) log(`  worse: ${line}`);
    for (const line of tolerated) log(`  within tolerance: ${line}`);
    for (const line of improvements) log(`  better: ${line}`);
  }
  writeFileSync(out, JSON.stringify(expectations, null, 2) + '\n');
  log(`wrote ${out}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[sim:expect] FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
