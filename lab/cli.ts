/**
 * `p2pchat lab`: grows a mesh, breaks it, heals it, measures every phase, and writes
 * report.json, report.md and report.html. Progress goes to stderr, the table to stdout.
 * Returns the process exit code (0, or 2 for a usage error).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULTS, resolveConfig, type NodeConfig } from '../config.js';
import { parseValue, settingFlags } from '../config-flags.js';
import { membershipNames, routerNames } from '../strategies.js';
import { NetworkKeyError, resolveNetworkKey } from '../crypto/network-key.js';
import { cryptoRandom } from '../utils/random.js';
import type { LinkSecurityName } from '../link/link-security.js';
import type { Cluster, TransportName } from './cluster.js';
import { RealDriver, SimDriver, type Driver } from './driver.js';
import { InProcessCluster } from './in-process-cluster.js';
import { Recorder } from './recorder.js';
import { writeReportFiles, type ReportInput, type RunInput } from './report.js';
import { LabRun } from './run.js';
import { parseScenario, ScenarioError, stepsFromFlags, type Step } from './scenario.js';
import { formatTable } from './table.js';

/** The lab's --help; the strategies it lists are the registered ones. */
export function labUsage(): string {
  const others = (names: string[], fallback: string): string =>
    names.filter((name) => name !== fallback).join(', ');
  const { membership, router } = DEFAULTS;
  return `usage: p2pchat lab [flags]

Grows a mesh of --nodes nodes through one seed, measures broadcasts and direct messages,
kills a fraction of the nodes, measures again at once and after healing, and writes a report.

  --nodes N               nodes in the mesh (default 100)
  --transport T           tcp (in this process, default), process (one child process per node),
                          memory (in-memory links, for 10,000 nodes and more), or sim (the
                          simulator: the strategies and the router driven directly, with no
                          link, codec or crypto; simulated time)
  --clock C               real (default) or sim (memory and sim: simulated time, replays exactly)
  --links L               sealed (default) or plaintext (memory only: the same handshake and
                          frames without their crypto, about 3x faster for large simulations)
  --membership LIST       comma-separated strategies (default ${membership}; also ${others(membershipNames(), membership)})
  --router LIST           comma-separated broadcast strategies (default ${router}; also ${others(routerNames(), router)})
  --kill F                fraction of nodes killed at once without Leave (default 0.3; 0 to skip)
  --leave F               fraction of nodes leaving gracefully (default 0)
  --partition             cut the mesh in two and heal it (memory transport)
  --churn R               nodes dying and joining per second during a churn phase (default 0)
  --churn-ms MS           length of the churn phase (default 10000)
  --broadcasts B          broadcasts per measured phase (default 10)
  --direct D              direct messages per measured phase (default 10)
  --random-seed S         seed of the run (default: random, printed)
  --scenario FILE         steps from a JSON scenario file instead of the flags above
  --out DIR               where the report goes (default ./lab-report)
  --join-stagger-ms MS    pause between two joins (default 20)
  --delivery-timeout-ms MS  how long a phase waits for its messages (default 10000)
  --converge-timeout-ms MS  how long settle and heal wait at most (default 60000)
  --network-key-file FILE a private mesh: every node gets the key in FILE (p2pchat keygen), or
                          the key in env P2PCHAT_NETWORK_KEY; children get it in their
                          environment, and the report says only "keyed": true
  and every node setting: --active-size, --passive-size, --shuffle-ms, --ttl, ... (see p2pchat --help)
`;
}

interface LabFlags {
  nodes: number;
  transport: TransportName;
  clock: 'real' | 'sim';
  /** `none` for the simulator, which has no links. */
  links: LinkSecurityName | 'none';
  memberships: string[];
  routers: string[];
  steps: Step[];
  seed: number;
  broadcasts: number;
  direct: number;
  out: string;
  joinStaggerMs: number;
  deliveryTimeoutMs: number;
  convergeTimeoutMs: number;
  /** Node settings, without the network key: this is what the report shows. */
  config: Partial<NodeConfig>;
  /** The mesh's network key, kept apart from `config` so that no report can contain it. */
  networkKey: string | undefined;
  /** A weak or exposed network key, to print as warnings. */
  warnings: string[];
}

class LabUsageError extends Error {}

function intFlag(values: Record<string, unknown>, name: string, fallback: number, min = 0): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new LabUsageError(`--${name} must be an integer >= ${min}`);
  return value;
}

function fractionFlag(values: Record<string, unknown>, name: string, fallback: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value >= 0 && value < 1)) throw new LabUsageError(`--${name} must be a fraction from 0 to below 1`);
  return value;
}

function listFlag(
  values: Record<string, unknown>,
  name: string,
  fallback: string,
  known: string[],
): string[] {
  const list = String(values[name] ?? fallback)
    .split(',')
    .filter(Boolean);
  for (const item of list) {
    if (!known.includes(item))
      throw new LabUsageError(`unknown --${name} '${item}' (known: ${known.join(', ')})`);
  }
  return list;
}

const LAB_OPTIONS = {
  nodes: { type: 'string' },
  transport: { type: 'string' },
  clock: { type: 'string' },
  links: { type: 'string' },
  membership: { type: 'string' },
  router: { type: 'string' },
  kill: { type: 'string' },
  leave: { type: 'string' },
  partition: { type: 'boolean' },
  churn: { type: 'string' },
  'churn-ms': { type: 'string' },
  broadcasts: { type: 'string' },
  direct: { type: 'string' },
  'random-seed': { type: 'string' },
  scenario: { type: 'string' },
  out: { type: 'string' },
  'join-stagger-ms': { type: 'string' },
  'delivery-timeout-ms': { type: 'string' },
  'converge-timeout-ms': { type: 'string' },
  'network-key': { type: 'string' },
  'network-key-file': { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Node settings given as flags, except the two the lab takes as lists. */
function nodeSettings(values: Record<string, unknown>): Partial<NodeConfig> {
  const config: Record<string, unknown> = {};
  for (const { flag, key } of settingFlags()) {
    if (key === 'membership' || key === 'router' || key === 'host' || key === 'port' || key === 'name')
      continue;
    const text = values[flag];
    if (typeof text === 'string') config[key] = parseValue(key, flag, text);
  }
  resolveConfig(config as Partial<NodeConfig>);
  return config as Partial<NodeConfig>;
}

/** Throws LabUsageError or ConfigError for a usage error, NetworkKeyError for a bad key file. */
export function parseLabFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): LabFlags | 'help' {
  const options: Record<string, { type: 'string' | 'boolean' }> = { ...LAB_OPTIONS };
  for (const { flag } of settingFlags()) options[flag] ??= { type: 'string' };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new LabUsageError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help) return 'help';
  const transport = String(values.transport ?? 'tcp');
  if (!['tcp', 'process', 'memory', 'sim'].includes(transport))
    throw new LabUsageError('--transport is tcp, process, memory or sim');
  const isSim = transport === 'sim';
  const clock = String(values.clock ?? (isSim ? 'sim' : 'real'));
  if (clock !== 'real' && clock !== 'sim') throw new LabUsageError('--clock is real or sim');
  if (clock === 'sim' && transport !== 'memory' && !isSim)
    throw new LabUsageError('--clock sim needs --transport memory or sim');
  if (isSim && clock !== 'sim') throw new LabUsageError('--transport sim runs under --clock sim only');
  if (isSim && values.links !== undefined)
    throw new LabUsageError('--transport sim has no links to seal: leave out --links');
  const links = isSim ? 'none' : String(values.links ?? 'sealed');
  if (links !== 'sealed' && links !== 'plaintext' && links !== 'none')
    throw new LabUsageError('--links is sealed or plaintext');
  if (links === 'plaintext' && transport !== 'memory')
    throw new LabUsageError('--links plaintext needs --transport memory');
  const nodes = intFlag(values, 'nodes', 100, 1);
  const scenario = values.scenario;
  const steps =
    typeof scenario === 'string'
      ? parseScenarioFile(scenario)
      : stepsFromFlags({
          nodes,
          kill: fractionFlag(values, 'kill', 0.3),
          leave: fractionFlag(values, 'leave', 0),
          partition: values.partition === true,
          churnPerSecond: intFlag(values, 'churn', 0),
          churnMs: intFlag(values, 'churn-ms', 10_000, 1),
        });
  const { key: networkKey, warnings } = resolveNetworkKey(
    {
      file: typeof values['network-key-file'] === 'string' ? values['network-key-file'] : undefined,
      flag: typeof values['network-key'] === 'string' ? values['network-key'] : undefined,
      env,
    },
    (message) => new LabUsageError(message),
  );
  return {
    nodes,
    transport: transport as TransportName,
    clock,
    links,
    memberships: listFlag(values, 'membership', DEFAULTS.membership, membershipNames()),
    routers: listFlag(values, 'router', DEFAULTS.router, routerNames()),
    steps,
    seed: intFlag(values, 'random-seed', cryptoRandom.int(2 ** 31)),
    broadcasts: intFlag(values, 'broadcasts', 10),
    direct: intFlag(values, 'direct', 10),
    out: resolve(String(values.out ?? 'lab-report')),
    joinStaggerMs: intFlag(values, 'join-stagger-ms', 20),
    deliveryTimeoutMs: intFlag(values, 'delivery-timeout-ms', 10_000, 1),
    convergeTimeoutMs: intFlag(values, 'converge-timeout-ms', 60_000, 1),
    config: nodeSettings(values),
    networkKey,
    warnings,
  };
}

async function makeCluster(
  flags: LabFlags,
  driver: Driver,
  recorder: Recorder,
  config: Partial<NodeConfig>,
): Promise<Cluster> {
  if (flags.transport === 'process') {
    const { ProcessCluster } = await import('./process-cluster.js');
    return new ProcessCluster({ transport: 'process', driver, config, seed: flags.seed, observer: recorder });
  }
  if (flags.transport === 'sim') {
    const { SimCluster } = await import('./sim-cluster.js');
    return new SimCluster({ transport: 'sim', driver, config, seed: flags.seed, observer: recorder });
  }
  return new InProcessCluster({
    transport: flags.transport,
    driver,
    config,
    seed: flags.seed,
    observer: recorder,
    ...(flags.links === 'none' ? {} : { links: flags.links }),
  });
}

/** Runs every membership x router combination with the same seed. */
export async function runLab(flags: LabFlags, progress: (line: string) => void): Promise<ReportInput> {
  const runs: RunInput[] = [];
  for (const membership of flags.memberships) {
    for (const router of flags.routers) {
      const size = Math.max(0, ...flags.steps.map((step) => ('grow' in step ? step.grow : 0)));
      progress(`run: ${membership} + ${router}, ${size} nodes over ${flags.transport}, seed ${flags.seed}`);
      const driver: Driver = flags.clock === 'sim' ? new SimDriver() : new RealDriver();
      const recorder = new Recorder();
      const config = { ...flags.config, membership, router };
      const cluster = await makeCluster(flags, driver, recorder, { ...config, networkKey: flags.networkKey });
      try {
        const run = new LabRun(cluster, recorder, {
          membership,
          router,
          transport: flags.transport,
          config,
          steps: flags.steps,
          seed: flags.seed,
          broadcasts: flags.broadcasts,
          direct: flags.direct,
          joinStaggerMs: flags.joinStaggerMs,
          messageSpacingMs: 50,
          deliveryTimeoutMs: flags.deliveryTimeoutMs,
          convergeTimeoutMs: flags.convergeTimeoutMs,
          progress,
        });
        runs.push(await run.run());
        // For the bench's events per second (bench/sim.ts); stderr only, so reports still replay.
        if (driver instanceof SimDriver) progress(`events: ${driver.clock.firedCount} simulated`);
      } finally {
        await cluster.close();
      }
    }
  }
  const config: Record<string, string | number | boolean> = {
    nodes: flags.nodes,
    transport: flags.transport,
    clock: flags.clock,
    links: flags.links,
    broadcasts: flags.broadcasts,
    direct: flags.direct,
    steps: JSON.stringify(flags.steps),
  };
  if (flags.networkKey !== undefined) config.keyed = true;
  for (const [key, value] of Object.entries(flags.config)) {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
      config[key] = value;
  }
  return { seed: flags.seed, config, runs };
}

/** A scenario file that cannot be read or is no scenario is a usage error, not a crash. */
function parseScenarioFile(path: string): Step[] {
  try {
    return parseScenario(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof ScenarioError || typeof (err as NodeJS.ErrnoException).code === 'string') {
      throw new LabUsageError(`--scenario ${path}: ${(err as Error).message}`);
    }
    throw err;
  }
}

export async function runLabCli(argv: string[]): Promise<number> {
  let flags: LabFlags | 'help';
  try {
    flags = parseLabFlags(argv);
  } catch (err) {
    if (err instanceof LabUsageError || err instanceof ConfigError) {
      process.stderr.write(`p2pchat lab: ${(err as Error).message}\ntry 'p2pchat lab --help'\n`);
      return 2;
    }
    if (err instanceof NetworkKeyError) {
      process.stderr.write(`p2pchat lab: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (flags === 'help') {
    process.stdout.write(labUsage());
    return 0;
  }
  const progress = (line: string): void => void process.stderr.write(`[lab] ${line}\n`);
  for (const warning of flags.warnings) progress(`warning: ${warning}`);
  progress(`seed ${flags.seed} (replay with --random-seed ${flags.seed})`);
  const report = await runLab(flags, progress);
  const written = await writeReportFiles(flags.out, report);
  process.stdout.write(`${formatTable(report)}\n`);
  process.stdout.write(`report: ${written.html}\n        ${written.json}\n        ${written.markdown}\n`);
  return 0;
}
