/**
 * Command-line flags for the settings of `config.ts`, shared by the node's CLI and the lab: one
 * flag per setting, derived from its key (`activeSize` is `--active-size`), and each flag's text
 * parsed by the type of the setting's default. Values are then validated by `resolveConfig`, so
 * both commands and the library refuse the same things with the same words.
 */
import { ConfigError, DEFAULTS, type NodeConfig } from './config.js';

/** Settings whose flag is not simply the kebab-case of the key. */
const ALIASES: Readonly<Record<string, keyof NodeConfig>> = { 'shuffle-ms': 'shuffleIntervalMs' };
/**
 * Settings set by flags of their own, not by their derived flag: seeds and the announced address
 * are HOST:PORT lists, and the network key has three sources (crypto/network-key.ts); the lab
 * hands the key to its children in the environment, never as a flag.
 */
const NOT_FLAGS = new Set<keyof NodeConfig>(['seeds', 'announce', 'networkKey']);

/** `activeSize` -> `active-size`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Every setting flag with its key, for parsing and for --help. */
export function settingFlags(): Array<{ flag: string; key: keyof NodeConfig }> {
  const flags = (Object.keys(DEFAULTS) as Array<keyof NodeConfig>)
    .filter((key) => !NOT_FLAGS.has(key))
    .map((key) => ({ flag: kebab(key), key }));
  for (const [flag, key] of Object.entries(ALIASES)) flags.push({ flag, key });
  return flags;
}

/** The text of `--flag` as the type of the setting's default; a ConfigError naming the flag. */
export function parseValue(key: keyof NodeConfig, flag: string, text: string): unknown {
  const kind = typeof DEFAULTS[key];
  if (kind === 'number') {
    if (!/^-?\d+$/.test(text)) throw new ConfigError(`--${flag} expects an integer, got '${text}'`);
    return Number(text);
  }
  if (kind === 'boolean') {
    if (text === 'true' || text === '') return true;
    if (text === 'false') return false;
    throw new ConfigError(`--${flag} expects true or false, got '${text}'`);
  }
  return text;
}
