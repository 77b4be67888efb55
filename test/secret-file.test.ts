/**
 * Secret files on disk: the identity key is created whole or not at all, by one process, and a
 * key file other users may read (or another user owns) is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDENTITY_FILE, IdentityError, loadOrCreateIdentity } from '../crypto/identity-store.js';
import { createSecretFile, secretFileProblem } from '../crypto/secret-file.js';
import { cryptoRandom } from '../utils/random.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pchat-secret-'));
  dirs.push(dir);
  return dir;
}

const posix = process.platform !== 'win32';

describe('identity.pem', () => {
  it('nodes started on one data dir at the same moment all get the one identity written', async () => {
    const dir = join(await tempDir(), 'data');
    const identities = await Promise.all(
      Array.from({ length: 6 }, () => loadOrCreateIdentity(dir, cryptoRandom)),
    );
    const ids = new Set(identities.map((identity) => identity.id));
    expect(ids.size).toBe(1);
    expect(await readdir(dir)).toEqual([IDENTITY_FILE]);
    const again = await loadOrCreateIdentity(dir, cryptoRandom);
    expect(again.id).toBe(identities[0]?.id);
  });

  it.runIf(posix)('is created with mode 0600 in a folder of mode 0700', async () => {
    const dir = join(await tempDir(), 'data');
    await loadOrCreateIdentity(dir, cryptoRandom);
    expect((await stat(join(dir, IDENTITY_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it.runIf(posix).each([
    ['0644', 0o644],
    ['0640', 0o640],
    ['0604', 0o604],
    ['0620', 0o620],
  ])('is refused with mode %s', async (_, mode) => {
    const dir = await tempDir();
    const first = await loadOrCreateIdentity(dir, cryptoRandom);
    const path = join(dir, IDENTITY_FILE);
    await chmod(path, mode);
    const loading = loadOrCreateIdentity(dir, cryptoRandom);
    await expect(loading).rejects.toBeInstanceOf(IdentityError);
    await expect(loading).rejects.toThrow(
      `${path} is open to other users (mode 0${mode.toString(8)}); run chmod 600`,
    );
    // Refused, not replaced: the key is still there for when the mode is fixed.
    await chmod(path, 0o600);
    expect((await loadOrCreateIdentity(dir, cryptoRandom)).id).toBe(first.id);
  });
});

describe('secret files', () => {
  it('createSecretFile never replaces an existing file and leaves no temporary file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'network.key');
    expect(await createSecretFile(path, 'first\n')).toBe(true);
    expect(await createSecretFile(path, 'second\n')).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('first\n');
    expect(await readdir(dir)).toEqual(['network.key']);
  });

  it.runIf(posix)('secretFileProblem names the mode or the owner', () => {
    const uid = process.getuid?.() ?? 0;
    expect(secretFileProblem('/k', { mode: 0o100600, uid })).toBeUndefined();
    expect(secretFileProblem('/k', { mode: 0o100400, uid: 0 })).toBeUndefined();
    expect(secretFileProblem('/k', { mode: 0o100640, uid })).toBe(
      '/k is open to other users (mode 0640); run chmod 600 /k',
    );
    if (uid !== 0) {
      expect(secretFileProblem('/k', { mode: 0o100600, uid: uid + 1 })).toBe(
        `/k belongs to uid ${uid + 1}, not to this user (uid ${uid})`,
      );
    }
  });

  it('a garbage identity file is a clear error', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, IDENTITY_FILE), 'not a key\n', { mode: 0o600 });
    await expect(loadOrCreateIdentity(dir, cryptoRandom)).rejects.toThrow(/bad identity file/);
  });
});
