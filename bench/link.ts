/**
 * One link: unique signed 200-byte chat messages from one node process to another, delivered
 * per second, against the receiver's own Ed25519 verify rate measured in the same run (the
 * ceiling of a node that checks every message); then with signature checks off against a bare
 * receiver that reads the same sealed frames from a raw socket, opens and decodes them and does
 * nothing else (bench/bare-peer.ts); and what sealing costs, as the seal+open rate measured
 * alone, beside the open+decode rate of one process with no socket.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Opener, Sealer } from '../crypto/seal.js';
import { decodeEnvelope, decodePayload } from '../proto/messages.js';
import { BARE_LINK_KEY, signedChatEnvelopes } from './chat-envelopes.js';
import { figure, opsPerSecond, type Figure } from './results.js';

const PEER = fileURLToPath(new URL('./link-peer.js', import.meta.url));
const BARE_PEER = fileURLToPath(new URL('./bare-peer.js', import.meta.url));

type PeerMessage =
  | { type: 'verify-rate'; value: number }
  | { type: 'ready'; host?: string; port?: number }
  | { type: 'prepared' }
  | { type: 'progress'; delivered: number }
  | { type: 'done'; delivered: number; elapsedMs: number };

function next<T extends PeerMessage['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<PeerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PeerMessage): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message as Extract<PeerMessage, { type: T }>);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`bench peer exited (${code}) before '${type}'`)));
  });
}

/** Messages per second delivered over one real link between two processes. */
async function linkRate(
  verify: boolean,
  count: number,
  quick: boolean,
): Promise<{ rate: number; verifyRate: number }> {
  const receiver = fork(PEER, ['receiver', verify ? 'verify' : 'no-verify', quick ? 'quick' : 'full'], {
    stdio: 'ignore',
  });
  let sender: ChildProcess | undefined;
  try {
    const verifyRate = (await next(receiver, 'verify-rate')).value;
    const ready = await next(receiver, 'ready');
    sender = fork(PEER, ['sender', String(ready.host), String(ready.port)], { stdio: 'ignore' });
    const senderProcess = sender;
    await next(sender, 'ready');
    receiver.send({ type: 'expect', count });
    receiver.on('message', (m: PeerMessage) => {
      if (m.type === 'progress') senderProcess.send({ type: 'ack', delivered: m.delivered });
    });
    const done = next(receiver, 'done');
    sender.send({ type: 'go', count });
    const result = await done;
    return { rate: (result.delivered * 1000) / result.elapsedMs, verifyRate };
  } finally {
    receiver.kill();
    sender?.kill();
  }
}

/**
 * Frames per second a bare receiver (bench/bare-peer.ts) takes from a raw socket: the same
 * sealed frames, opened with node:crypto and decoded with protobufjs, nothing else.
 */
async function bareRate(count: number): Promise<number> {
  const receiver = fork(BARE_PEER, ['receiver'], { stdio: 'ignore' });
  let sender: ChildProcess | undefined;
  try {
    const ready = await next(receiver, 'ready');
    sender = fork(BARE_PEER, ['sender', String(ready.host), String(ready.port)], { stdio: 'ignore' });
    await next(sender, 'ready');
    const prepared = next(sender, 'prepared');
    sender.send({ type: 'prepare', count });
    await prepared;
    receiver.send({ type: 'expect', count });
    const done = next(receiver, 'done');
    sender.send({ type: 'go' });
    const result = await done;
    return (result.delivered * 1000) / result.elapsedMs;
  } finally {
    receiver.kill();
    sender?.kill();
  }
}

/** What a bare receiver does per frame, with no socket: open the seal, decode envelope and payload. */
function openAndDecodeRate(ms: number): { openDecode: number; sealOpen: number } {
  const key = BARE_LINK_KEY;
  const plain = signedChatEnvelopes(1000);
  const sealer = new Sealer(key);
  const frames = plain.map((envelope) => sealer.seal(envelope));
  const openDecode = opsPerSecond(() => {
    const opener = new Opener(key);
    for (const frame of frames) {
      const opened = opener.open(frame);
      const decoded = opened && decodeEnvelope(opened);
      if (decoded?.ok && 'routed' in decoded.value.envelope)
        decodePayload(decoded.value.envelope.routed.payload);
    }
    return frames.length;
  }, ms);
  const sealOpen = opsPerSecond(() => {
    const s = new Sealer(key);
    const o = new Opener(key);
    for (const p of plain) o.open(s.seal(p));
    return plain.length;
  }, ms);
  return { openDecode, sealOpen };
}

export async function linkFigures(quick: boolean): Promise<Figure[]> {
  const count = quick ? 3000 : 40_000;
  const checked = await linkRate(true, count, quick);
  const unchecked = await linkRate(false, count, quick);
  const bare = await bareRate(count);
  const alone = openAndDecodeRate(quick ? 300 : 1500);
  return [
    figure(
      'link.delivered.verified',
      checked.rate,
      'msg/s',
      { name: 'receiver Ed25519 verify rate', value: checked.verifyRate },
      { atLeast: 0.7 },
    ),
    figure(
      'link.delivered.unverified',
      unchecked.rate,
      'msg/s',
      { name: 'bare receiver: raw socket, open, protobufjs decode', value: bare },
      { atLeast: 0.5 },
    ),
    figure('link.open+decode.alone', alone.openDecode, 'frames/s', null),
    figure('link.sealing.seal+open', alone.sealOpen, 'frames/s', null),
  ];
}
