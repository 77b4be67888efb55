/**
 * The baseline of the unverified link figure: the least a receiver of our sealed frames can do,
 * run as a child process (`node bare-peer.js receiver|sender`) driven over IPC like link-peer.
 *
 * The sender writes the same frames a node sends (a signed 200-byte chat payload in a Routed
 * envelope, sealed with ChaCha20-Poly1305, varint length first) to a raw socket, built before
 * the clock starts so that only the receiver is measured. The receiver reads the raw socket,
 * cuts frames at their varint prefix, opens each with node:crypto and decodes envelope and
 * payload with protobufjs: no handshake, no node, no dedup, no routing.
 */
import { createDecipheriv } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { Sealer, TAG_BYTES } from '../crypto/seal.js';
import { encodeFrame } from '../utils/frame.js';
import { BARE_LINK_KEY, signedChatEnvelopes } from './chat-envelopes.js';

const send = (message: object): void => void process.send?.(message);

const root = protobuf.loadSync(fileURLToPath(new URL('../proto/overlay.proto', import.meta.url)));
const Envelope = root.lookupType('overlay.v1.Envelope');
const Payload = root.lookupType('overlay.v1.Payload');

/** Opens frame after frame with the nonce counter of docs/protocol.md section 3. */
function opener(): (body: Buffer) => Buffer {
  const nonce = Buffer.alloc(12);
  let counter = 0n;
  return (body) => {
    nonce.writeBigUInt64LE(counter++, 4);
    const decipher = createDecipheriv('chacha20-poly1305', BARE_LINK_KEY, nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  };
}

function receiver(): void {
  let expected = Infinity;
  let delivered = 0;
  let firstAt = 0;
  const open = opener();
  const deliver = (body: Buffer): void => {
    const envelope = Envelope.decode(open(body)) as protobuf.Message & { routed?: { payload: Uint8Array } };
    if (envelope.routed) Payload.decode(envelope.routed.payload);
    delivered++;
    if (delivered === 1) firstAt = performance.now();
    if (delivered % 200 === 0) send({ type: 'progress', delivered });
    if (delivered === expected) send({ type: 'done', delivered, elapsedMs: performance.now() - firstAt });
  };
  const server = createServer((socket: Socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      for (;;) {
        let length = 0;
        let shift = 0;
        let at = offset;
        while (at < pending.length && pending.readUInt8(at) & 0x80 && shift < 28) {
          length |= (pending.readUInt8(at++) & 0x7f) << shift;
          shift += 7;
        }
        if (at >= pending.length) break;
        length |= pending.readUInt8(at++) << shift;
        if (at + length > pending.length) break;
        deliver(pending.subarray(at, at + length));
        offset = at + length;
      }
      pending = pending.subarray(offset);
    });
  });
  process.on('message', (message: { type: string; count?: number }) => {
    if (message.type === 'expect') expected = message.count ?? Infinity;
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address && typeof address === 'object')
      send({ type: 'ready', host: address.address, port: address.port });
  });
}

/** The frames a node would send for `count` unique signed messages. */
function frames(count: number): Buffer[] {
  const sealer = new Sealer(BARE_LINK_KEY);
  return signedChatEnvelopes(count).map((envelope) => encodeFrame(sealer.seal(envelope)));
}

function sender(host: string, port: number): void {
  let prepared: Buffer[] = [];
  const socket = connect(port, host);
  const write = (from: number): void => {
    for (let i = from; i < prepared.length; i++) {
      if (!socket.write(prepared[i] as Buffer)) return void socket.once('drain', () => write(i + 1));
    }
  };
  process.on('message', (message: { type: string; count?: number }) => {
    if (message.type === 'prepare') {
      prepared = frames(message.count ?? 0);
      send({ type: 'prepared' });
    }
    if (message.type === 'go') write(0);
  });
  socket.once('connect', () => send({ type: 'ready' }));
}

const [role, ...args] = process.argv.slice(2);
if (role === 'receiver') receiver();
else sender(args[0] ?? '127.0.0.1', Number(args[1]));
