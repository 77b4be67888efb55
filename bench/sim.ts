/**
 * The simulator's scale (`sim`), in two parts, each in a child process of its own:
 * - `lab-N`: the lab's default scenario (grow, settle, steady, kill 30%, after-kill, heal,
 *   healed; 10 broadcasts and 10 direct messages per phase) as `p2pchat lab --transport sim`
 *   runs it: its wall time against the target (30 s at 10,000 nodes, 10 minutes at
 *   100,000) as the baseline, its peak RSS (at most 6 GiB at 100,000), and the simulated events
 *   per second of wall time (the lab prints its event count);
 * - `mesh-N`: `Simulation` driven directly (bench/sim-mesh.ts): memory per node idle and after
 *   1,000 broadcasts, against a memory-transport node (the whole node, with its links) idle,
 *   and events per second while growing and while broadcasting.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { PhaseReport } from '../lab/report.js';
import { measure as measureMeshMemory } from './memory.js';
import { progress } from './mesh.js';
import { figure, type Figure } from './results.js';
import type { SimMeasured } from './sim-mesh.js';

const KIB = 1024;
const MIB = 1024 * 1024;
/** The issue's size, and `--quick`'s: small enough that the section stays well under 30 s. */
export const SIM_NODES = 10_000;
export const QUICK_SIM_NODES = 200;
/** The targets by size: wall seconds of the whole scenario, and peak RSS. */
const TARGETS: Record<number, { wallS: number; rssMiB?: number }> = {
  10_000: { wallS: 30 },
  100_000: { wallS: 600, rssMiB: 6 * 1024 },
};
/**
 * The memory-transport node the simulator's node is held against, measured idle at this size
 * (with `--quick`, 100: fixed costs shared by fewer nodes make it a little heavier).
 */
const BASELINE_NODES = 1000;
const QUICK_BASELINE_NODES = 100;
/** Large meshes need more than V8's default heap: the children may use 3/4 of the machine. */
const CHILD_HEAP = `--max-old-space-size=${Math.floor((totalmem() / MIB) * 0.75)}`;

const run = promisify(execFile);
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

export async function simFigures(quick: boolean, nodes: number): Promise<Figure[]> {
  const broadcasts = quick ? 50 : 1000;
  const lab = await runLab(nodes);
  const mesh = await runSimMesh(nodes, broadcasts);
  const baselineNodes = quick ? QUICK_BASELINE_NODES : BASELINE_NODES;
  const baseline = await measureMeshMemory('memory', baselineNodes, 0, quick);
  return [...labFigures(nodes, lab), ...meshFigures(nodes, broadcasts, mesh, baseline.idle, baselineNodes)];
}

interface LabMeasured {
  wallMs: number;
  /** CPU time, user and system: on a shared machine the wall time also counts others' work. */
  cpuMs: number;
  maxRssKiB: number;
  events: number;
  healed: PhaseReport | undefined;
}

const NOT_MEASURED: LabMeasured = { wallMs: NaN, cpuMs: NaN, maxRssKiB: NaN, events: NaN, healed: undefined };

/**
 * `node dist/cli/main.js lab --transport sim ...` with a preload that reports its peak RSS and
 * CPU time (bench/child-usage.ts); the wall time is the whole command's, start-up and report
 * included. The figures also go to the progress lines: a run cut short keeps what it measured.
 */
async function runLab(nodes: number): Promise<LabMeasured> {
  const out = await mkdtemp(join(tmpdir(), 'p2pchat-bench-sim-'));
  const [preload, cli] = [here('./child-usage.js'), here('../cli/main.js')];
  const lab = ['lab', '--transport', 'sim', '--clock', 'sim', '--nodes', String(nodes), '--random-seed', '1'];
  const command = [CHILD_HEAP, '--import', relative(process.cwd(), preload), relative(process.cwd(), cli)];
  progress(`sim lab-${nodes}: node ${[...command, ...lab, '--out', 'TMP'].join(' ')}`);
  try {
    const started = performance.now();
    const args = [CHILD_HEAP, '--import', pathToFileURL(preload).href, cli, ...lab, '--out', out];
    const { stderr } = await runForwardingProgress(args, '[lab] ', `sim lab-${nodes}`);
    const wallMs = performance.now() - started;
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      runs: Array<{ phases: PhaseReport[] }>;
    };
    const usage = /^child-usage: max-rss-kib (\d+) cpu-ms (\d+)$/m.exec(stderr);
    const measured = {
      wallMs,
      cpuMs: Number(usage?.[2] ?? NaN),
      maxRssKiB: Number(usage?.[1] ?? NaN),
      events: Number(/^\[lab\] events: (\d+) simulated$/m.exec(stderr)?.[1] ?? NaN),
      healed: report.runs[0]?.phases.find((p) => p.name === 'healed'),
    };
    progress(
      `sim lab-${nodes}: ${(wallMs / 1000).toFixed(1)} s wall, ${(measured.cpuMs / 1000).toFixed(1)} s CPU, ` +
        `${Math.round(measured.maxRssKiB / KIB)} MiB peak RSS, ${measured.events} events`,
    );
    return measured;
  } catch (err) {
    // A run that could not finish (out of memory, say) costs its own figures, not the bench's.
    progress(`sim lab-${nodes}: not measured: ${(err as Error).message.split('\n')[0] ?? ''}`);
    return NOT_MEASURED;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * Runs a child to its end and returns its output; its progress lines (those starting with
 * `prefix`, except the lab's every 50 joins) are passed on as they come: a large run takes long.
 */
async function runForwardingProgress(
  args: string[],
  prefix: string,
  label: string,
): Promise<{ stdout: string; stderr: string }> {
  const pending = run(process.execPath, args, { maxBuffer: 64 * MIB });
  let partial = '';
  pending.child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith(prefix) && !/^\[lab\] grow: \d+\/\d+/.test(line))
        progress(`${label}: ${line.slice(prefix.length)}`);
    }
  });
  return pending;
}

async function runSimMesh(nodes: number, broadcasts: number): Promise<SimMeasured | undefined> {
  try {
    const args = [CHILD_HEAP, here('./sim-child.js'), String(nodes), String(broadcasts)];
    const { stdout } = await runForwardingProgress(args, '[sim] ', `sim mesh-${nodes}`);
    const line = stdout.trim().split('\n').pop() ?? '{}';
    progress(`sim mesh-${nodes}: ${line}`);
    return JSON.parse(line) as SimMeasured;
  } catch (err) {
    progress(`sim mesh-${nodes}: not measured: ${(err as Error).message.split('\n')[0] ?? ''}`);
    return undefined;
  }
}

function labFigures(nodes: number, lab: LabMeasured): Figure[] {
  const prefix = `sim.lab-${nodes}`;
  const target = TARGETS[nodes];
  const rssMiB = lab.maxRssKiB / KIB;
  return [
    target
      ? figure(
          `${prefix}.wall`,
          lab.wallMs / 1000,
          's',
          { name: 'target', value: target.wallS },
          { atMost: 1 },
        )
      : figure(`${prefix}.wall`, lab.wallMs / 1000, 's', null),
    figure(`${prefix}.cpu`, lab.cpuMs / 1000, 's', null),
    figure(
      `${prefix}.peak-rss`,
      rssMiB,
      'MiB',
      null,
      target?.rssMiB === undefined ? null : { atMost: target.rssMiB },
    ),
    figure(`${prefix}.events`, lab.events, 'events', null),
    figure(`${prefix}.events-per-s`, lab.events / (lab.wallMs / 1000), 'events/s', null),
    figure(`${prefix}.healed-reliability-min`, lab.healed?.reliability.min ?? NaN, 'share', null),
  ];
}

function meshFigures(
  nodes: number,
  broadcasts: number,
  mesh: SimMeasured | undefined,
  baselineIdle: number,
  baselineNodes: number,
): Figure[] {
  const prefix = `sim.mesh-${nodes}`;
  const m = mesh ?? {
    settledAfterMs: null,
    grow: { events: NaN, wallMs: NaN, messages: NaN },
    broadcast: { events: NaN, wallMs: NaN, messages: NaN, delivered: NaN },
    idle: NaN,
    after: NaN,
    rss: NaN,
  };
  const perSecond = (part: { events: number; wallMs: number }): number => part.events / (part.wallMs / 1000);
  const idle = { name: 'idle', value: m.idle / KIB };
  return [
    figure(`${prefix}.settled`, m.settledAfterMs === null ? NaN : m.settledAfterMs / 1000, 's', null),
    figure(`${prefix}.grow-events-per-s`, perSecond(m.grow), 'events/s', null),
    figure(`${prefix}.grow-message-share`, m.grow.messages / m.grow.events, 'share', null),
    figure(`${prefix}.broadcast-events-per-s`, perSecond(m.broadcast), 'events/s', null),
    figure(`${prefix}.broadcast-message-share`, m.broadcast.messages / m.broadcast.events, 'share', null),
    figure(
      `${prefix}.delivery-of-${broadcasts}-broadcasts`,
      m.broadcast.delivered / (broadcasts * (nodes - 1)),
      'share',
      null,
    ),
    figure(`${prefix}.idle`, m.idle / KIB, 'KiB/node', {
      name: `memory-transport node idle (${baselineNodes} nodes)`,
      value: baselineIdle / KIB,
    }),
    figure(`${prefix}.after-${broadcasts}-broadcasts`, m.after / KIB, 'KiB/node', idle),
    figure(`${prefix}.rss-after-${broadcasts}-broadcasts`, m.rss / KIB, 'KiB/node', null),
  ];
}
