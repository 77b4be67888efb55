/**
 * `node relay-child.js relay|silent [PORT]`, driven over IPC by bench/relay-memory.ts:
 * - `relay`: the node x whose memory is measured, alone in its process, answering `measure`
 *   with its heap and RSS after a full collection;
 * - `silent`: a neighbour of x that the bench stops (SIGSTOP) once it joined, so that it never
 *   reads again.
 */
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import type { NodeConfig } from '../config.js';
import { Node } from '../node.js';

/** The relay's throughput is not under test: no rate limit of x may drop a message. */
export const RELAY_UNLIMITED: Partial<NodeConfig> = {
  membership: 'static',
  routedPerSecond: 10_000_000,
  routedBurst: 10_000_000,
  originTextsPerSecond: 1_000_000,
  originTextsBurst: 1_000_000,
};

const send = (message: object): void => void process.send?.(message);

async function relay(): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const node = new Node({ ...RELAY_UNLIMITED, name: 'x' });
  await node.start();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'measure') {
      for (let i = 0; i < 4; i++) gc();
      const { heapUsed, external, rss } = process.memoryUsage();
      send({ type: 'measured', heap: heapUsed + external, rss, stats: node.stats() });
    }
    if (message.type === 'stop') void node.stop().then(() => process.exit(0));
  });
  send({ type: 'ready', port: node.info.port });
}

async function silent(port: number): Promise<void> {
  const node = new Node({ ...RELAY_UNLIMITED, name: 'silent', seeds: [{ host: '127.0.0.1', port }] });
  node.once('peer:up', () => send({ type: 'ready' }));
  await node.start();
}

// Run as a child only: relay-memory.ts imports the config above.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [mode, port] = process.argv.slice(2);
  if (mode === 'relay') await relay();
  else await silent(Number(port));
}
