/**
 * Command-line flags: one flag per setting of `config.ts` (config-flags.ts), plus the CLI's own
 * flags; values are validated by `resolveConfig`, so the CLI and the library refuse the same
 * things with the same words.
 */
import { parseArgs } from 'node:util';
import { ConfigError, parseAddress, resolveConfig, type Address, type NodeConfig } from '../config.js';
import { parseValue, settingFlags } from '../config-flags.js';
import { checkStrategyNames } from '../strategies.js';
import { resolveNetworkKey } from '../crypto/network-key.js';

export const BASE_PORT = 9000;

export interface CliOptions {
  command: 'node' | 'lab' | 'keygen' | 'help' | 'version';
  config: NodeConfig;
  json: boolean;
  logLevel: string | undefined;
  logFile: string | undefined;
  /** The rest of the arguments, for subcommands with flags of their own (lab, keygen). */
  rest: string[];
  /** Problems worth a warning once the logger runs (a weak or exposed network key). */
  warnings: string[];
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * Parses argv (without node and script); throws UsageError or ConfigError with one clear line,
 * NetworkKeyError for a key file that cannot be used. `env` may hold the network key.
 */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  const [first, ...afterFirst] = argv;
  if (first === 'lab' || first === 'keygen') return { ...blank(first), rest: afterFirst };
  const settings = settingFlags();
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    seed: { type: 'string', multiple: true },
    announce: { type: 'string' },
    'network-key': { type: 'string' },
    'network-key-file': { type: 'string' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
    'log-file': { type: 'string' },
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const { flag } of settings) options[flag] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) return blank('help');
  if (values.version) return blank('version');
  const overrides: Record<string, unknown> = {};
  applyShorthand(parsed.positionals, overrides);
  for (const { flag, key } of settings) {
    const text = values[flag];
    if (typeof text === 'string') overrides[key] = parseValue(key, flag, text);
  }
  const seeds = values.seed;
  if (Array.isArray(seeds)) overrides.seeds = seeds.map((seed) => addressFlag('seed', seed));
  if (typeof values.announce === 'string') overrides.announce = addressFlag('announce', values.announce);
  const logLevel = values['log-level'];
  if (typeof logLevel === 'string' && !LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const networkKey = resolveNetworkKey(
    {
      file: stringValue(values['network-key-file']),
      flag: stringValue(values['network-key']),
      env,
    },
    (message) => new UsageError(message),
  );
  overrides.networkKey = networkKey.key;
  const config = resolveConfig(overrides as Partial<NodeConfig>);
  // An unknown strategy is a usage error now, not a crash once the node runs.
  checkStrategyNames(config);
  return {
    command: 'node',
    config,
    json: values.json === true,
    logLevel: typeof logLevel === 'string' ? logLevel : undefined,
    logFile: stringValue(values['log-file']),
    rest: [],
    warnings: networkKey.warnings,
  };
}

function stringValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Parses a HOST:PORT flag; the error names the flag, so a bad one of many seeds is found. */
function addressFlag(flag: string, text: string): Address {
  try {
    return parseAddress(text);
  } catch (err) {
    throw new ConfigError(`--${flag}: ${(err as Error).message}`);
  }
}

/** `p2pchat N`: listen on 127.0.0.1:(9000+N) as `peer-N`; explicit flags still win. */
function applyShorthand(positionals: string[], overrides: Record<string, unknown>): void {
  if (positionals.length === 0) return;
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const n = Number(positionals[0]);
  if (!Number.isInteger(n) || n < 0 || n > 65535 - BASE_PORT) {
    throw new UsageError(`'${positionals[0]}' is not a node number (0 to ${65535 - BASE_PORT})`);
  }
  overrides.port = BASE_PORT + n;
  overrides.name = `peer-${n}`;
}

function blank(command: 'lab' | 'keygen' | 'help' | 'version'): CliOptions {
  return {
    command,
    config: resolveConfig(),
    json: false,
    logLevel: undefined,
    logFile: undefined,
    rest: [],
    warnings: [],
  };
}
