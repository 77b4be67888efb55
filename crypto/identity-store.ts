/** Keeps a node's identity in its data dir, so it keeps its id across restarts. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Identity } from './identity.js';
import type { Random } from '../utils/random.js';

export const IDENTITY_FILE = 'identity.pem';

/** A clear, one-line failure to load or store the identity. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

/**
 * Loads `<dataDir>/identity.pem`, or creates it (mode 0600, folder 0700) when it does not
 * exist. Without a data dir the identity is ephemeral.
 */
export async function loadOrCreateIdentity(dataDir: string | undefined, random: Random): Promise<Identity> {
  if (dataDir === undefined) return Identity.fromSeed(random.bytes(32));
  const path = join(dataDir, IDENTITY_FILE);
  let pem: string | undefined;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new IdentityError(`cannot read identity file ${path}: ${(err as Error).message}`);
    }
  }
  if (pem !== undefined) {
    try {
      return Identity.fromPem(pem);
    } catch (err) {
      throw new IdentityError(`bad identity file ${path}: ${(err as Error).message}`);
    }
  }
  const identity = Identity.fromSeed(random.bytes(32));
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(path, identity.toPem(), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new IdentityError(`cannot write identity file ${path}: ${(err as Error).message}`);
  }
  return identity;
}
