/** Keeps a node's identity in its data dir, so it keeps its id across restarts. */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { Identity } from './identity.js';
import { createSecretFile, secretFileProblem } from './secret-file.js';
import type { Random } from '../utils/random.js';

export const IDENTITY_FILE = 'identity.pem';

/** A clear, one-line failure to load or store the identity. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

/**
 * Loads `<dataDir>/identity.pem`, or creates it (mode 0600, folder 0700) when it does not
 * exist. Without a data dir the identity is ephemeral. A key file open to other users, or owned
 * by another, is refused: the key is the node's id, whoever reads it can be that node.
 */
export async function loadOrCreateIdentity(dataDir: string | undefined, random: Random): Promise<Identity> {
  if (dataDir === undefined) return Identity.fromSeed(random.bytes(32));
  const path = join(dataDir, IDENTITY_FILE);
  const existing = await readIdentity(path);
  if (existing) return existing;
  const identity = Identity.fromSeed(random.bytes(32));
  let created: boolean;
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    created = await createSecretFile(path, identity.toPem());
  } catch (err) {
    throw new IdentityError(`cannot write identity file ${path}: ${(err as Error).message}`);
  }
  if (created) return identity;
  // Another process, started on the same data dir at the same moment, wrote it first: its
  // identity is the one on disk, so both use it.
  const written = await readIdentity(path);
  if (!written) throw new IdentityError(`identity file ${path} vanished while it was created`);
  return written;
}

/**
 * The identity in `path`, or undefined when there is no such file. A file that holds no key is
 * a bad file whatever its mode; one that holds a key is refused when others may read it.
 */
async function readIdentity(path: string): Promise<Identity | undefined> {
  let pem: string;
  let problem: string | undefined;
  try {
    const handle = await open(path, 'r');
    try {
      // The mode of the file opened, not of whatever the path names a moment later.
      const stats = await handle.stat();
      problem = stats.isFile() ? secretFileProblem(path, stats) : undefined;
      pem = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IdentityError(`cannot read identity file ${path}: ${(err as Error).message}`);
  }
  let identity: Identity;
  try {
    identity = Identity.fromPem(pem);
  } catch (err) {
    throw new IdentityError(`bad identity file ${path}: ${(err as Error).message}`);
  }
  if (problem) throw new IdentityError(`identity file ${problem}`);
  return identity;
}
