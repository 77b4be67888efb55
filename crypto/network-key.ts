/**
 * Where a node's network key comes from, for the CLI and the lab: a key file
 * (`--network-key-file`, made by `p2pchat keygen`), the environment (`P2PCHAT_NETWORK_KEY`),
 * or, deprecated, `--network-key` on the command line, which every user of the machine can read
 * in `ps`.
 *
 * Protocol v1 derives the mesh key as sha256("overlay-v1-netkey" || passphrase), and a node's
 * key proof is an HMAC under it over a transcript anyone who connects, or records a handshake,
 * gets to see: a passphrase can be guessed offline, at the speed of SHA-256. `keygen` makes the
 * passphrase 32 random bytes (64 hex characters), which no guessing reaches, and stays v1: a node
 * given the file interoperates with any v1 node given the same 64 characters as its passphrase.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { secretFileProblem } from './secret-file.js';

/** The environment variable that may hold the network key (the lab passes it to its children). */
export const NETWORK_KEY_ENV = 'P2PCHAT_NETWORK_KEY';

/** Passphrases shorter than this get a warning: a human-chosen one this short falls to guessing. */
export const MIN_NETWORK_KEY_CHARS = 16;

/** A network key file that cannot be used: the node does not start (exit 1). */
export class NetworkKeyError extends Error {
  override readonly name = 'NetworkKeyError';
}

/** A fresh network key: 32 random bytes as 64 lowercase hex characters. */
export function generateNetworkKey(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The key in a key file: its text without surrounding whitespace (the final newline). Refused
 * when other users may read it, when another user owns it, or when it is empty.
 */
export function readNetworkKeyFile(path: string): string {
  let text: string;
  let problem: string | undefined;
  try {
    const fd = openSync(path, 'r');
    try {
      // The mode of the file opened, not of whatever the path names a moment later.
      const stats = fstatSync(fd);
      problem = stats.isFile() ? secretFileProblem(path, stats) : `${path} is not a file`;
      text = problem ? '' : readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new NetworkKeyError(`cannot read network key file ${path}: ${(err as Error).message}`);
  }
  if (problem) throw new NetworkKeyError(`network key file ${problem}`);
  const key = text.trim();
  if (key.length === 0) throw new NetworkKeyError(`network key file ${path} is empty`);
  return key;
}

export interface NetworkKeySources {
  /** `--network-key-file FILE`. */
  file: string | undefined;
  /** `--network-key KEY`, deprecated. */
  flag: string | undefined;
  /** The process environment, for `P2PCHAT_NETWORK_KEY`. */
  env: NodeJS.ProcessEnv;
}

export interface ResolvedNetworkKey {
  /** The passphrase of protocol v1, or undefined for an open mesh. */
  key: string | undefined;
  /** Why the key is weak or exposed, one sentence each, to log as warnings. */
  warnings: string[];
}

/**
 * The network key from its sources: the file, else the flag, else the environment. Giving both
 * flags is a usage error (thrown as `usageError`), so a mistyped deployment never picks silently.
 */
export function resolveNetworkKey(
  sources: NetworkKeySources,
  usageError: (message: string) => Error,
): ResolvedNetworkKey {
  if (sources.file !== undefined && sources.flag !== undefined) {
    throw usageError('give --network-key-file or --network-key, not both');
  }
  const warnings: string[] = [];
  let key: string | undefined;
  if (sources.file !== undefined) {
    key = readNetworkKeyFile(sources.file);
  } else if (sources.flag !== undefined) {
    if (sources.flag.length === 0) throw usageError('--network-key must not be empty');
    key = sources.flag;
    warnings.push(
      `--network-key is deprecated: every user of this machine can read it in ps; ` +
        `use --network-key-file FILE (made by p2pchat keygen --out FILE) or ${NETWORK_KEY_ENV}`,
    );
  } else {
    const fromEnv = sources.env[NETWORK_KEY_ENV];
    key = fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  }
  if (key !== undefined && key.length < MIN_NETWORK_KEY_CHARS) {
    warnings.push(
      `the network key is only ${key.length} characters: anyone who connects once, or records ` +
        `one handshake, can test guesses offline at the speed of SHA-256; ` +
        `use a random key from p2pchat keygen`,
    );
  }
  return { key, warnings };
}
