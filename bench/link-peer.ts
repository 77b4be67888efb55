/**
 * One end of the link benchmark, run as a child process (`node link-peer.js receiver|sender`),
 * driven by the parent over IPC. The receiver also measures its own Ed25519 verify rate, the
 * ceiling of a node that checks every message.
 */
import type { NodeConfig } from '../config.js';
import { Identity, ed25519PublicKeyObject, verifyEd25519 } from '../crypto/identity.js';
import { uncheckedSignatures } from '../crypto/signatures.js';
import { Node } from '../node.js';
import { seededRandom } from '../utils/random.js';

type FromParent = { type: 'go'; count: number } | { type: 'ack'; delivered: number } | { type: 'stop' };

const send = (message: object): void => void process.send?.(message);

/** Ed25519 verifications per second of a signed chat payload's size, as the router does them. */
function verifyRate(ms: number): number {
  const identity = Identity.fromSeed(seededRandom(3).bytes(32));
  const message = Buffer.alloc(300, 7);
  const signature = identity.sign(message);
  const publicKey = ed25519PublicKeyObject(identity.publicKey);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) if (verifyEd25519(publicKey, message, signature)) count++;
  }
  return (count * 1000) / (performance.now() - start);
}

/** The link's speed is the figure: no rate limit of the node may cap it. */
const UNLIMITED: Partial<NodeConfig> = {
  maxSendQueueBytes: 64 * 1024 * 1024,
  routedPerSecond: 10_000_000,
  routedBurst: 100_000_000,
  originTextsPerSecond: 10_000_000,
  originTextsBurst: 100_000_000,
};

/** Without `verify`, the receiver checks no signature: it talks to the sender only. */
async function receiver(verify: boolean, quick: boolean): Promise<void> {
  send({ type: 'verify-rate', value: verifyRate(quick ? 300 : 1500) });
  const deps = verify ? {} : { signatures: uncheckedSignatures };
  const node = new Node({ ...UNLIMITED, membership: 'static' }, deps);
  let delivered = 0;
  let firstAt = 0;
  let expected = Infinity;
  node.on('message', () => {
    delivered++;
    if (delivered === 1) firstAt = performance.now();
    if (delivered % 200 === 0) send({ type: 'progress', delivered });
    if (delivered === expected) send({ type: 'done', delivered, elapsedMs: performance.now() - firstAt });
  });
  await node.start();
  process.on('message', (message: FromParent | { type: 'expect'; count: number }) => {
    if (message.type === 'expect') expected = message.count;
    if (message.type === 'stop') void node.stop().then(() => process.exit(0));
  });
  send({ type: 'ready', host: node.info.host, port: node.info.port });
}

async function sender(host: string, port: number): Promise<void> {
  const node = new Node({ ...UNLIMITED, membership: 'static', seeds: [{ host, port }] });
  const up = new Promise<void>((resolve) => node.once('peer:up', () => resolve()));
  await node.start();
  await up;
  let acked = 0;
  let sent = 0;
  let count = 0;
  const window = 2000;
  const pump = (): void => {
    while (sent < count && sent - acked < window) {
      node.broadcast(`${sent} `.padEnd(200, 'm'));
      sent++;
    }
  };
  process.on('message', (message: FromParent) => {
    if (message.type === 'go') count = message.count;
    if (message.type === 'ack') acked = message.delivered;
    if (message.type === 'stop') return void node.stop().then(() => process.exit(0));
    pump();
  });
  send({ type: 'ready' });
}

const [role, ...args] = process.argv.slice(2);
if (role === 'receiver') await receiver(args[0] !== 'no-verify', args[1] === 'quick');
else await sender(args[0] ?? '127.0.0.1', Number(args[1]));
