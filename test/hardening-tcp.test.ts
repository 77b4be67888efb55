/**
 * Hardening over real TCP (issue 7): raw-socket attackers against a running Node, not just a
 * Link. The attacked node `x` sits between two honest neighbours (a - x - b, helpers/hardening.ts)
 * and every attack ends with the same checks: the clear error or the counter, the attacker's
 * connection closed, and x still carrying broadcasts between a and b, none lost.
 *
 * Protocol attackers (hand-made envelopes over a completed handshake) are in
 * hardening-protocol.test.ts; Link-level refusals are in link.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  ErrorCode,
  encodeEnvelope,
  type Envelope,
  type ErrorCodeName,
  type ProtocolErrorBody,
} from '../proto/messages.js';
import { encodeFrame } from '../utils/frame.js';
import {
  ATTACKED,
  RecordingTransport,
  attackedLine,
  closedByPeer,
  destroyRawPeers,
  dialRaw,
  expectOnlyHonestConnections,
  expectStillServing,
  handshake,
  joinRaw,
  roundTrip,
  varint,
} from './helpers/hardening.js';
import { decodeOrThrow, type RawPeer } from './helpers/raw-peer.js';
import { TcpMesh, waitFor } from './helpers/tcp-mesh.js';

const mesh = new TcpMesh();
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  destroyRawPeers();
  await mesh.stopAll();
});

/** The clear frames the raw peer received before its socket closed. */
async function clearKindsAtClose(raw: RawPeer): Promise<string[]> {
  await closedByPeer(raw);
  return raw.received.map((body) => decodeOrThrow(body).kind);
}

function errorOf(raw: RawPeer): ProtocolErrorBody {
  const last = decodeOrThrow(raw.received.at(-1) ?? new Uint8Array(0));
  expect(last.kind).toBe('error');
  return (last.envelope as { error: ProtocolErrorBody }).error;
}

interface PlainSocket {
  socket: net.Socket;
  isClosed: () => boolean;
  /** Whether x sent anything (its Hello): x admitted the connection rather than refused it. */
  isGreeted: () => boolean;
}

/** Plain sockets to `port`, from `localAddress`; each records when it closed and whether x spoke. */
async function openSockets(port: number, count: number, localAddress = '127.0.0.1'): Promise<PlainSocket[]> {
  const opened = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<PlainSocket>((resolve, reject) => {
          let closed = false;
          let greeted = false;
          const socket = net.connect({ host: '127.0.0.1', port, localAddress });
          socket.on('error', () => undefined);
          socket.on('data', () => (greeted = true)); // x's Hello, read and dropped
          socket.once('close', () => (closed = true));
          socket.once('connect', () => resolve({ socket, isClosed: () => closed, isGreeted: () => greeted }));
          socket.once('error', reject);
        }),
    ),
  );
  cleanups.push(() => opened.forEach(({ socket }) => socket.destroy()));
  return opened;
}

/** A sealed Routed envelope whose sealed frame body is exactly `frameBytes` long, junk inside. */
function junkRoutedOfFrameSize(frameBytes: number): Envelope {
  for (let payload = frameBytes - 100; payload <= frameBytes; payload++) {
    const envelope: Envelope = {
      routed: { payload: randomBytes(payload), signature: randomBytes(64), ttl: 1, hops: 1 },
    };
    if (encodeEnvelope(envelope).length + 16 === frameBytes) return envelope;
  }
  throw new Error(`no routed envelope seals to ${frameBytes} bytes`);
}

describe('raw-socket attackers against a running node', () => {
  const MAX = 4000; // maxFrameBytes of x: distinct from the default and from every count below
  const refusals: Array<[string, ErrorCodeName, Uint8Array]> = [
    ['a length prefix one over maxFrameBytes, no body', 'FRAME', varint(MAX + 1)],
    ['an endless varint', 'FRAME', Buffer.alloc(4096, 0xff)],
    ['a frame of bytes that are not an Envelope', 'DECODE', encodeFrame(Buffer.from([0xff, 0xff, 0xff]))],
    ['a valid Join before the handshake', 'PROTOCOL', encodeFrame(encodeEnvelope({ join: {} }))],
    [
      'a valid Routed before the handshake',
      'PROTOCOL',
      encodeFrame(
        encodeEnvelope({ routed: { payload: randomBytes(40), signature: randomBytes(64), ttl: 3, hops: 1 } }),
      ),
    ],
  ];

  it.each(refusals)('%s: one ProtocolError %s, counted, closed; x serves on', async (_name, code, bytes) => {
    const line = await attackedLine(mesh, { ...ATTACKED, maxFrameBytes: MAX });
    const raw = await dialRaw(line.x.node);
    raw.writeRaw(bytes);
    expect(await clearKindsAtClose(raw)).toEqual(['hello', 'error']);
    expect(errorOf(raw).code).toBe(ErrorCode[code]);
    expect(line.x.node.stats()[`node.drop.${code}`]).toBe(1);
    await expectOnlyHonestConnections(line);
    await expectStillServing(line);
  });

  it.each([
    ['FIN', (raw: RawPeer) => raw.socket.end()],
    ['RST', (raw: RawPeer) => raw.socket.resetAndDestroy()],
  ])('half a frame then %s: the connection is released, no violation counted', async (_name, cut) => {
    const line = await attackedLine(mesh, ATTACKED);
    const raw = await dialRaw(line.x.node);
    raw.writeRaw(Buffer.concat([varint(1000), randomBytes(500)]));
    await waitFor(() => line.x.node.stats()['node.connections'] === 3, 10_000, 'x to hold the half frame');
    cut(raw);
    await expectOnlyHonestConnections(line);
    const stats = line.x.node.stats();
    for (const code of ['FRAME', 'DECODE', 'PROTOCOL']) expect(stats[`node.drop.${code}`]).toBeUndefined();
    await expectStillServing(line);
  });

  it('a slow sender that never finishes its first frame is closed at the handshake deadline', async () => {
    const handshakeTimeoutMs = 1000;
    const line = await attackedLine(mesh, { ...ATTACKED, handshakeTimeoutMs });
    const raw = await dialRaw(line.x.node);
    const startedAt = performance.now();
    raw.writeRaw(varint(3000));
    // One byte every 20 ms: the frame would take a minute. Dripping must not extend the deadline.
    const drip = setInterval(() => raw.writeRaw(Buffer.from([0x42])), 20);
    cleanups.push(() => clearInterval(drip));
    expect(await clearKindsAtClose(raw)).toEqual(['hello']); // a timeout: no ProtocolError
    clearInterval(drip);
    const elapsed = performance.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(handshakeTimeoutMs - 50);
    expect(elapsed).toBeLessThan(handshakeTimeoutMs + 3000);
    await expectOnlyHonestConnections(line);
    await expectStillServing(line);
  });

  it('a neighbour that completed the handshake, then drips a frame forever, is dropped by the keepalive', async () => {
    const keepalive = { pingIdleMs: 300, pingTimeoutMs: 300, maxMissedPings: 2 };
    const line = await attackedLine(mesh, { ...ATTACKED, ...keepalive });
    const downs: Array<{ id: string; reason: string }> = [];
    line.x.node.on('peer:down', (event) => downs.push(event));
    const raw = await joinRaw(line.x.node);
    const joinedAt = performance.now();
    raw.writeRaw(varint(60_000));
    const drip = setInterval(() => raw.writeRaw(Buffer.from([0x42])), 20);
    cleanups.push(() => clearInterval(drip));
    await waitFor(() => downs.some((d) => d.id === raw.identity.id), 10_000, 'x to drop the dripping peer');
    clearInterval(drip);
    expect(downs.find((d) => d.id === raw.identity.id)?.reason).toBe('timeout');
    // Silent since the Join: dead within idle + missed x timeout (900 ms), plus scheduling slack.
    expect(performance.now() - joinedAt).toBeLessThan(900 + 3000);
    await expectOnlyHonestConnections(line);
    await expectStillServing(line);
  });

  it('a neighbour that never reads is dropped once its queue passes maxSendQueueBytes; memory stays bounded', async () => {
    const maxSendQueueBytes = 256 * 1024;
    const transport = new RecordingTransport();
    // Hundreds of texts from one origin in a second: the origin rate limit is not under test here.
    const unlimited = { originTextsPerSecond: 1_000_000, originTextsBurst: 1_000_000 };
    const line = await attackedLine(
      mesh,
      { ...ATTACKED, ...unlimited, maxSendQueueBytes },
      { transport },
      unlimited,
    );
    const raw = await joinRaw(line.x.node);
    const [toRaw] = transport.connections.filter(
      (c) => c.direction === 'inbound' && c.remote.port === raw.socket.localPort,
    );
    if (!toRaw) throw new Error('no recorded connection for the raw peer');
    raw.socket.pause();
    const text = 'm'.repeat(4000);
    let sent = 0;
    // x floods its neighbours; a and b read (paced on b, so that their queues stay short).
    while (!toRaw.isClosed) {
      if (sent >= 20_000) throw new Error('x never dropped the peer that does not read');
      for (let i = 0; i < 8; i++, sent++) line.x.node.broadcast(`${sent} ${text}`);
      const target = sent;
      await waitFor(() => line.b.messages.length >= target - 8, 15_000, 'b to keep up');
    }
    expect(line.x.node.stats()['node.drop.LIMIT']).toBe(1);
    expect(toRaw.maxBufferedBytes).toBeLessThanOrEqual(maxSendQueueBytes);
    expect(toRaw.bytesWritten).toBeGreaterThan(maxSendQueueBytes); // the cap was reached, not skipped
    await waitFor(
      () => line.a.messages.length === sent && line.b.messages.length === sent,
      15_000,
      'every broadcast at a and b',
    );
    for (const honest of [line.a, line.b]) expect(new Set(honest.messages.map((m) => m.id)).size).toBe(sent);
    await expectOnlyHonestConnections(line);
    await expectStillServing(line);
  });
});

describe('admission: too many connections', () => {
  it('hundreds of connections from one address: past maxConnectionsPerIp refused and counted; a and b chat on', async () => {
    const maxConnectionsPerIp = 6;
    const line = await attackedLine(mesh, {
      ...ATTACKED,
      limitLoopback: true,
      maxConnectionsPerIp,
      acceptRatePerSecond: 100_000,
      acceptBurst: 100_000,
      handshakeTimeoutMs: 2500,
    });
    // a and b reach x from 127.0.0.1; the attacker from 127.0.0.2, held to the same limits.
    const sockets = await openSockets(line.x.node.info.port, 300, '127.0.0.2');
    const refused = (): number => line.x.node.stats()['node.refused.max-connections-per-ip'] ?? 0;
    await waitFor(() => refused() === 300 - maxConnectionsPerIp, 15_000, 'the extra connections refused');
    expect(line.x.node.stats()['node.connections']).toBe(2 + maxConnectionsPerIp);
    await expectStillServing(line, 'during the attack');
    // The connections admitted hold their slots only until the handshake deadline.
    await waitFor(() => sockets.every((s) => s.isClosed()), 15_000, 'every attacking socket closed');
    await expectOnlyHonestConnections(line);
    const later = await dialRaw(line.x.node, {}, '127.0.0.2');
    await handshake(later);
    expect(refused()).toBe(300 - maxConnectionsPerIp);
    await expectStillServing(line);
  });

  // At most 3 fit beside a and b under maxConnections 5; at most the 4 tokens of the accept burst.
  it.each([
    ['max-connections', { maxConnections: 5 }, 3],
    ['accept-rate', { acceptRatePerSecond: 1, acceptBurst: 4 }, 4],
  ] as const)(
    'a burst past %s: refused and counted; a and b chat on',
    async (reason, limits, admittedAtMost) => {
      const line = await attackedLine(mesh, { ...ATTACKED, handshakeTimeoutMs: 1500, ...limits });
      const sockets = await openSockets(line.x.node.info.port, 20);
      const refused = (): number => line.x.node.stats()[`node.refused.${reason}`] ?? 0;
      await waitFor(() => refused() >= 20 - admittedAtMost, 15_000, `connections refused by ${reason}`);
      await expectStillServing(line, 'during the attack');
      await waitFor(() => sockets.every((s) => s.isClosed()), 15_000, 'every attacking socket closed');
      // A refused connection is cut before x says anything; an admitted one gets x's Hello and
      // waits out the handshake deadline. Each socket is one or the other, and only the refused
      // ones are counted.
      const admitted = sockets.filter((s) => s.isGreeted()).length;
      expect(admitted).toBeGreaterThan(0);
      expect(admitted).toBeLessThanOrEqual(admittedAtMost);
      expect(refused()).toBe(sockets.length - admitted);
      await expectOnlyHonestConnections(line);
      await expectStillServing(line);
    },
  );
});

describe('continuous maximum-size junk', () => {
  it('reconnect after reconnect, a full frame of junk before the handshake: each one DECODE, a and b chat on', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const max = line.x.node.config.maxFrameBytes;
    for (let round = 0; round < 30; round++) {
      const raw = await dialRaw(line.x.node);
      // 0xff opens a field of wire type 7, which no protobuf decoder accepts.
      raw.writeRaw(encodeFrame(Buffer.concat([Buffer.from([0xff]), randomBytes(max - 1)])));
      line.a.node.broadcast(`during junk ${round}`);
      expect(await clearKindsAtClose(raw)).toEqual(['hello', 'error']);
    }
    expect(line.x.node.stats()['node.drop.DECODE']).toBe(30);
    await waitFor(() => line.b.messages.length === 30, 15_000, 'the broadcasts sent during the junk');
    expect(line.b.messages.map((m) => m.text)).toEqual(
      Array.from({ length: 30 }, (_, i) => `during junk ${i}`),
    );
    await expectOnlyHonestConnections(line);
    await expectStillServing(line);
  });

  it('a neighbour streaming full-size sealed junk messages: each dropped and counted, the link kept, a and b chat on', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const raw = await joinRaw(line.x.node);
    const junk = junkRoutedOfFrameSize(line.x.node.config.maxFrameBytes);
    const invalid = (): number => line.x.node.stats()['router.invalidPayload'] ?? 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 30; i++) raw.sendSealed(junk);
      line.a.node.broadcast(`between junk ${round}`);
      await roundTrip(raw);
    }
    // 300 frames of 64 KiB: undecodable payloads are dropped and counted, never punished (a
    // relay cannot tell them from a decoder quirk), and nothing reached a or b.
    expect(invalid()).toBe(300);
    expect(line.x.node.stats()['router.badSignature']).toBe(0);
    expect(line.x.node.peers().active.map((p) => p.id)).toContain(raw.identity.id);
    await waitFor(() => line.b.messages.length === 10, 15_000, 'the broadcasts between the junk');
    expect(line.b.messages.every((m) => m.text.startsWith('between junk'))).toBe(true);
    await expectStillServing(line);
  });
});
