/**
 * The lab end to end: real meshes grown, broken and healed through `runLab`, over TCP and over
 * the memory transport under simulated time; replay of a seed byte for byte; a partition that
 * messages cannot cross; and `p2pchat lab` as a user runs it, as a child process.
 *
 * Every run has a fixed seed: the origins, the victims and (under `--clock sim`) the whole run
 * replay with `p2pchat lab --random-seed S` and the same flags.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLabFlags, runLab } from '../lab/cli.js';
import { renderReportJson, type PhaseReport, type ReportInput } from '../lab/report.js';
import { HEAL_POLL_MS, SETTLE_POLL_MS } from '../lab/run.js';
import type { Step } from '../lab/scenario.js';
import { formatTable } from '../lab/table.js';
import { membershipNames, routerNames } from '../strategies.js';
import { killAll, runCli } from './helpers/cli-process.js';

afterEach(() => killAll());

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pchat-lab-run-'));
  dirs.push(dir);
  return dir;
}

interface Lab {
  report: ReportInput;
  /** The progress lines, for failure messages: they name the seed and every step. */
  log: string;
  wallMs: number;
}

/** Runs the lab in this process with these `p2pchat lab` flags; progress is kept, not printed. */
async function lab(args: string[]): Promise<Lab> {
  const flags = parseLabFlags(args);
  if (flags === 'help') throw new Error(`'${args.join(' ')}' asked for help`);
  const lines = [`p2pchat lab ${args.join(' ')}`];
  const started = performance.now();
  const report = await runLab(flags, (line) => lines.push(line));
  const wallMs = Math.round(performance.now() - started);
  lines.push(`wall time ${wallMs} ms`);
  return { report, log: lines.join('\n'), wallMs };
}

/** The named phase of the only run; fails naming the phases there are. */
function phaseOf({ report, log }: Lab, name: string): PhaseReport {
  expect(report.runs, log).toHaveLength(1);
  const phase = report.runs[0]?.phases.find((p) => p.name === name);
  if (!phase) throw new Error(`no phase '${name}' in the report\n${log}`);
  return phase;
}

/** Every broadcast of the phase reached every live node other than its origin. */
function expectFullDelivery(run: Lab, name: string): void {
  expect(phaseOf(run, name).reliability, `${name}\n${run.log}`).toEqual({ mean: 1, min: 1 });
}

describe('lab over TCP', () => {
  it('100 nodes, flood on HyParView, kill 0.3: full delivery when steady and once healed', async () => {
    const run = await lab([
      ...['--transport', 'tcp', '--nodes', '100', '--membership', 'hyparview', '--router', 'flood'],
      ...['--kill', '0.3', '--broadcasts', '5', '--direct', '5', '--random-seed', '1001'],
      ...['--converge-timeout-ms', '30000'],
    ]);
    expect(run.report.runs[0]?.nodes, run.log).toBe(100);
    expect(
      run.report.runs[0]?.phases.map((p) => p.name),
      run.log,
    ).toEqual(['grow', 'steady', 'after-kill', 'healed']);

    const steady = phaseOf(run, 'steady');
    expectFullDelivery(run, 'steady');
    expect(steady.overlay.components, run.log).toBe(1);
    expect(steady.direct.sent, run.log).toBe(5);
    expect(steady.direct.receipted, run.log).toBe(steady.direct.sent);

    // Measured at once after the kill, before any membership round: any value, but measured.
    const afterKill = phaseOf(run, 'after-kill');
    expect(afterKill.broadcasts, run.log).toBe(5);
    expect(afterKill.reliability.mean, run.log).toEqual(expect.any(Number));
    expect(afterKill.reliability.min, run.log).toEqual(expect.any(Number));
    expect(afterKill.overlay.liveNodes, run.log).toBe(70);

    const healed = phaseOf(run, 'healed');
    expectFullDelivery(run, 'healed');
    expect(healed.overlay.components, run.log).toBe(1);
    expect(healed.overlay.liveNodes, run.log).toBe(70);
    // Real time gives no exact answer, and HyParView may take longer than the timeout to give
    // its last survivor back its links (the simulated runs below pin known values). Either a
    // whole number of ms from the kill within the timeout, or a timeout said as one.
    if (healed.healTimedOut) {
      expect(healed.healMs, run.log).toBeNull();
      expect(run.log).toContain('heal: TIMEOUT, not healed 30000 ms after the kill');
    } else {
      expect(healed.healTimedOut, run.log).toBe(false);
      expect(Number.isInteger(healed.healMs), run.log).toBe(true);
      expect(healed.healMs, run.log).toBeGreaterThanOrEqual(0);
      expect(healed.healMs, run.log).toBeLessThan(30_000);
      expect(run.log).toContain(`heal: healed ${healed.healMs} ms after the kill`);
    }
  }, 120_000);
});

describe('lab over the memory transport under simulated time', () => {
  // About 40 s of CPU with plaintext links (which the next test shows change nothing else), the
  // nodes' handshakes, signatures and shuffles over ~80 s of virtual time. Set LAB_2000=0 to
  // skip it in a quick local run.
  it.skipIf(process.env.LAB_2000 === '0')(
    '2,000 nodes, flood on HyParView, kill 0.3: full delivery when steady and once healed',
    async () => {
      const run = await lab([
        ...['--transport', 'memory', '--clock', 'sim', '--links', 'plaintext', '--nodes', '2000'],
        ...['--membership', 'hyparview', '--router', 'flood', '--kill', '0.3'],
        ...['--broadcasts', '5', '--direct', '5', '--random-seed', '2002'],
      ]);
      expect(run.report.runs[0]?.nodes, run.log).toBe(2000);
      expectFullDelivery(run, 'steady');
      expectFullDelivery(run, 'healed');
      expect(phaseOf(run, 'healed').overlay.liveNodes, run.log).toBe(1400);
      expect(phaseOf(run, 'healed').overlay.components, run.log).toBe(1);
    },
    900_000,
  );

  it('replays a seed byte for byte in report.json, and another seed differs', async () => {
    const args = (seed: number): string[] => [
      ...['--transport', 'memory', '--clock', 'sim', '--nodes', '100', '--kill', '0.3'],
      ...['--broadcasts', '5', '--direct', '5', '--random-seed', String(seed)],
    ];
    const first = renderReportJson((await lab(args(42))).report);
    const again = renderReportJson((await lab(args(42))).report);
    const other = renderReportJson((await lab(args(43))).report);
    // toBe on the whole text: a mismatch prints a diff of the two reports.
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(JSON.parse(first)).toMatchObject({ seed: 42, runs: [{ nodes: 100 }] });
  }, 300_000);

  it('plaintext links replay the sealed run exactly: the crypto changes no decision', async () => {
    const args = (links: string): string[] => [
      ...['--transport', 'memory', '--clock', 'sim', '--nodes', '50', '--kill', '0.3', '--links', links],
      ...['--membership', 'hyparview,cyclon', '--router', 'flood,plumtree'],
      ...['--broadcasts', '5', '--direct', '5', '--random-seed', '77'],
    ];
    const sealed = (await lab(args('sealed'))).report;
    const plaintext = (await lab(args('plaintext'))).report;
    expect(sealed.config.links).toBe('sealed');
    expect(plaintext.config.links).toBe('plaintext');
    const withoutLinks = (report: ReportInput): string =>
      renderReportJson({ ...report, config: { ...report.config, links: 'either' } });
    expect(withoutLinks(plaintext)).toBe(withoutLinks(sealed));
    expect(sealed.runs).toHaveLength(4);
  }, 300_000);

  it('a partition stops broadcasts crossing it, and they cross again once it heals', async () => {
    const dir = await tempDir();
    const scenario = join(dir, 'partition.json');
    await writeFile(
      scenario,
      JSON.stringify({
        steps: [
          { grow: 60 },
          { settle: true },
          { traffic: 'steady' },
          { partition: 2 },
          { traffic: 'partitioned' },
          { heal: 'partition' },
          { traffic: 'partition-healed' },
        ],
      }),
    );
    // HyParView itself does not always mend a partition: once every view on both sides is full
    // again, no node asks across (README, "What it does not guarantee"; 3 of seeds 1-12 stay
    // split). This seed is one where the overlay reconnects, so the phases after the heal can
    // show broadcasts crossing again.
    const run = await lab([
      ...['--transport', 'memory', '--clock', 'sim', '--scenario', scenario],
      ...['--broadcasts', '5', '--direct', '5', '--random-seed', '1'],
    ]);
    expect(
      run.report.runs[0]?.phases.map((p) => p.name),
      run.log,
    ).toEqual(['steady', 'partitioned', 'partition-healed']);
    expectFullDelivery(run, 'steady');
    // Two groups of 30: the origin's own group is 29 of the 59 other live nodes, at best.
    const partitioned = phaseOf(run, 'partitioned');
    expect(partitioned.reliability.mean, run.log).toBeLessThanOrEqual(29 / 59);
    expect(partitioned.overlay.components, run.log).toBeGreaterThanOrEqual(2);
    expectFullDelivery(run, 'partition-healed');
    expect(phaseOf(run, 'partition-healed').overlay.components, run.log).toBe(1);
  }, 120_000);
});

/** Runs `steps` as a scenario file over the memory transport under simulated time. */
async function simLab(steps: Step[], args: string[]): Promise<Lab> {
  const scenario = join(await tempDir(), 'scenario.json');
  await writeFile(scenario, JSON.stringify({ steps }));
  return lab(['--transport', 'memory', '--clock', 'sim', '--scenario', scenario, ...args]);
}

describe('settle and heal times, on scenarios whose answers are known', () => {
  const measured = (name: string): Step[] => [{ traffic: name }];

  it('a static star converges one poll after the last join, even with traffic before the settle', async () => {
    // Every joiner links to node 0 only. The last one is not linked yet when its start() returns,
    // so the first sample (at the join) sees two components; its link is up within a few ms, and
    // the second sample, one poll later, begins the quiet stretch. The grow traffic in between
    // (10 broadcasts, 50 ms apart) must not count.
    const run = await simLab(
      [{ grow: 20 }, ...measured('grow'), { settle: true }, ...measured('steady')],
      [...['--membership', 'static', '--broadcasts', '10', '--direct', '0', '--random-seed', '11']],
    );
    expect(phaseOf(run, 'grow').durationMs, run.log).toBeGreaterThanOrEqual(500);
    expect(phaseOf(run, 'steady').convergeMs, run.log).toBe(SETTLE_POLL_MS);
    expect(phaseOf(run, 'steady').settleTimedOut, run.log).toBe(false);
    expect(run.log).toContain(`settle: converged ${SETTLE_POLL_MS} ms after the last join;`);
  }, 60_000);

  it('HyParView converges after the last join, within the span from it to the end of the settle', async () => {
    const run = await simLab(
      [{ grow: 40 }, { settle: true }, ...measured('steady')],
      ['--membership', 'hyparview', '--broadcasts', '2', '--direct', '0', '--random-seed', '12'],
    );
    const convergeMs = phaseOf(run, 'steady').convergeMs;
    const waited = /settle: converged (\d+) ms after the last join; the step waited (\d+) ms/.exec(run.log);
    expect(waited, run.log).not.toBeNull();
    expect(Number(waited?.[1]), run.log).toBe(convergeMs);
    // From the last join: one stagger (20 ms) of the grow step, then the settle step's wait, of
    // which the last quiet window (half a shuffle period, 5 s) comes after the converged instant.
    expect(convergeMs, run.log).toBeGreaterThan(0);
    expect(convergeMs, run.log).toBeLessThanOrEqual(20 + Number(waited?.[2]) - 5_000);
    expect((convergeMs ?? 1) % SETTLE_POLL_MS, run.log).toBe(0);
  }, 60_000);

  it('a kill of no node heals at once: 0 ms', async () => {
    const run = await simLab(
      [
        { grow: 20 },
        { settle: true },
        { kill: 0.01 },
        ...measured('after-kill'),
        { heal: 'failure' },
        ...measured('healed'),
      ],
      ['--membership', 'hyparview', '--broadcasts', '3', '--direct', '0', '--random-seed', '13'],
    );
    expect(run.log).toContain('kill: 0 nodes, 20 left');
    expect(phaseOf(run, 'healed').healMs, run.log).toBe(0);
    expect(phaseOf(run, 'healed').healTimedOut, run.log).toBe(false);
  }, 60_000);

  it('heal is measured and watched from the kill, not after the traffic that follows it', async () => {
    // Two nodes, one killed: the survivor hears of the crash one link latency (1 to 2 ms) later.
    // The first sample, at the kill, still sees the dead entry; the next, one poll later, sees
    // the survivor alone and whole. The after-kill traffic lasts 5 x 50 ms, longer than that.
    const run = await simLab(
      [
        { grow: 2 },
        { settle: true },
        { kill: 0.5 },
        ...measured('after-kill'),
        { heal: 'failure' },
        ...measured('healed'),
      ],
      ['--membership', 'hyparview', '--broadcasts', '5', '--direct', '0', '--random-seed', '14'],
    );
    expect(phaseOf(run, 'after-kill').durationMs, run.log).toBeGreaterThanOrEqual(250);
    expect(phaseOf(run, 'healed').healMs, run.log).toBe(HEAL_POLL_MS);
  }, 60_000);

  it('a settle that cannot settle is reported as a timeout, in report.json, the table and stderr', async () => {
    const run = await simLab(
      [{ grow: 10 }, { partition: 2 }, { settle: true }, ...measured('steady')],
      ['--broadcasts', '1', '--direct', '0', '--converge-timeout-ms', '2000', '--random-seed', '15'],
    );
    const steady = phaseOf(run, 'steady');
    expect(steady.settleTimedOut, run.log).toBe(true);
    expect(steady.convergeMs, run.log).toBeNull();
    expect(JSON.parse(renderReportJson(run.report)).runs[0].phases[0]).toMatchObject({
      convergeMs: null,
      settleTimedOut: true,
    });
    expect(run.log).toMatch(/settle: TIMEOUT, not settled 2000 ms after the settle step: 2 components/);
    const row = formatTable(run.report).trimEnd().split('\n')[2] ?? '';
    expect(row, run.log).toMatch(/^hyparview\s+flood\s+steady\s.*\stimeout\s+-$/);
  }, 60_000);

  it('Cyclon settles on full views and heals without waiting for its dead entries to age out', async () => {
    const run = await lab([
      ...['--transport', 'memory', '--clock', 'sim', '--links', 'plaintext', '--nodes', '60'],
      ...['--membership', 'cyclon', '--router', 'flood', '--kill', '0.3'],
      ...['--broadcasts', '3', '--direct', '0', '--random-seed', '16'],
    ]);
    const steady = phaseOf(run, 'steady');
    const healed = phaseOf(run, 'healed');
    expect(steady.settleTimedOut, run.log).toBe(false);
    expect(steady.convergeMs, run.log).toBeGreaterThan(0);
    expect(healed.healTimedOut, run.log).toBe(false);
    expect(Number.isInteger(healed.healMs), run.log).toBe(true);
  }, 120_000);
});

describe('p2pchat lab as a child process', () => {
  it('runs a small mesh, prints the table and the report path, and writes the report', async () => {
    const out = await tempDir();
    const cli = await runCli(
      [
        ...['lab', '--nodes', '30', '--broadcasts', '3', '--direct', '3', '--random-seed', '7'],
        // Grow ends before the last joins do: its broadcasts would wait out the default 10 s.
        // A heal that takes long (the last links of a survivor) gives up after 20 s, not 60.
        ...['--delivery-timeout-ms', '2000', '--converge-timeout-ms', '20000', '--out', out],
      ],
      120_000,
    );
    const transcript = `--- stdout ---\n${cli.lines.join('\n')}\n--- stderr ---\n${cli.stderr}`;
    expect(cli.exit, transcript).toEqual({ code: 0, signal: null });
    expect(cli.stderr, transcript).toContain('seed 7 (replay with --random-seed 7)');

    const header = cli.lines.findIndex((line) => /^membership\s+router\s+phase\s+rel mean/.test(line));
    expect(header, transcript).toBeGreaterThanOrEqual(0);
    const rows = cli.lines.slice(header + 2, header + 6).map((line) => line.split(/\s+/).slice(0, 3));
    expect(rows, transcript).toEqual(
      ['grow', 'steady', 'after-kill', 'healed'].map((phase) => ['hyparview', 'flood', phase]),
    );
    for (const file of ['report.html', 'report.json', 'report.md']) {
      const path = join(out, file);
      expect(
        cli.lines.some((line) => line.trim().endsWith(path)),
        `${file}\n${transcript}`,
      ).toBe(true);
      expect((await stat(path)).size, path).toBeGreaterThan(0);
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as ReportInput;
    expect(report).toMatchObject({
      seed: 7,
      runs: [{ nodes: 30, membership: 'hyparview', router: 'flood' }],
    });
    expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/);
  }, 150_000);

  it('over --transport process, RMR is not measured: null in report.json, "-" in the table', async () => {
    const out = await tempDir();
    const cli = await runCli(
      [
        ...['lab', '--transport', 'process', '--nodes', '3', '--kill', '0', '--random-seed', '8'],
        ...['--broadcasts', '2', '--direct', '0', '--shuffle-ms', '2000', '--out', out],
      ],
      120_000,
    );
    const transcript = `--- stdout ---\n${cli.lines.join('\n')}\n--- stderr ---\n${cli.stderr}`;
    expect(cli.exit, transcript).toEqual({ code: 0, signal: null });
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as ReportInput;
    const phases = report.runs[0]?.phases ?? [];
    expect(
      phases.map((p) => [p.name, p.rmr]),
      transcript,
    ).toEqual([
      ['grow', null],
      ['steady', null],
    ]);
    // Both broadcasts reached both other nodes: measured, only the copies are not counted.
    expect(phases[1]?.reliability, transcript).toEqual({ mean: 1, min: 1 });
    const header = cli.lines.findIndex((line) => /^membership\s+router\s+phase/.test(line));
    const columns = cli.lines[header]?.split(/\s{2,}/) ?? [];
    const rmr = columns.indexOf('RMR');
    expect(rmr, transcript).toBeGreaterThan(0);
    const rows = cli.lines.slice(header + 2, header + 4).map((line) => line.trim().split(/\s+/));
    expect(
      rows.map((cells) => cells[rmr]),
      transcript,
    ).toEqual(['-', '-']);
    expect(cli.stderr, transcript).toContain('steady: reliability 1.000 (min 1.000), RMR -,');
  }, 150_000);

  it('--help lists the flags and exits 0', async () => {
    const cli = await runCli(['lab', '--help']);
    expect(cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.lines[0]).toBe('usage: p2pchat lab [flags]');
    expect(cli.lines.join('\n')).toContain('--random-seed S');
    // The strategies come from the registries: a strategy registered is a strategy listed.
    const membershipLine = cli.lines.find((line) => line.trimStart().startsWith('--membership LIST'));
    const routerLine = cli.lines.find((line) => line.trimStart().startsWith('--router LIST'));
    for (const name of membershipNames()) expect(membershipLine).toContain(name);
    for (const name of routerNames()) expect(routerLine).toContain(name);
    expect(cli.stderr).toBe('');
  });

  it.each([
    [['--nodes', 'abc'], 'p2pchat lab: --nodes must be an integer >= 1'],
    [['--transport', 'carrier-pigeon'], 'p2pchat lab: --transport is tcp, process, memory or sim'],
    [['--scenario', '/nonexistent/s.json'], /^p2pchat lab: --scenario \/nonexistent\/s.json: ENOENT/],
    [
      ['--scenario', 'test/fixtures/scenarios/steps-array.json'],
      'p2pchat lab: --scenario test/fixtures/scenarios/steps-array.json: a scenario is {"steps": [...]}',
    ],
    [
      ['--scenario', 'test/fixtures/scenarios/not-json.json'],
      /^p2pchat lab: --scenario test\/fixtures\/scenarios\/not-json.json: a scenario is JSON: /,
    ],
    [
      ['--scenario', 'test/fixtures/scenarios/null.json'],
      'p2pchat lab: --scenario test/fixtures/scenarios/null.json: a scenario is {"steps": [...]}',
    ],
    [
      ['--scenario', 'test/fixtures/scenarios/bad-churn.json'],
      'p2pchat lab: --scenario test/fixtures/scenarios/bad-churn.json: scenario step 2: churn takes {durationMs >= 1, perSecond >= 0}',
    ],
  ])('%j exits 2 with one line saying why', async (args, message) => {
    const cli = await runCli(['lab', ...args]);
    expect(cli.exit).toEqual({ code: 2, signal: null });
    // The reason, then where to look; no stack trace, nothing on stdout.
    const reason = typeof message === 'string' ? message : expect.stringMatching(message);
    expect(cli.stderrLines).toEqual([reason, "try 'p2pchat lab --help'"]);
    expect(cli.lines).toEqual([]);
  });
});
