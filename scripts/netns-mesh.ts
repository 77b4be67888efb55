#!/usr/bin/env node
/**
 * `node dist/scripts/netns-mesh.js [--hosts K] [--cut N] [--port P] [--timeout-ms MS] [--log-dir DIR]`
 *
 * Builds K test hosts as Linux network namespaces on one bridge (10.213.0.0/24 and
 * fd00:213::/64, which exist only inside them), runs one `p2pchat --json` per host, grows the
 * mesh from h1, checks broadcasts and direct messages, cuts host N's link and restores it, and
 * checks delivery at each step (scripts/netns/mesh-check.ts tells the steps). Progress goes to
 * stderr, the summary to stdout.
 *
 * Needs Linux, root and iproute2. Exit codes: 0 passed, 1 failed, 2 usage, 77 skipped (cannot
 * run here: the reason is printed). Every namespace and process it made is removed on exit,
 * on failure, and on SIGINT, SIGTERM or SIGHUP; namespaces left by a run killed with SIGKILL
 * are removed by the next run.
 */
import { parseArgs } from 'node:util';
import { runMeshCheck, type MeshCheckOptions, type MeshReport } from './netns/mesh-check.js';
import { MAX_HOSTS, netnsUnavailable, sweepStaleNamespaces } from './netns/testbed.js';

const USAGE = `usage: netns-mesh [--hosts K] [--cut N] [--port P] [--timeout-ms MS] [--log-dir DIR]
  --hosts K        test hosts, 3 to ${MAX_HOSTS} (default 6)
  --cut N          the host whose link is cut and restored, 2 to K (default K)
  --port P         the port every node listens on in its namespace (default 7000)
  --timeout-ms MS  bound of each wait (default 15000)
  --log-dir DIR    keep every node's debug log there, as hN.log`;

const EXIT_SKIPPED = 77;

function integerFlag(values: Record<string, unknown>, flag: string): number | undefined {
  const text = values[flag];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d+$/.test(text)) throw new Error(`--${flag} expects an integer`);
  return Number(text);
}

function summary(report: MeshReport): string {
  const lines = [`netns mesh ${report.prefix}: passed in ${report.totalMs} ms, cut host ${report.cutHost}`];
  for (const host of report.hosts)
    lines.push(`  ${host.name.padEnd(4)} ${host.announced.padEnd(22)} ${host.args}`);
  lines.push('  phase    hosts  deliveries  directs  max hops  settle ms  delivery ms');
  for (const p of report.phases) {
    lines.push(
      `  ${p.name.padEnd(8)} ${String(p.hosts.length).padStart(5)} ${String(p.deliveries).padStart(11)}` +
        ` ${String(p.directs).padStart(8)} ${String(p.maxHops).padStart(9)} ${String(p.settleMs).padStart(10)}` +
        ` ${String(p.deliveryMs).padStart(12)}`,
    );
  }
  for (const entry of report.undialable) lines.push(`  note: ${entry}: nobody can dial it there`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  let options: MeshCheckOptions;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        hosts: { type: 'string' },
        cut: { type: 'string' },
        port: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'log-dir': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    options = {
      hosts: integerFlag(values, 'hosts'),
      cutHost: integerFlag(values, 'cut'),
      port: integerFlag(values, 'port'),
      timeoutMs: integerFlag(values, 'timeout-ms'),
      logDir: values['log-dir'],
    };
  } catch (err) {
    process.stderr.write(`netns-mesh: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const unavailable = netnsUnavailable();
  if (unavailable) {
    process.stderr.write(`netns-mesh: skipped: ${unavailable}\n`);
    return EXIT_SKIPPED;
  }
  const log = (line: string): void => void process.stderr.write(`[netns] ${line}\n`);
  for (const name of sweepStaleNamespaces()) log(`removed ${name}, left by a run that was killed`);
  try {
    process.stdout.write(`${summary(await runMeshCheck({ ...options, log }))}\n`);
    return 0;
  } catch (err) {
    if (err instanceof RangeError) {
      process.stderr.write(`netns-mesh: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`netns-mesh: failed: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
