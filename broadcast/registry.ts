/**
 * The broadcast strategies a node can run, by the name given in `config.router`. A new strategy
 * is one new file in this folder plus one line in `BROADCAST_STRATEGIES`.
 */
import { ConfigError } from '../config.js';
import { createFlood } from './flood.js';
import { createGossip } from './gossip.js';
import { createPlumtree } from './plumtree.js';
import type { BroadcastContext, BroadcastFactory, BroadcastStrategy } from './strategy.js';

export const BROADCAST_STRATEGIES: Readonly<Record<string, BroadcastFactory>> = Object.freeze({
  flood: createFlood,
  gossip: createGossip,
  plumtree: createPlumtree,
});

/**
 * The factory registered under `name`, own keys only (`toString` is no strategy); an unknown
 * name is a ConfigError listing the known ones.
 */
export function broadcastFactoryOf(name: string): BroadcastFactory {
  const factory = Object.hasOwn(BROADCAST_STRATEGIES, name) ? BROADCAST_STRATEGIES[name] : undefined;
  if (!factory) {
    const known = Object.keys(BROADCAST_STRATEGIES).join(', ');
    throw new ConfigError(`unknown router '${name}' (known: ${known})`);
  }
  return factory;
}

/** Builds the named strategy; an unknown name is a ConfigError listing the known ones. */
export function createBroadcastStrategy(name: string, context: BroadcastContext): BroadcastStrategy {
  return broadcastFactoryOf(name)(context);
}
