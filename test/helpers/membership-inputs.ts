/**
 * Inputs for the unit tests of membership strategies: NodeInfos from seeded identities, message
 * shorthands, a logger that keeps its lines, and the view invariants every strategy test checks.
 */
import { type Address, type NodeConfig } from '../../config.js';
import { Identity } from '../../crypto/identity.js';
import type { NodeInfo } from '../../proto/messages.js';
import type { MembershipKind, MembershipMessage, Views } from '../../membership/strategy.js';
import { pino } from 'pino';
import type { Logger } from '../../utils/logger.js';
import { seededRandom } from '../../utils/random.js';

const identities = new Map<number, Identity>();

/** A valid NodeInfo whose key comes from seed `n`; its port is 10000 + n unless given. */
export function makeNode(n: number, port = 10_000 + n, name = `node-${n}`): NodeInfo {
  let identity = identities.get(n);
  if (!identity) {
    identity = Identity.fromSeed(seededRandom(n).bytes(32));
    identities.set(n, identity);
  }
  return { id: identity.id, name, host: '127.0.0.1', port, publicKey: identity.publicKey };
}

export function addressOfNode(info: NodeInfo): Address {
  return { host: info.host, port: info.port };
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A debug-level pino logger that keeps its lines (parsed) in memory. */
export function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

/** Shorthand for a message in tests: `msg('neighbor', { highPriority: true })`. */
export function msg<K extends MembershipKind>(
  kind: K,
  body: Extract<MembershipMessage, { kind: K }>['body'],
): MembershipMessage {
  return { kind, body } as MembershipMessage;
}

/**
 * Every broken view invariant, as readable strings (empty when all hold): sizes within bounds,
 * never self, no duplicates, active and passive disjoint, no port-0 node in the passive view.
 */
export function viewProblems(views: Views, selfId: string, config: NodeConfig): string[] {
  const problems: string[] = [];
  const active = views.active.map((info) => info.id);
  const passive = views.passive.map((info) => info.id);
  if (active.length > config.activeSize) problems.push(`active ${active.length} > ${config.activeSize}`);
  if (passive.length > config.passiveSize) problems.push(`passive ${passive.length} > ${config.passiveSize}`);
  if (active.includes(selfId) || passive.includes(selfId)) problems.push('self in a view');
  if (new Set(active).size !== active.length) problems.push('duplicate in active');
  if (new Set(passive).size !== passive.length) problems.push('duplicate in passive');
  if (active.some((id) => passive.includes(id))) problems.push('active and passive overlap');
  if (views.passive.some((info) => info.port === 0)) problems.push('port-0 node in passive');
  return problems;
}
