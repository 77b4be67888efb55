/**
 * What relaying costs a node in memory, and what a neighbour that never reads adds to it: x,
 * alone in a child process (bench/relay-child.ts), relays chat messages of 4,000 bytes from a to
 * b (both in this process); x's RSS and heap are taken after a full collection before and after.
 * The same run again with a third neighbour of x stopped (SIGSTOP) once joined, which never
 * reads: its cost should be its send queue (`maxSendQueueBytes`, 1 MiB) before x drops it, so
 * the growth with it is held against the growth without it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Node } from '../node.js';
import { progress } from './mesh.js';
import { RELAY_UNLIMITED } from './relay-child.js';
import { figure, type Figure } from './results.js';

const CHILD = fileURLToPath(new URL('./relay-child.js', import.meta.url));
const MIB = 1024 * 1024;
const TEXT_BYTES = 4000;
/** Messages a sends before it waits for b to catch up: queues stay short on honest links. */
const BATCH = 8;

interface Growth {
  rss: number;
  heap: number;
  /**
   * x is back to a and b alone: it dropped the silent neighbour, for its send queue (LIMIT) or
   * by the keepalive, whichever came first (the kernel's socket buffers take megabytes first).
   */
  isOnlyHonest: boolean;
}

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`relay child exited (${code}) before '${type}'`)));
  });
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function measureRelay(messages: number, withSilentPeer: boolean): Promise<Growth> {
  const x = fork(CHILD, ['relay'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const children = [x];
  const nodes: Node[] = [];
  try {
    const { port } = await next<{ port: number }>(x, 'ready');
    const seeds = [{ host: '127.0.0.1', port }];
    const a = new Node({ ...RELAY_UNLIMITED, name: 'a', seeds });
    const b = new Node({ ...RELAY_UNLIMITED, name: 'b', seeds });
    nodes.push(a, b);
    let delivered = 0;
    b.on('message', () => delivered++);
    const linked = Promise.all([a, b].map((n) => new Promise((resolve) => n.once('peer:up', resolve))));
    await Promise.all([a.start(), b.start()]);
    await linked;
    if (withSilentPeer) {
      const silent = fork(CHILD, ['silent', String(port)], {
        execArgv: [],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      children.push(silent);
      await next(silent, 'ready');
      silent.kill('SIGSTOP');
    }
    type Measured = { heap: number; rss: number; stats: Record<string, number> };
    x.send({ type: 'measure' });
    const before = await next<Measured>(x, 'measured');
    const text = 'm'.repeat(TEXT_BYTES);
    for (let sent = 0; sent < messages;) {
      for (let i = 0; i < BATCH && sent < messages; i++, sent++) a.broadcast(`${sent} ${text}`);
      await until(() => delivered >= sent - BATCH, 'b to keep up');
    }
    await until(() => delivered === messages, 'every message at b');
    x.send({ type: 'measure' });
    const after = await next<Measured>(x, 'measured');
    return {
      rss: after.rss - before.rss,
      heap: after.heap - before.heap,
      isOnlyHonest: after.stats['node.connections'] === 2,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const child of children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
}

export async function relayMemoryFigures(quick: boolean): Promise<Figure[]> {
  const messages = quick ? 1000 : 20_000;
  const prefix = `memory.relay-${messages}x${TEXT_BYTES}B`;
  const alone = await measureRelay(messages, false);
  const silent = await measureRelay(messages, true);
  // A quick run's few megabytes may all fit in the kernel's socket buffers and x's queue.
  if (!quick && !silent.isOnlyHonest) progress(`${prefix}: x did not drop the silent neighbour`);
  return [
    figure(`${prefix}.rss-growth`, alone.rss / MIB, 'MiB', null),
    figure(`${prefix}.heap-per-message`, alone.heap / messages, 'B', null),
    figure(
      `${prefix}.never-reading-peer.rss-growth`,
      silent.rss / MIB,
      'MiB',
      { name: 'rss-growth without it', value: alone.rss / MIB },
      { atMost: 1.5 },
    ),
  ];
}
