/**
 * Test doubles for the unit tests of membership strategies (no sockets): NodeInfos from seeded
 * identities, a PeerLink that records what it was sent, and a MembershipContext whose dials the
 * test answers. Everything runs on a SimClock and a seeded Random, so a failure replays exactly.
 */
import { resolveConfig, type Address, type NodeConfig } from '../../config.js';
import { Identity } from '../../crypto/identity.js';
import {
  envelopeKind,
  type Envelope,
  type EnvelopeBodies,
  type EnvelopeKind,
  type ErrorCodeName,
  type NodeInfo,
} from '../../proto/messages.js';
import type {
  MembershipContext,
  MembershipKind,
  MembershipMessage,
  PeerDownReason,
  PeerLink,
  Views,
} from '../../membership/legacy-strategy.js';
import { pino } from 'pino';
import { silentLogger, type Logger } from '../../utils/logger.js';
import { seededRandom, type Random } from '../../utils/random.js';
import { SimClock } from '../../utils/sim-clock.js';

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

/** A link that records every envelope sent on it and whether (and how) it was closed. */
export class FakeLink implements PeerLink {
  readonly sent: Envelope[] = [];
  isOpen = true;
  closeCode: ErrorCodeName | undefined;
  closeReason: string | undefined;

  constructor(
    readonly peer: NodeInfo,
    readonly role: 'dialer' | 'listener' = 'listener',
  ) {}

  get id(): string {
    return this.peer.id;
  }

  get closed(): boolean {
    return !this.isOpen;
  }

  send(envelope: Envelope): boolean {
    if (!this.isOpen) return false;
    this.sent.push(envelope);
    return true;
  }

  close(code?: ErrorCodeName, reason?: string): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.closeCode = code;
    this.closeReason = reason;
  }

  kinds(): EnvelopeKind[] {
    return this.sent.map(envelopeKind);
  }

  /** The bodies of every envelope of one kind sent on this link. */
  sentOf<K extends EnvelopeKind>(kind: K): Array<EnvelopeBodies[K]> {
    return this.sent
      .filter((envelope) => envelopeKind(envelope) === kind)
      .map((envelope) => (envelope as Record<K, EnvelopeBodies[K]>)[kind]);
  }

  clearSent(): void {
    this.sent.length = 0;
  }
}

/** A context whose `connect` answers through `dial`, recording every call and event. */
export class FakeContext implements MembershipContext {
  readonly config: NodeConfig;
  readonly clock = new SimClock();
  readonly random: Random;
  /** Replace before building the strategy to capture lines (see `captureLogger`). */
  log: Logger = silentLogger();
  readonly dials: Address[] = [];
  readonly dialTimes: number[] = [];
  readonly ups: PeerLink[] = [];
  readonly downs: Array<{ id: string; reason: PeerDownReason }> = [];
  readonly drops = new Map<string, number>();
  /** Answers a dial: a link, or undefined for a failed connect. Default: nobody answers. */
  dial: (address: Address) => PeerLink | undefined = () => undefined;

  constructor(
    readonly self: NodeInfo,
    overrides: Partial<NodeConfig> = {},
    seed = 1,
  ) {
    this.config = resolveConfig(overrides);
    this.random = seededRandom(seed);
  }

  connect(address: Address): Promise<PeerLink | undefined> {
    this.dials.push(address);
    this.dialTimes.push(this.clock.now());
    return Promise.resolve(this.dial(address));
  }

  /** Links `linkTo` reports as the node's open link to a peer; empty unless a test fills it. */
  readonly openLinks = new Map<string, PeerLink>();

  linkTo(peerId: string): PeerLink | undefined {
    const link = this.openLinks.get(peerId);
    return link?.isOpen ? link : undefined;
  }

  peerUp(link: PeerLink): void {
    this.ups.push(link);
  }

  peerDown(peer: NodeInfo, reason: PeerDownReason): void {
    this.downs.push({ id: peer.id, reason });
  }

  countDrop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  dropCount(reason: string): number {
    return this.drops.get(reason) ?? 0;
  }

  /** Answers dials to each node's address with a fresh FakeLink to it (dialer side). */
  answerWith(nodes: readonly NodeInfo[], made: FakeLink[] = []): FakeLink[] {
    this.dial = (address) => {
      const node = nodes.find((n) => n.host === address.host && n.port === address.port);
      if (!node) return undefined;
      const link = new FakeLink(node, 'dialer');
      made.push(link);
      return link;
    };
    return made;
  }
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

/** Lets every pending promise continuation run (dials resolve through microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Fires every timer due in the next `ms` of virtual time. Continuations run before each look at
 * the next due time, so work started just before (a dial) arms its timers at the right instant.
 */
export async function runFor(clock: SimClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  for (;;) {
    await settle();
    const due = clock.nextDue();
    if (due === undefined || due > target) break;
    clock.step();
  }
  clock.advance(target - clock.now());
}

/** Every membership kind; a Record, so the compiler flags a kind added to strategy.ts but not here. */
const MEMBERSHIP_KINDS: Readonly<Record<MembershipKind, true>> = {
  join: true,
  forwardJoin: true,
  neighbor: true,
  neighborReply: true,
  disconnect: true,
  shuffle: true,
  shuffleReply: true,
  leave: true,
};

/** The membership message an envelope carries, or undefined for any other kind. */
export function membershipMessage(envelope: Envelope): MembershipMessage | undefined {
  const kind = envelopeKind(envelope);
  if (!Object.hasOwn(MEMBERSHIP_KINDS, kind)) return undefined;
  const body = (envelope as Record<string, unknown>)[kind];
  return { kind, body } as MembershipMessage;
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
