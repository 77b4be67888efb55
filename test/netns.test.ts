/**
 * The mesh over real network namespaces (scripts/netns-mesh.ts): 6 hosts on one bridge, one
 * `p2pchat --json` each, full delivery before a host's link is cut, delivery among the 5
 * reachable hosts during the cut, full delivery again after it heals; and a run interrupted
 * with SIGINT leaves no namespace and no process behind.
 *
 * It needs Linux, root and iproute2. Elsewhere it is skipped, with the reason in the test's
 * name; in CI (any CI value but empty, 0 or false: see helpers/ci.ts), where .ci/run installs
 * iproute2 and runs as root, it must run, so there the same reason fails it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { runMeshCheck } from '../scripts/netns/mesh-check.js';
import { namespacesOf, netnsUnavailable, sweepStaleNamespaces } from '../scripts/netns/testbed.js';
import { isCi } from './helpers/ci.js';

const SCRIPT = fileURLToPath(new URL('../dist/scripts/netns-mesh.js', import.meta.url));
const unavailable = netnsUnavailable();
const mustRun = isCi();
const skip = unavailable !== undefined && !mustRun;
const title = (what: string): string => (skip ? `${what} (skipped: ${unavailable})` : what);
if (skip) console.warn(`netns tests skipped: ${unavailable}`);

function requireNetns(): void {
  if (unavailable) throw new Error(`CI must run the netns tests, but cannot: ${unavailable}`);
}

/** Running, not merely a zombie waiting for init to reap it. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('p2pchat in network namespaces', () => {
  it.skipIf(skip)(
    title('6 hosts: full delivery, delivery among the 5 reachable while one is cut, full after healing'),
    async () => {
      requireNetns();
      sweepStaleNamespaces(); // what runs killed with SIGKILL left behind; live runs are kept
      const log: string[] = [];
      const report = await runMeshCheck({ hosts: 6, cutHost: 6, timeoutMs: 15_000, log: (l) => log.push(l) });
      expect(
        report.phases.map((p) => ({ name: p.name, hosts: p.hosts.join(','), deliveries: p.deliveries })),
      ).toEqual([
        { name: 'steady', hosts: 'h1,h2,h3,h4,h5,h6', deliveries: 30 },
        { name: 'cut', hosts: 'h1,h2,h3,h4,h5', deliveries: 20 },
        { name: 'healed', hosts: 'h1,h2,h3,h4,h5,h6', deliveries: 30 },
      ]);
      // Every --announce was announced as given; a wildcard without it is announced as is.
      expect(report.hosts.map((h) => h.announced)).toEqual([
        '10.213.0.1:7000',
        '0.0.0.0:7000',
        '[fd00:213::3]:7000',
        '[::]:7000',
        '10.213.0.5:7000',
        '[fd00:213::6]:7000',
      ]);
      expect(namespacesOf(report.prefix)).toEqual([]);
      expect(log.some((line) => line.startsWith('restored h6'))).toBe(true);
    },
    60_000,
  );

  it.skipIf(skip)(
    title('SIGINT during a run removes every namespace and process it made'),
    async () => {
      requireNetns();
      const child = spawn(process.execPath, [SCRIPT, '--hosts', '3'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.on('close', (code, signal) => resolve(signal ?? code)),
      );
      let prefix = '';
      const pids: number[] = [];
      const stderr: string[] = [];
      const allStarted = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no start within 20 s:\n${stderr.join('\n')}`)),
          20_000,
        );
        createInterface({ input: child.stderr }).on('line', (line) => {
          stderr.push(line);
          prefix ||= /testbed (\S+):/.exec(line)?.[1] ?? '';
          const pid = /started: pid (\d+)/.exec(line)?.[1];
          if (pid) pids.push(Number(pid));
          if (pids.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      try {
        await allStarted;
        expect(namespacesOf(prefix)).toHaveLength(4);
        expect(pids.every(isAlive)).toBe(true);
        child.kill('SIGINT');
        expect(await exited).toBe('SIGINT');
        expect(namespacesOf(prefix)).toEqual([]);
        // SIGKILLed by the script's handler before it died of the signal.
        await vi.waitFor(() => expect(pids.filter(isAlive)).toEqual([]), { timeout: 3000 });
      } finally {
        child.kill('SIGKILL');
      }
    },
    40_000,
  );
});
