/**
 * What the mesh sections of the bench (broadcast, growth, memory, failure) share: a lab cluster
 * of real nodes, over TCP in real time or over the memory transport in simulated time, driven
 * through the lab's own scenario steps, so that the bench measures what `p2pchat lab` reports.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { NodeConfig } from '../config.js';
import type { Cluster } from '../lab/cluster.js';
import { RealDriver, SimDriver } from '../lab/driver.js';
import { InProcessCluster } from '../lab/in-process-cluster.js';
import { Recorder } from '../lab/recorder.js';
import type { PhaseReport, RunInput } from '../lab/report.js';
import { LabRun } from '../lab/run.js';
import type { Step } from '../lab/scenario.js';

export type MeshTransport = 'tcp' | 'memory';

export interface MeshOptions {
  transport: MeshTransport;
  nodes: number;
  membership?: string;
  router?: string;
  config?: Partial<NodeConfig>;
  steps: Step[];
  /** Broadcasts per traffic phase. */
  broadcasts: number;
  seed?: number;
  /** Between two broadcasts of a phase. @default 50 */
  messageSpacingMs?: number;
  /** Shorter periods and timeouts, for `--quick`. */
  quick?: boolean;
}

/** How many nodes the mesh sections use: the sizes, fewer with `--quick`, or `--nodes`. */
export interface MeshSizes {
  /** The small TCP mesh (100). */
  tcpSmall: number;
  /** The large TCP mesh (1,000). */
  tcpLarge: number;
  /** The memory-transport mesh (10,000). */
  memory: number;
}

export interface MeshBenchOptions {
  quick: boolean;
  sizes: MeshSizes;
  /** Where results.json goes: a section may write its plot next to it. */
  out?: string;
  /** The paper section's failure rates (`--kills`), instead of the paper's. */
  kills?: readonly number[];
}

/** The sizes. */
export const FULL_SIZES: MeshSizes = { tcpSmall: 100, tcpLarge: 1000, memory: 10_000 };
export const QUICK_SIZES: MeshSizes = { tcpSmall: 10, tcpLarge: 20, memory: 40 };

/**
 * The memory transport's nodes run plaintext links (link/link-security.ts): a lab run replays
 * byte for byte without the crypto (test/lab-run.test.ts), and 10,000-node meshes cost a
 * quarter of the CPU. TCP meshes are sealed, as in use.
 */
export const MEMORY_LINKS = { memory: 'plaintext', tcp: 'sealed' } as const;

/** `--quick` shortens the shuffle period, and with it the quiet window a settle waits for. */
const QUICK_CONFIG: Partial<NodeConfig> = { shuffleIntervalMs: 2000 };

export function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/**
 * Runs the steps on a fresh cluster; `inspect` sees the cluster before it is closed (for memory
 * figures). The phases come back by name.
 */
export async function runMesh(
  options: MeshOptions,
  inspect?: (mesh: { cluster: Cluster; recorder: Recorder; run: RunInput }) => Promise<void> | void,
): Promise<RunInput> {
  const membership = options.membership ?? 'hyparview';
  const router = options.router ?? 'flood';
  const driver = options.transport === 'memory' ? new SimDriver() : new RealDriver();
  const recorder = new Recorder();
  const config = { ...(options.quick ? QUICK_CONFIG : {}), ...options.config, membership, router };
  const cluster = new InProcessCluster({
    transport: options.transport,
    driver,
    config,
    seed: options.seed ?? 1,
    observer: recorder,
    links: MEMORY_LINKS[options.transport],
  });
  const label = `${membership}+${router} ${options.nodes} ${options.transport}`;
  try {
    const run = await new LabRun(cluster, recorder, {
      membership,
      router,
      transport: options.transport,
      config,
      steps: options.steps,
      seed: options.seed ?? 1,
      broadcasts: options.broadcasts,
      direct: 0,
      joinStaggerMs: 20,
      messageSpacingMs: options.messageSpacingMs ?? 50,
      deliveryTimeoutMs: options.quick ? 3000 : 20_000,
      convergeTimeoutMs: options.quick ? 20_000 : 120_000,
      progress: (line) => {
        if (!/^grow: \d+\/\d+/.test(line)) progress(`${label}: ${line}`);
      },
    }).run();
    await inspect?.({ cluster, recorder, run });
    return run;
  } finally {
    await cluster.close();
  }
}

export function phaseOf(run: RunInput, name: string): PhaseReport {
  const phase = run.phases.find((p) => p.name === name);
  if (!phase) throw new Error(`no phase ${name} in the ${run.membership}+${run.router} run`);
  return phase;
}

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** Heap used (V8 heap and Buffers outside it) and RSS after a full collection, in bytes. */
export function memoryAfterGc(): { heap: number; rss: number } {
  collect();
  collect();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed + usage.external, rss: usage.rss };
}
