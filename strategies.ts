/**
 * The names of the registered strategies, for whoever lists or checks them (the CLI's and the
 * lab's --help and flags) without reaching into the registries: `MEMBERSHIP_STRATEGIES` in
 * peer-table.ts and `BROADCAST_STRATEGIES` in broadcast/registry.ts stay the one place a strategy
 * is added.
 */
import { broadcastFactoryOf, BROADCAST_STRATEGIES } from './broadcast/registry.js';
import type { NodeConfig } from './config.js';
import { membershipFactoryOf, MEMBERSHIP_STRATEGIES } from './peer-table.js';

/** Every membership strategy `config.membership` may name, in registration order. */
export function membershipNames(): string[] {
  return Object.keys(MEMBERSHIP_STRATEGIES);
}

/** Every broadcast strategy `config.router` may name, in registration order. */
export function routerNames(): string[] {
  return Object.keys(BROADCAST_STRATEGIES);
}

/**
 * Throws the registries' ConfigError (`unknown membership 'x' (known: ...)`) for a strategy
 * name no registry holds, so a command refuses it as a usage error before any node runs.
 */
export function checkStrategyNames(config: Pick<NodeConfig, 'membership' | 'router'>): void {
  membershipFactoryOf(config.membership);
  broadcastFactoryOf(config.router);
}
