/**
 * Hardening over real TCP (issue 7): protocol attackers. A raw peer completes the handshake by
 * hand (helpers/raw-peer.ts), joins the attacked node x, then sends crafted envelopes. x sits
 * between two honest neighbours (a - x - b), and each attack ends with the clear error or
 * counter, the attacker closed (and banned) or kept as the protocol says, and x still carrying
 * broadcasts between a and b, none lost, none delivered twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Identity } from '../crypto/identity.js';
import {
  ErrorCode,
  type NodeInfo,
  type PeerEntry,
  type ProtocolErrorBody,
  type Routed,
} from '../proto/messages.js';
import {
  ATTACKED,
  addressOf,
  attackedLine,
  closedByPeer,
  destroyRawPeers,
  dialRaw,
  expectStillServing,
  handshake,
  joinRaw,
  lastErrorCode,
  roundTrip,
  sealedAtClose,
  type Line,
} from './helpers/hardening.js';
import { craftRouted as craftRoutedAt } from './helpers/router-mesh.js';
import { decodeOrThrow, nodeInfoOf, randomIdentity, type RawPeer } from './helpers/raw-peer.js';
import { TcpMesh, waitFor } from './helpers/tcp-mesh.js';

const mesh = new TcpMesh();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  destroyRawPeers();
  await mesh.stopAll();
});

const UINT32_MAX = 4294967295;

/** A Routed as its origin sends it now: the nodes here run on the system clock. */
const craftRouted = (...[identity, info, payload, routed]: Parameters<typeof craftRoutedAt>): Routed =>
  craftRoutedAt(identity, info, { sentAtMs: BigInt(Date.now()), ...payload }, routed);

/** An origin the test signs for: a node that exists only as a key. */
function origin(name = 'origin'): { identity: Identity; info: NodeInfo } {
  const identity = randomIdentity();
  return { identity, info: nodeInfoOf(identity, name) };
}

const textsAt = (entry: { messages: Array<{ text: string }> }, text: string): number =>
  entry.messages.filter((m) => m.text === text).length;

/** x refused the raw peer with a sealed ProtocolError `code`, then closed. */
async function expectClosedWith(raw: RawPeer, code: keyof typeof ErrorCode): Promise<void> {
  expect(lastErrorCode(await sealedAtClose(raw))).toBe(ErrorCode[code]);
}

/** A second connection with the same identity is refused in the handshake: LIMIT, "banned". */
async function expectBanned(line: Line, identity: Identity, localAddress?: string): Promise<void> {
  const again = await dialRaw(line.x.node, { identity }, localAddress);
  again.sendHello();
  await closedByPeer(again);
  const frames = again.received.map(decodeOrThrow);
  expect(frames.map((f) => f.kind)).toEqual(['hello', 'error']);
  const error = (frames[1]?.envelope as { error: ProtocolErrorBody }).error;
  expect(error).toMatchObject({ code: ErrorCode.LIMIT, reason: expect.stringMatching(/banned/) });
}

describe('forged and bogus routed messages', () => {
  it('a forged signature: not delivered, the relay disconnected with LIMIT and banned; its reconnect refused', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const raw = await joinRaw(line.x.node);
    const { identity, info } = origin();
    const genuine = craftRouted(identity, info, { id: 'forged-1', text: { body: 'forged' } });
    raw.sendSealed({ routed: { ...genuine, signature: randomBytes(64) } });
    await expectClosedWith(raw, 'LIMIT');
    const stats = line.x.node.stats();
    expect(stats['router.badSignature']).toBe(1);
    expect(stats['node.punished']).toBe(1);
    expect(stats['node.ban.bad-signature']).toBe(1);
    await expectBanned(line, raw.identity);
    expect(line.x.node.stats()['node.refused.banned']).toBe(1);
    await expectStillServing(line);
    for (const entry of [line.x, line.a, line.b]) expect(textsAt(entry, 'forged')).toBe(0);
  });

  it('an origin id that does not match its key: dropped and counted, the relay disconnected with LIMIT and banned', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const raw = await joinRaw(line.x.node);
    const other = randomIdentity();
    const lying = { ...raw.info, id: other.id };
    raw.sendSealed({ routed: craftRouted(raw.identity, lying, { text: { body: 'who am i' } }) });
    await expectClosedWith(raw, 'LIMIT');
    const stats = line.x.node.stats();
    expect(stats['router.drop.origin']).toBe(1);
    expect(stats['router.badSignature']).toBe(0);
    expect(stats['node.ban.invalid-routed']).toBe(1);
    await expectBanned(line, raw.identity);
    await expectStillServing(line);
    for (const entry of [line.x, line.a, line.b]) expect(textsAt(entry, 'who am i')).toBe(0);
  });

  it("x's own message echoed back is a quiet duplicate; one claiming x as origin with another key bans the relay", async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const echoer = await joinRaw(line.x.node);
    line.x.node.broadcast('mine');
    const [copy] = (await roundTrip(echoer)).filter((r) => r.kind === 'routed');
    if (!copy) throw new Error('x did not forward its broadcast to the raw neighbour');
    const routed = (copy.envelope as { routed: Routed }).routed;
    echoer.sendSealed({ routed: { ...routed, ttl: routed.ttl - 1, hops: routed.hops + 1 } });
    await roundTrip(echoer);
    expect(line.x.node.stats()['router.duplicates']).toBe(1);
    expect(line.x.node.stats()['node.bans']).toBe(0);

    const impostor = await joinRaw(line.x.node);
    impostor.sendSealed({
      routed: craftRouted(impostor.identity, line.x.node.info, { text: { body: 'i am x' } }),
    });
    await expectClosedWith(impostor, 'LIMIT');
    expect(line.x.node.stats()['router.badSignature']).toBe(1);
    await expectBanned(line, impostor.identity);
    await expectStillServing(line);
    expect(textsAt(line.x, 'mine')).toBe(0);
    expect(textsAt(line.b, 'mine')).toBe(1);
    for (const entry of [line.x, line.a, line.b]) expect(textsAt(entry, 'i am x')).toBe(0);
  });

  it('the same message replayed by five neighbours is delivered once everywhere; nobody is punished', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const raws = await Promise.all(Array.from({ length: 5 }, () => joinRaw(line.x.node)));
    const { identity, info } = origin();
    const routed = craftRouted(identity, info, { id: 'replayed-1', text: { body: 'replayed' } });
    for (const raw of raws) raw.sendSealed({ routed });
    await Promise.all(raws.map((raw) => roundTrip(raw)));
    await waitFor(
      () => textsAt(line.a, 'replayed') === 1 && textsAt(line.b, 'replayed') === 1,
      10_000,
      'a and b',
    );
    expect(textsAt(line.x, 'replayed')).toBe(1);
    expect(line.x.node.stats()['router.duplicates']).toBeGreaterThanOrEqual(4);
    expect(line.x.node.stats()['node.bans']).toBe(0);
    await expectStillServing(line);
    expect([line.x, line.a, line.b].map((entry) => textsAt(entry, 'replayed'))).toEqual([1, 1, 1]);
  });

  it('a bad copy before the good message does not shadow it; a bad copy after it is a duplicate', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const { identity, info } = origin();
    const good = craftRouted(identity, info, { id: 'contested-1', text: { body: 'good' } });
    // Same origin and id, other bytes, a signature that does not verify.
    const bad = craftRouted(identity, info, { id: 'contested-1', text: { body: 'evil' } });
    bad.signature = randomBytes(64);

    const early = await joinRaw(line.x.node);
    early.sendSealed({ routed: bad });
    await expectClosedWith(early, 'LIMIT'); // verified, failed, punished: not marked seen
    const honest = await joinRaw(line.x.node);
    honest.sendSealed({ routed: good });
    await roundTrip(honest);
    await waitFor(() => textsAt(line.b, 'good') === 1, 10_000, 'the good message at b');

    const late = await joinRaw(line.x.node);
    late.sendSealed({ routed: bad });
    await roundTrip(late); // other bytes under a seen key: a duplicate, never checked, never punished
    expect(line.x.node.stats()['router.badSignature']).toBe(1);
    await expectStillServing(line);
    expect([line.x, line.a, line.b].map((entry) => textsAt(entry, 'good'))).toEqual([1, 1, 1]);
    for (const entry of [line.x, line.a, line.b]) expect(textsAt(entry, 'evil')).toBe(0);
  });

  it('TTL 2^32-1 is lowered to maxTtl: the copy forwarded carries maxTtl - 1', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const sender = await joinRaw(line.x.node);
    const watcher = await joinRaw(line.x.node);
    const { identity, info } = origin();
    sender.sendSealed({
      routed: craftRouted(identity, info, { text: { body: 'forever' } }, { ttl: UINT32_MAX }),
    });
    await roundTrip(sender);
    const forwarded = (await roundTrip(watcher)).filter((r) => r.kind === 'routed');
    expect(forwarded.map((r) => (r.envelope as { routed: Routed }).routed)).toMatchObject([
      { ttl: line.x.node.config.maxTtl - 1, hops: 2 },
    ]);
    await waitFor(() => textsAt(line.b, 'forever') === 1, 10_000, 'the message at b');
    await expectStillServing(line);
  });
});

describe('validly signed floods', () => {
  it('one origin over its text rate: the excess dropped at the first hop and counted, the relay kept', async () => {
    // The relay's bucket is twice the origin's own burst: 2 x 5 texts pass, the rest never do.
    const limits = { originTextsPerSecond: 1, originTextsBurst: 5 };
    const line = await attackedLine(mesh, { ...ATTACKED, ...limits }, {}, limits);
    const raw = await joinRaw(line.x.node);
    const { identity, info } = origin('chatty');
    for (let i = 0; i < 30; i++) {
      raw.sendSealed({
        routed: craftRouted(identity, info, { id: `spam-${i}`, text: { body: `spam ${i}` } }),
      });
    }
    await roundTrip(raw);
    const stats = line.x.node.stats();
    expect(stats['router.originRate']).toBe(20);
    expect(stats['router.drop.originRate']).toBe(20);
    expect(stats['node.bans']).toBe(0);
    const spamAt = (entry: { messages: Array<{ text: string }> }): number =>
      entry.messages.filter((m) => m.text.startsWith('spam ')).length;
    expect(spamAt(line.x)).toBe(10);
    await waitFor(() => spamAt(line.a) === 10 && spamAt(line.b) === 10, 15_000, 'the 10 accepted at a and b');
    // A dropped message stays dropped: a copy with more TTL is not revived.
    const dropped = craftRouted(identity, info, { id: 'spam-29', text: { body: 'spam 29' } });
    raw.sendSealed({ routed: { ...dropped, ttl: 30 } });
    await roundTrip(raw);
    expect(spamAt(line.x)).toBe(10);
    // Other origins are not affected, and the raw relay is still a neighbour.
    await expectStillServing(line);
    const { identity: quiet, info: quietInfo } = origin('quiet');
    raw.sendSealed({ routed: craftRouted(quiet, quietInfo, { id: 'quiet-1', text: { body: 'quiet one' } }) });
    await waitFor(() => textsAt(line.b, 'quiet one') === 1, 15_000, 'the other origin at b');
  });

  it('a neighbour over its Routed frame rate: the excess dropped, then LIMIT and a ban', async () => {
    const line = await attackedLine(mesh, { ...ATTACKED, routedPerSecond: 10, routedBurst: 20 });
    const raw = await joinRaw(line.x.node);
    const { identity, info } = origin();
    // 20 accepted, 20 paid by the overdraft and dropped; the 41st closes the link.
    for (let i = 0; i < 60; i++) {
      raw.sendSealed({
        routed: craftRouted(identity, info, { id: `burst-${i}`, text: { body: `burst ${i}` } }),
      });
    }
    await expectClosedWith(raw, 'LIMIT');
    const stats = line.x.node.stats();
    expect(stats['node.drop.routed-rate']).toBeGreaterThanOrEqual(20);
    expect(stats['node.ban.routed-rate']).toBe(1);
    await expectBanned(line, raw.identity);
    await expectStillServing(line);
  });

  it('the node refuses its own text over the rate, with a reason, before any relay would drop it', async () => {
    const line = await attackedLine(mesh, { ...ATTACKED, originTextsPerSecond: 1, originTextsBurst: 3 });
    for (let i = 0; i < 3; i++) line.x.node.broadcast(`mine ${i}`);
    expect(() => line.x.node.broadcast('one too many')).toThrow(/over 1 messages per second \(burst 3\)/);
    await waitFor(() => line.b.messages.length === 3, 15_000, 'the three at b');
  });
});

describe('bans by announced address', () => {
  it('are made only when the peer connected from the host it announces', async () => {
    const line = await attackedLine(mesh, ATTACKED);
    const forge = (raw: RawPeer): void => {
      const { identity, info } = origin();
      raw.sendSealed({ routed: { ...craftRouted(identity, info), signature: randomBytes(64) } });
    };
    // From 127.0.0.2, announcing a's address: banned by id only, or one bad connection would
    // get an honest node's address refused.
    const liar = await dialRaw(line.x.node, {}, '127.0.0.2');
    await handshake(liar, addressOf(line.a.node));
    liar.sendSealed({ join: {} });
    forge(liar);
    await expectClosedWith(liar, 'LIMIT');
    await expectBanned(line, liar.identity, '127.0.0.2');
    const claimsA = await dialRaw(line.x.node);
    await handshake(claimsA, addressOf(line.a.node));
    await roundTrip(claimsA);

    // From 127.0.0.1, announcing 127.0.0.1:port: plausibly its own, banned with the id.
    const announced = { host: '127.0.0.1', port: 1 + (line.b.node.info.port % 60_000) };
    const culprit = await dialRaw(line.x.node);
    await handshake(culprit, announced);
    culprit.sendSealed({ join: {} });
    forge(culprit);
    await expectClosedWith(culprit, 'LIMIT');
    const sameAddress = await dialRaw(line.x.node);
    sameAddress.sendHello({ node: { ...sameAddress.info, ...announced } });
    await closedByPeer(sameAddress);
    expect(lastErrorCode(sameAddress.received.map(decodeOrThrow))).toBe(ErrorCode.LIMIT);
    expect(line.x.node.stats()['node.ban.bad-signature']).toBe(2);
    await expectStillServing(line);
  });
});

// --- peer exchange aimed at a victim --------------------------------------------------------

/** A TCP listener standing for a third party: it counts the connections it accepts and cuts them. */
async function victim(): Promise<{ port: number; acceptedAtMs: number[] }> {
  const acceptedAtMs: number[] = [];
  const server = net.createServer((socket) => {
    acceptedAtMs.push(performance.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, acceptedAtMs };
}

/** `count` valid entries, each a distinct node id, all at one address. */
function entriesAt(port: number, count: number): PeerEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    node: { ...nodeInfoOf(randomIdentity(), `victim-${i}`), port },
    age: 0,
  }));
}

describe('peer exchange aimed at a victim', () => {
  it('a Shuffle or ShuffleReply with a thousand entries at one victim is closed with LIMIT; nothing is merged or dialled', async () => {
    // A larger frame, so that a thousand valid entries fit in one message.
    const line = await attackedLine(mesh, {
      ...ATTACKED,
      membership: 'hyparview',
      maxFrameBytes: 256 * 1024,
    });
    const target = await victim();
    const [first, ...entries] = entriesAt(target.port, 1001);
    const shuffler = await joinRaw(line.x.node);
    shuffler.sendSealed({ shuffle: { origin: first?.node, entries, ttl: 1 } });
    await expectClosedWith(shuffler, 'LIMIT');
    const replier = await joinRaw(line.x.node);
    replier.sendSealed({ shuffleReply: { entries } });
    await expectClosedWith(replier, 'LIMIT');
    const stats = line.x.node.stats();
    expect(stats['node.drop.shuffle-limit']).toBe(1);
    expect(stats['node.drop.shuffleReply-limit']).toBe(1);
    expect(line.x.node.peers().passive.filter((p) => p.port === target.port)).toEqual([]);
    await expectStillServing(line);
    expect(target.acceptedAtMs).toEqual([]);
  });

  it('a flood of small Shuffles and ForwardJoins at one victim: over the entry rate dropped, then LIMIT and a ban; the victim dialled at most once per backoff', async () => {
    const backoffMs = 1000;
    const line = await attackedLine(mesh, {
      ...ATTACKED,
      membership: 'hyparview',
      peerEntriesPerSecond: 100,
      peerEntriesBurst: 200,
      shuffleIntervalMs: backoffMs,
      retryBaseBackoffMs: backoffMs,
      retryMaxBackoffMs: 4 * backoffMs,
    });
    const target = await victim();
    const raw = await joinRaw(line.x.node);
    for (let i = 0; i < 20; i++) {
      const [originEntry, ...entries] = entriesAt(target.port, 33);
      raw.sendSealed({ shuffle: { origin: originEntry?.node, entries, ttl: 1 } });
      raw.sendSealed({ forwardJoin: { node: entriesAt(target.port, 1)[0]?.node, ttl: 0 } });
    }
    // 200 tokens pay for about six Shuffles of 33 entries; the overdraft for as many more dropped.
    await expectClosedWith(raw, 'LIMIT');
    const stats = line.x.node.stats();
    expect(stats['node.drop.exchange-rate']).toBeGreaterThanOrEqual(6);
    expect(stats['node.ban.exchange-rate']).toBe(1);
    await expectBanned(line, raw.identity);
    // x learned of the victim (a ShuffleReply to dial, passive entries to try): it tries again,
    // but never sooner than the backoff after the last failure, whatever the peers said.
    await waitFor(() => target.acceptedAtMs.length >= 2, 15_000, 'x to dial the victim twice');
    const gaps = target.acceptedAtMs.slice(1).map((at, i) => at - (target.acceptedAtMs[i] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(backoffMs - 20);
    expect(line.x.node.stats()['node.dial.backoff']).toBeGreaterThanOrEqual(1);
    await expectStillServing(line);
  });
});

// --- gossiped NodeInfos ---------------------------------------------------------------------

describe('gossiped NodeInfos', () => {
  it('a Shuffle with some invalid entries: the valid ones are merged, each invalid one dropped as entry-invalid, the link kept', async () => {
    const line = await attackedLine(mesh, { ...ATTACKED, membership: 'hyparview' });
    const shuffler = await joinRaw(line.x.node);
    // Three valid entries: within ka + kp, so that every one of them is merged.
    const valid = [1, 2, 3].map((i) => nodeInfoOf(randomIdentity(), `valid-${i}`, 7000 + i));
    const forgedId = randomIdentity().id;
    const invalid: PeerEntry[] = [
      { node: { ...nodeInfoOf(randomIdentity(), 'forged', 7010), id: forgedId }, age: 0 },
      { node: null, age: 0 },
      { node: nodeInfoOf(randomIdentity(), 'far', 70_000), age: 0 },
      { node: nodeInfoOf(randomIdentity(), 'n'.repeat(33), 7011), age: 0 },
    ];
    // Interleaved: each invalid entry goes, whatever its place.
    const [v1, v2, v3] = valid.map((node) => ({ node, age: 0 }));
    const [i1, i2, i3, i4] = invalid;
    const entries = [v1, i1, i2, v2, i3, v3, i4] as PeerEntry[];
    shuffler.sendSealed({ shuffle: { origin: shuffler.info, entries, ttl: 1 } });
    // The walk ends at x (ttl 1), which answers its origin on the link: the Shuffle was taken.
    const read = await roundTrip(shuffler);
    expect(read.map((received) => received.kind)).toContain('shuffleReply');

    const passive = line.x.node.peers().passive.map((peer) => peer.id);
    expect(passive).toEqual(expect.arrayContaining(valid.map((info) => info.id)));
    const invalidIds = invalid.flatMap((entry) => (entry.node ? [entry.node.id] : []));
    expect(invalidIds).toContain(forgedId);
    for (const id of invalidIds) expect(passive).not.toContain(id);
    expect(line.x.node.stats()['node.drop.entry-invalid']).toBe(invalid.length);
    expect(line.x.node.peers().active.map((peer) => peer.id)).toContain(shuffler.identity.id);
    expect(shuffler.isClosed).toBe(false);
    await expectStillServing(line);
  });
});
