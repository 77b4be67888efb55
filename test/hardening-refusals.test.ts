/**
 * Refusals that cannot be turned against anyone: a ban lands only on a proven identity, and a
 * refused connection costs nothing more once refused, however long its peer keeps streaming.
 * Real TCP on loopback, raw sockets as the attackers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Identity } from '../crypto/identity.js';
import { ErrorCode, encodeEnvelope } from '../proto/messages.js';
import { encodeFrame } from '../utils/frame.js';
import {
  ATTACKED,
  addressOf,
  attackedLine,
  closedByPeer,
  destroyRawPeers,
  dialRaw,
  expectOnlyHonestConnections,
  expectStillServing,
  handshake,
  joinRaw,
  lastErrorCode,
  roundTrip,
  sealedAtClose,
  within,
} from './helpers/hardening.js';
import { RawPeer, nodeInfoOf, randomIdentity } from './helpers/raw-peer.js';
import type { PeerEntry } from '../proto/messages.js';
import { TcpMesh, waitFor } from './helpers/tcp-mesh.js';

const mesh = new TcpMesh();
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  destroyRawPeers();
  await mesh.stopAll();
});

describe('bans land only on proven identities', () => {
  it('a Hello claiming an honest node, then a zero-length frame: closed, and that node still admitted', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const victim = Identity.fromSeed(randomBytes(32));
    // The victim's NodeInfo is public: anyone who met it in gossip can put it in a Hello.
    const raw = await dialRaw(line.x.node);
    raw.sendHello({ node: nodeInfoOf(victim, 'victim', 1) });
    await raw.readHello();
    raw.writeRaw(Buffer.from([0])); // a zero-length frame: FRAME
    await closedByPeer(raw);
    expect(line.x.node.stats()['node.drop.FRAME']).toBe(1);
    expect(line.x.node.stats()['node.bans']).toBe(0);
    // The victim itself now joins x: it was never refused.
    const honest = await mesh.add(
      { membership: 'static', name: 'victim', seeds: [addressOf(line.x.node)] },
      { identity: victim },
    );
    await waitFor(
      () => line.x.node.peers().active.some((peer) => peer.id === honest.node.id),
      15_000,
      'the victim in x’s active view',
    );
    await expectStillServing(line);
  });
});

describe('a refused connection that keeps streaming', () => {
  it('is read no more, cut after linkDrainMs although data keeps coming, and holds its slot until then', async () => {
    const linkDrainMs = 300;
    const line = await attackedLine(mesh, { ...ATTACKED, linkDrainMs });
    // allowHalfOpen: the attacker ignores our FIN and keeps its side writing.
    const socket = net.connect({ host: '127.0.0.1', port: line.x.node.info.port, allowHalfOpen: true });
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const raw = new RawPeer(socket, 'dialer', { network: 'not-ours' });
    raw.sendHello();
    await raw.readHello();
    await waitFor(() => raw.received.length >= 2, 10_000, 'the NETWORK refusal');
    const junk = encodeFrame(encodeEnvelope({ join: {} }));
    let written = 0;
    const stream = setInterval(() => {
      for (let i = 0; i < 64 && !socket.destroyed; i++) {
        socket.write(junk);
        written += junk.length;
      }
    }, 5);
    try {
      // Still counted while the socket lives, though the link reported its close at once.
      expect(line.x.node.stats()['node.connections']).toBe(2);
      await within(raw.closed, 'x to cut the refused connection while it streams');
    } finally {
      clearInterval(stream);
    }
    expect(written).toBeGreaterThan(0);
    expect(line.x.node.stats()['node.drop.NETWORK']).toBe(1);
    await expectOnlyHonestConnections(line);
    await expectStillServing(line);
  });
});

describe('a node is no tool to flood a third party', () => {
  it('Shuffles, ShuffleReplies and ForwardJoins naming one address under many ids: at most the per-address budget of dials', async () => {
    const burst = 3;
    const line = await attackedLine(mesh, {
      ...ATTACKED,
      membership: 'hyparview',
      dialsPerAddressBurst: burst,
      dialsPerAddressPerMinute: 1,
      // Fast repair and shuffles, so that x tries every address it learns, again and again.
      shuffleIntervalMs: 200,
      retryBaseBackoffMs: 10,
      retryMaxBackoffMs: 50,
    });
    const accepted: number[] = [];
    const server = net.createServer((socket) => {
      accepted.push(Date.now());
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const entries = (count: number): PeerEntry[] =>
        Array.from({ length: count }, (_, i) => ({
          node: { ...nodeInfoOf(randomIdentity(), `victim-${i}`), port },
          age: 0,
        }));
      const raw = await joinRaw(line.x.node);
      for (let i = 0; i < 16; i++) {
        const [origin, ...rest] = entries(8);
        raw.sendSealed({ shuffle: { origin: origin?.node, entries: rest, ttl: 1 } });
        raw.sendSealed({ shuffleReply: { entries: entries(7) } });
        raw.sendSealed({ forwardJoin: { node: entries(1)[0]?.node, ttl: 0 } });
        await roundTrip(raw); // paced under the entry budget: the attack is not cut short by a ban
      }
      // Without the budget x dialled the victim 8 times here (and on, as repair went on).
      await waitFor(
        () => (line.x.node.stats()['node.dial.address-rate'] ?? 0) >= 3,
        15_000,
        'x to refuse further dials to the victim',
      );
      expect(accepted.length).toBeGreaterThan(0);
      expect(accepted.length).toBeLessThanOrEqual(burst + 1);
      await expectStillServing(line);
    } finally {
      for (const socket of sockets.splice(0)) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('links outside the views', () => {
  it('a short-lived link kept busy with membership messages still closes at shortLivedMaxMs', async () => {
    const line = await attackedLine(mesh, { ...ATTACKED, shortLivedIdleMs: 200, shortLivedMaxMs: 1_000 });
    const raw = await dialRaw(line.x.node);
    await handshake(raw);
    // Never joins; a message every 50 ms, well within the idle time, would keep it open for ever.
    const chatter = setInterval(() => {
      if (!raw.isClosed) raw.sendSealed({ shuffleReply: { entries: [] } });
    }, 50);
    try {
      await within(raw.closed, 'x to close the busy short-lived link');
    } finally {
      clearInterval(chatter);
    }
    expect(line.x.node.stats()['node.drop.static-ignored-shuffleReply']).toBeGreaterThan(5);
    await expectOnlyHonestConnections(line);
  });
});

describe('Graft is no amplifier', () => {
  it('a neighbour asking for more ids than its Graft budget: the excess dropped, then LIMIT and a ban', async () => {
    const line = await attackedLine(mesh, {
      ...ATTACKED,
      router: 'plumtree',
      graftIdsPerSecond: 10,
      graftIdsBurst: 100,
    });
    const raw = await joinRaw(line.x.node);
    const graft = (n: number): { ids: string[]; origins: string[] } => ({
      ids: Array.from({ length: 100 }, (_, i) => `m-${n}-${i}`),
      origins: Array.from({ length: 100 }, () => raw.identity.id),
    });
    // 100 ids paid by the allowance, 100 by the overdraft (dropped), the third Graft closes.
    for (let n = 0; n < 3; n++) raw.sendSealed({ graft: graft(n) });
    const frames = await sealedAtClose(raw);
    expect(lastErrorCode(frames)).toBe(ErrorCode.LIMIT);
    const stats = line.x.node.stats();
    expect(stats['node.drop.graft-rate']).toBe(2);
    expect(stats['node.ban.graft-rate']).toBe(1);
    await expectStillServing(line);
  });
});
