/**
 * Tier 2 (STYLE.md): attacks on the router by a neighbour, each carried out over an in-memory
 * mesh of routers with a SimClock. Node 0 plays the attacker where a test injects a crafted copy
 * "from 0"; the other nodes are honest routers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../cli/args.js';
import type { NodeConfig } from '../config.js';
import { uncheckedSignatures } from '../crypto/signatures.js';
import { seededRandom } from '../utils/random.js';
import {
  craftRouted,
  lineEdges,
  makeIdentity,
  nodeInfoOf,
  RouterMesh,
  type MeshOptions,
} from './helpers/router-mesh.js';

const meshes: RouterMesh[] = [];

function mesh(options: MeshOptions): RouterMesh {
  const created = new RouterMesh(options);
  meshes.push(created);
  return created;
}

afterEach(() => {
  for (const created of meshes.splice(0)) created.stop();
});

const author = makeIdentity(seededRandom(42));
const authorInfo = nodeInfoOf(author, 50);

describe('signature checks cannot be switched off by a setting', () => {
  it('has no --verify-signatures flag', () => {
    expect(() => parseCli(['--verify-signatures', 'false'])).toThrow(UsageError);
  });

  it('refuses a forgery whatever the config carries', () => {
    const legacy = { verifySignatures: false } as unknown as Partial<NodeConfig>;
    const net = mesh({ size: 2, edges: lineEdges(2), config: legacy });
    net.inject(1, 0, { ...craftRouted(author, authorInfo), signature: new Uint8Array(64) });
    expect(net.node(1).delivered).toEqual([]);
    expect(net.node(1).router.stats().badSignature).toBe(1);
  });

  it('a simulation that measures the cost of checks injects a checker that accepts everything', () => {
    const net = mesh({ size: 2, edges: lineEdges(2), signatures: () => uncheckedSignatures });
    net.inject(1, 0, { ...craftRouted(author, authorInfo), signature: new Uint8Array(64) });
    expect(net.node(1).delivered).toHaveLength(1);
  });
});
