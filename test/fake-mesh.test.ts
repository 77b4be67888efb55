/**
 * The fake mesh (helpers/fake-mesh.ts) behaves as the node does towards a membership strategy
 * (node.ts: `#connect`, `#settleDuplicate`, `#armIdle`, `#onClosed`), so that the strategies'
 * simulations over it are not kinder than real nodes: duplicate connections happen and are
 * settled by the node's rule, closes are reported when the node reports them, and idle links
 * close when the node's idle timer would close them.
 */
import { describe, expect, it } from 'vitest';
import type { MembershipFactory, PeerLink } from '../membership/legacy-strategy.js';
import { FakeMesh, type MeshNode } from './helpers/fake-mesh.js';
import { settle } from './helpers/fakes.js';

const SHORT_LIVED_IDLE_MS = 2000;

/** A strategy that claims no link and records what the mesh tells it, with the virtual time. */
function recording(log: Map<string, string[]>): MembershipFactory {
  return (context) => {
    const lines: string[] = [];
    log.set(context.self.name, lines);
    const at = (): number => context.clock.now();
    return {
      name: 'recording',
      start: () => undefined,
      join: () => undefined,
      stop: () => undefined,
      onLinkReady: (link) => lines.push(`${at()} ready ${link.role}`),
      onMessage: (link, message) => lines.push(`${at()} ${message.kind} on ${link.role}`),
      onLinkClosed: (link, reason) => lines.push(`${at()} closed ${link.role} ${reason}`),
      onLinkReplaced: (previous, next) => lines.push(`${at()} replaced ${previous.role} by ${next.role}`),
      isDataLink: () => false,
      dataPeers: () => [],
      views: () => ({ active: [], passive: [] }),
      stats: () => ({}),
    };
  };
}

function pair(): { mesh: FakeMesh; a: MeshNode; b: MeshNode; log: Map<string, string[]> } {
  const log = new Map<string, string[]>();
  const mesh = new FakeMesh({
    factory: recording(log),
    config: { shortLivedIdleMs: SHORT_LIVED_IDLE_MS },
    latencyMs: 1,
  });
  return { mesh, a: mesh.addNode(), b: mesh.addNode(), log };
}

const logOf = (log: Map<string, string[]>, node: MeshNode): string[] => log.get(node.info.name) ?? [];

describe('fake mesh: dials', () => {
  it('two nodes dialling each other at once: a duplicate, settled for the link dialled by the smaller id', async () => {
    const { mesh, a, b, log } = pair();
    const dials = [mesh.connect(a, b.address), mesh.connect(b, a.address)];
    await mesh.run(10);
    const [fromA, fromB] = await Promise.all(dials);
    expect(mesh.duplicates).toBe(1);
    const smaller = a.info.id < b.info.id ? a : b;
    const winnerOnA = mesh.openLinkBetween(a, b.info.id);
    expect(winnerOnA?.role).toBe(smaller === a ? 'dialer' : 'listener');
    expect(winnerOnA?.remote.isOpen).toBe(true);
    // a's dial resolved when its link opened, alone; b's, which made the duplicate, resolves to
    // the survivor on b's side (as the node's dial resolves to #settleDuplicate's winner).
    expect(fromA?.role).toBe('dialer');
    expect(fromB).toBe(winnerOnA?.remote);
    // a's dial completed first; b's completed beside it. If b's won, both sides saw the swap;
    // either way the loser's close reaches no strategy.
    const swapped = smaller === b;
    expect(logOf(log, a)).toEqual(
      swapped ? ['2 ready dialer', '2 replaced dialer by listener'] : ['2 ready dialer'],
    );
    expect(logOf(log, b)).toEqual(
      swapped ? ['2 ready listener', '2 replaced listener by dialer'] : ['2 ready listener'],
    );
  });

  it('concurrent connects of one node to one address share one dial; an open link is reused', async () => {
    const { mesh, a, b, log } = pair();
    const dials = [mesh.connect(a, b.address), mesh.connect(a, b.address)];
    await mesh.run(10);
    const [first, second] = await Promise.all(dials);
    expect(second).toBe(first);
    expect(await mesh.connect(a, b.address)).toBe(first);
    expect(mesh.duplicates).toBe(0);
    expect(logOf(log, a)).toEqual(['2 ready dialer']);
  });
});

describe('fake mesh: closes', () => {
  it("the closer's strategy hears of the close at once, the other side after what was sent", async () => {
    const { mesh, a, b, log } = pair();
    const link = (await connectNow(mesh, a, b)) as PeerLink;
    const closedAt = mesh.clock.now();
    link.send({ join: {} });
    link.close('LIMIT');
    expect(logOf(log, a).at(-1)).toBe(`${closedAt} closed dialer local`);
    await mesh.run(10);
    expect(logOf(log, b).slice(-2)).toEqual([
      `${closedAt + 1} join on listener`,
      `${closedAt + 1} closed listener error`,
    ]);
  });

  it('a link no strategy claims closes shortLivedIdleMs after its last received envelope; sending does not count', async () => {
    const { mesh, a, b, log } = pair();
    const link = (await connectNow(mesh, a, b)) as PeerLink;
    const openedAt = mesh.clock.now();
    await mesh.run(1000);
    link.send({ join: {} }); // re-arms b's side only
    await mesh.run(SHORT_LIVED_IDLE_MS);
    expect(logOf(log, a)).toEqual([
      `${openedAt} ready dialer`,
      `${openedAt + SHORT_LIVED_IDLE_MS} closed dialer local`,
    ]);
    expect(logOf(log, b)).toEqual([
      `${openedAt} ready listener`,
      `${openedAt + 1001} join on listener`,
      `${openedAt + SHORT_LIVED_IDLE_MS + 1} closed listener closed`,
    ]);
  });
});

/** Connects a to b and runs the mesh until the dial resolved. */
async function connectNow(mesh: FakeMesh, a: MeshNode, b: MeshNode): Promise<PeerLink | undefined> {
  let link: PeerLink | undefined;
  void mesh.connect(a, b.address).then((l) => (link = l));
  await mesh.runUntil(() => link !== undefined, 100);
  await settle();
  return link;
}
