/**
 * The peer table: membership of the node, delegated to one strategy chosen by name. This file
 * is the registry of strategies; adding one is a new file under `membership/` plus one line in
 * `MEMBERSHIP_STRATEGIES`.
 */
import { ConfigError } from './config.js';
import type { EnvelopeKind, Message } from './proto/messages.js';
import { createCyclon } from './membership/cyclon.js';
import { createFull } from './membership/full.js';
import { createHyParView } from './membership/hyparview.js';
import { createStatic } from './membership/static.js';
import type {
  MembershipContext,
  MembershipFactory,
  MembershipKind,
  MembershipMessage,
  MembershipStrategy,
} from './membership/strategy.js';

export const MEMBERSHIP_STRATEGIES: Readonly<Record<string, MembershipFactory>> = Object.freeze({
  hyparview: createHyParView,
  static: createStatic,
  cyclon: createCyclon,
  full: createFull,
});

const MEMBERSHIP_KINDS: ReadonlySet<EnvelopeKind> = new Set<MembershipKind>([
  'join',
  'forwardJoin',
  'neighbor',
  'neighborReply',
  'disconnect',
  'shuffle',
  'shuffleReply',
  'leave',
]);

export function isMembershipKind(kind: EnvelopeKind): kind is MembershipKind {
  return MEMBERSHIP_KINDS.has(kind);
}

/** A decoded message a membership strategy handles, its body typed by its kind. */
export function isMembershipMessage(message: Message): message is Extract<Message, MembershipMessage> {
  return isMembershipKind(message.kind);
}

/**
 * The factory registered under `name`. Own keys only: `toString` or `constructor`, inherited by
 * every object, are unknown names like any other. An unknown name is a ConfigError listing the
 * known ones.
 */
export function membershipFactoryOf(name: string): MembershipFactory {
  const factory = Object.hasOwn(MEMBERSHIP_STRATEGIES, name) ? MEMBERSHIP_STRATEGIES[name] : undefined;
  if (!factory) {
    const known = Object.keys(MEMBERSHIP_STRATEGIES).join(', ');
    throw new ConfigError(`unknown membership '${name}' (known: ${known})`);
  }
  return factory;
}

/** The node's membership: the strategy its config names. */
export function createPeerTable(context: MembershipContext): MembershipStrategy {
  return membershipFactoryOf(context.config.membership)(context);
}
