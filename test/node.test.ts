/** Nodes over real TCP on loopback: lifecycle, chat between neighbours, failures, identity. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { Node } from '../node.js';
import { IdentityError } from '../crypto/identity-store.js';
import { FAST, TcpMesh, activeCount, waitFor } from './helpers/tcp-mesh.js';

const mesh = new TcpMesh();
afterEach(() => mesh.stopAll());

const addressOf = (node: Node): { host: string; port: number } => ({
  host: node.info.host,
  port: node.info.port,
});

describe('node', () => {
  it('start and stop are idempotent and stop sends Leave', async () => {
    const a = await mesh.add({ membership: 'static' });
    const b = await mesh.add({ membership: 'static', seeds: [addressOf(a.node)] });
    await waitFor(() => activeCount(a) === 1 && activeCount(b) === 1, 10_000, 'link up');
    const downs: string[] = [];
    a.node.on('peer:down', (event) => downs.push(event.reason));
    expect(a.node.start()).toBe(a.node.start());
    const stopping = b.node.stop();
    expect(b.node.stop()).toBe(stopping);
    await stopping;
    await waitFor(() => downs.length === 1, 10_000, 'peer down');
    expect(downs).toEqual(['leave']);
    expect(activeCount(a)).toBe(0);
  });

  it('three nodes chat, and the others keep going when one closes mid-stream', async () => {
    const [a, b, c] = await mesh.line(3);
    if (!a || !b || !c) throw new Error('line');
    a.node.broadcast('hello from a');
    await waitFor(() => b.messages.length === 1 && c.messages.length === 1, 10_000, 'first broadcast');
    expect(c.messages[0]).toMatchObject({ text: 'hello from a', hops: 2, to: null, room: 'lobby' });
    expect(c.messages[0]?.from.id).toBe(a.node.id);
    const d = await mesh.add({ membership: 'static', seeds: [addressOf(b.node)] });
    await waitFor(() => activeCount(b) === 3, 10_000, 'd joins b');
    for (let i = 0; i < 20; i++) a.node.broadcast(`burst ${i}`);
    await c.node.stop();
    d.node.broadcast('after c left');
    await waitFor(() => a.messages.some((m) => m.text === 'after c left'), 10_000, 'broadcast after c left');
    await waitFor(() => d.messages.filter((m) => m.text.startsWith('burst')).length === 20, 10_000, 'burst');
    expect(new Set(d.messages.map((m) => m.id)).size).toBe(d.messages.length);
  });

  it('refuses a connection to itself', async () => {
    const a = await mesh.add({ membership: 'static' });
    a.node.connect(addressOf(a.node));
    const other = await mesh.add({ membership: 'static', seeds: [addressOf(a.node)] });
    // Each side adds the other when it handles the link: wait for both, then a holds only other.
    await waitFor(() => activeCount(other) === 1 && activeCount(a) === 1, 10_000, 'other joins');
    expect(a.node.peers().active.map((p) => p.id)).toEqual([other.node.id]);
    // Refused before any socket: a never dialled itself (the static strategy retries the contact).
    expect(a.node.stats()['node.dial.self']).toBeGreaterThanOrEqual(1);
    expect(a.node.stats()['node.connections']).toBe(1);
  });

  it('keeps its identity in the data dir with mode 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2pchat-'));
    const first = new Node({ ...FAST, dataDir: dir });
    await first.start();
    const id = first.id;
    await first.stop();
    const mode = (await stat(join(dir, 'identity.pem'))).mode & 0o777;
    expect(mode).toBe(0o600);
    const second = new Node({ ...FAST, dataDir: dir });
    await second.start();
    expect(second.id).toBe(id);
    await second.stop();
    expect(await readFile(join(dir, 'identity.pem'), 'utf8')).toContain('PRIVATE KEY');
  });

  it('refuses a bad key file with a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2pchat-'));
    await writeFile(join(dir, 'identity.pem'), 'not a key');
    const node = new Node({ ...FAST, dataDir: dir });
    await expect(node.start()).rejects.toThrow(IdentityError);
    await expect(node.start()).rejects.toThrow(/bad identity file/);
  });

  it('reports a port in use', async () => {
    const a = await mesh.add();
    const b = new Node({ ...FAST, port: a.node.info.port });
    await expect(b.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('survives garbage from a raw socket and keeps serving its peers', async () => {
    const [a, b] = await mesh.line(2);
    if (!a || !b) throw new Error('line');
    const garbage = net.connect(addressOf(a.node));
    await new Promise<void>((resolve) => garbage.once('connect', resolve));
    garbage.resume(); // read what the node sends, so its FIN is seen
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await new Promise<void>((resolve) => garbage.once('close', resolve));
    b.node.broadcast('still here');
    await waitFor(() => a.messages.some((m) => m.text === 'still here'), 10_000, 'message after garbage');
    expect(a.node.stats()['node.drop.FRAME']).toBe(1);
  });
});
