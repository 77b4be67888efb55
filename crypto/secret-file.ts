/**
 * Files that hold a secret (the identity key, a network key): written whole or not at all,
 * never readable by other users, and not trusted when they are.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rm } from 'node:fs/promises';

/**
 * Why a secret file must not be used as it is, or undefined when it may: open to the group or
 * to others (any of the bits 0077), or owned by another user than this one or root. POSIX only:
 * Windows has no such mode bits.
 */
export function secretFileProblem(path: string, stats: { mode: number; uid: number }): string | undefined {
  if (process.platform === 'win32') return undefined;
  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    return `${path} is open to other users (mode ${mode}); run chmod 600 ${path}`;
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
    return `${path} belongs to uid ${stats.uid}, not to this user (uid ${uid})`;
  }
  return undefined;
}

/**
 * Creates `path` holding `text`, atomically: the text goes to a temporary file of mode 0600 in
 * the same folder, flushed, then hard-linked to `path`, so a reader (or a node started at the
 * same moment) sees the whole file or none, and an existing file is never replaced. Resolves
 * false, writing nothing, when `path` exists.
 */
export async function createSecretFile(path: string, text: string): Promise<boolean> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporary, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } finally {
    await rm(temporary, { force: true });
  }
}
