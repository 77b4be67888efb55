/**
 * The connection manager: every link of the node, one record each, and every rule about links
 * that is not a protocol decision (docs/protocol.md sections 3 and 4): admission and bans, dials
 * with a per-address budget and backoff, the handshake's outcome, duplicate settlement, the idle
 * close of links that carry no data, per-link budgets, and one teardown path.
 *
 * It tells its owner only facts: a peer's link is up (and whether it took an earlier link's
 * place), a peer's link is down, a message arrived, a dial ended. Which links carry data is the
 * membership strategy's to say (`isDataPeer`); this class only keeps the others short-lived.
 */
import { formatAddress, isWildcardHost, type Address, type NodeConfig } from '../config.js';
import type { Identity } from '../crypto/identity.js';
import { networkKeyOf } from '../crypto/handshake.js';
import type { SignatureChecker } from '../crypto/signatures.js';
import type { LinkCloseReason, LinkUp } from '../membership/strategy.js';
import type { Envelope, ErrorCodeName, Message, NodeInfo } from '../proto/messages.js';
import type { Connection, Transport } from '../transport/transport.js';
import type { Clock, Scheduled } from '../utils/clock.js';
import { KeyedRate } from '../utils/keyed-rate.js';
import type { Logger } from '../utils/logger.js';
import type { Random } from '../utils/random.js';
import { Admission } from './admission.js';
import { DialBackoff } from './dial-backoff.js';
import { LinkBudgets, type BudgetName } from './link-budget.js';
import { Link, type Refusal } from './link.js';
import { ShortLived } from './short-lived.js';
import type { LinkSecurity } from './link-security.js';

/**
 * Codes after which a peer is refused for `banMs`: it sent bytes no honest implementation
 * sends. Not LIMIT: that code also reports our own refusals and a peer that reads slowly.
 */
const BANNABLE: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>(['FRAME', 'DECODE']);

/**
 * Addresses whose dial budget is remembered. An attacker who names more distinct addresses to
 * push one out of the LRU pays for it with dials to each (bounded by maxPendingDials), and the
 * forgotten one gets only a fresh burst back.
 */
const DIAL_ADDRESSES_REMEMBERED = 4096;

/** Envelopes held for a peer while the winner of a duplicate contest completes its handshake. */
const MAX_QUEUED_FOR_WINNER = 1024;

/** How long a graceful shutdown lets queued frames (Leave) flush before cutting the sockets. */
const FLUSH_ON_STOP_MS = 1000;

export interface ConnectionEvents {
  /** A link completed its handshake and is now the peer's link (`replaces`: it took another's place). */
  linkUp(up: LinkUp): void;
  /** The peer's link closed; not reported for a link another replaced. */
  linkDown(peerId: string, reason: LinkCloseReason): void;
  /** A message on a link, open or draining after our close. */
  message(link: Link, message: Message): void;
  /** Whether the peer's link carries data: such a link is never closed as idle. */
  isDataPeer(peerId: string): boolean;
}

export interface ConnectionsOptions {
  config: NodeConfig;
  transport: Transport;
  clock: Clock;
  random: Random;
  /** The node's logger; links take a child of it. */
  log: Logger;
  signatures: SignatureChecker;
  security: LinkSecurity;
  /** Counts an event under the node's counters (`node.<key>`). */
  count: (key: string, by?: number) => void;
}

/** Where a link stands in the manager's eyes. */
type Standing =
  /** Its handshake is under way. */
  | 'handshaking'
  /** It is its peer's link. */
  | 'current'
  /** It lost a duplicate contest, or was never announced: its close concerns nobody. */
  | 'superseded'
  /** Closed; the record stays until the socket is gone, for the budgets of a draining link. */
  | 'closed';

interface LinkRecord {
  readonly link: Link;
  readonly host: string;
  readonly direction: 'inbound' | 'outbound';
  standing: Standing;
  /** The dial waiting on this link's handshake. */
  onReady: ((link: Link | undefined) => void) | undefined;
  /** Closes the link when it carries no data and stays idle; made on first use. */
  idle: ShortLived | undefined;
  readonly budgets: LinkBudgets;
}

/** A peer whose link its peer closed as a duplicate's loser, while our side of the winner is not ready. */
interface AwaitedWinner {
  reason: LinkCloseReason;
  timer: Scheduled;
  queued: Envelope[];
}

interface Session {
  identity: Identity;
  self: NodeInfo;
  events: ConnectionEvents;
}

export class Connections {
  readonly #options: ConnectionsOptions;
  readonly #config: NodeConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #admission: Admission;
  readonly #networkKey: Uint8Array;
  readonly #dialBackoff: DialBackoff;
  /** New connections per target address, whoever asked for them. */
  readonly #dialsPerAddress: KeyedRate;
  /** Every link until its socket is gone. */
  readonly #records = new Map<Link, LinkRecord>();
  /** Links handshaking or open. */
  #live = 0;
  /** The current link per peer id. */
  readonly #byPeer = new Map<string, Link>();
  /** Dials in flight by address, so two callers share one dial. */
  readonly #dials = new Map<string, Promise<Link | undefined>>();
  /**
   * Peers whose link the peer closed as the loser of a duplicate contest while our side of the
   * winning connection was still in its handshake: the winner replaces the link when it is
   * ready; only if it never comes is the link reported down.
   */
  readonly #awaitingWinner = new Map<string, AwaitedWinner>();
  #session: Session | undefined;

  constructor(options: ConnectionsOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#clock = options.clock;
    this.#log = options.log.child({ component: 'node' });
    this.#admission = new Admission(this.#config, this.#clock);
    this.#networkKey = networkKeyOf(this.#config.networkKey);
    this.#dialBackoff = new DialBackoff({
      clock: this.#clock,
      random: options.random,
      baseMs: this.#config.retryBaseBackoffMs,
      maxMs: this.#config.retryMaxBackoffMs,
    });
    this.#dialsPerAddress = new KeyedRate(
      this.#clock,
      this.#config.dialsPerAddressPerMinute / 60,
      this.#config.dialsPerAddressBurst,
      DIAL_ADDRESSES_REMEMBERED,
    );
  }

  /** Links open or handshaking. */
  get size(): number {
    return this.#live;
  }

  get banCount(): number {
    return this.#admission.banCount;
  }

  /** Accepts and dials from now on, as `self`, reporting to `events`. */
  start(identity: Identity, self: NodeInfo, events: ConnectionEvents): void {
    this.#session = { identity, self, events };
  }

  /** The peer's current link, open or not. */
  linkOf(peerId: string): Link | undefined {
    return this.#byPeer.get(peerId);
  }

  /** Whether the peer has an open link, or one about to take the place of a closed one. */
  isLinked(peerId: string): boolean {
    return (this.#byPeer.get(peerId)?.isOpen ?? false) || this.#awaitingWinner.has(peerId);
  }

  /** Whether `link` is its peer's link and the peer's link carries data. */
  isDataLink(link: Link): boolean {
    const session = this.#session;
    return session !== undefined && this.#byPeer.get(link.id) === link && session.events.isDataPeer(link.id);
  }

  /**
   * Sends on the peer's link (`encoded`: the envelope's bytes, encoded once for several peers);
   * while the winner of a duplicate contest completes its handshake, queues for it (at most
   * MAX_QUEUED_FOR_WINNER envelopes, then drops and counts).
   */
  send(peerId: string, envelope: Envelope, encoded?: { readonly bytes: Uint8Array }): boolean {
    const link = this.#byPeer.get(peerId);
    if (link) return encoded ? link.sendEncoded(encoded.bytes) : link.send(envelope);
    const awaited = this.#awaitingWinner.get(peerId);
    if (!awaited) return false;
    if (awaited.queued.length >= MAX_QUEUED_FOR_WINNER) {
      this.#options.count('drop.awaiting-winner');
      return false;
    }
    awaited.queued.push(envelope);
    return true;
  }

  /** Closes the peer's link after what is queued; with a code, ProtocolError first. */
  disconnect(peerId: string, code?: ErrorCodeName, reason?: string): void {
    if (this.#awaitingWinner.has(peerId)) this.#giveUpWinner(peerId);
    this.#byPeer.get(peerId)?.close(code, reason);
  }

  /** The peer entered the data set: its link is no longer short-lived. */
  claim(peerId: string): void {
    const link = this.#byPeer.get(peerId);
    const record = link && this.#records.get(link);
    if (!record) return;
    record.idle?.claim();
  }

  /** The peer left the data set: its link, if still open, is short-lived again. */
  release(peerId: string): void {
    const link = this.#byPeer.get(peerId);
    if (link && !this.isDataLink(link)) this.#armIdle(link);
  }

  /** A message came on a link that carries no data: its idle time starts again. */
  touch(link: Link): void {
    if (!this.isDataLink(link)) this.#armIdle(link);
  }

  /**
   * Charges `units` to one of the link's budgets (before any strategy sees the message, so that
   * every strategy gets the same limit). Over the rate: dropped and counted; flooding: closed
   * with LIMIT and banned. True when the message may be handled.
   */
  charge(link: Link, name: BudgetName, units: number): boolean {
    const budgets = this.#records.get(link)?.budgets;
    if (!budgets) return true;
    const verdict = budgets.charge(name, units);
    if (verdict === 'accept') return true;
    this.#options.count(`drop.${name}-rate`);
    if (verdict === 'close') {
      const { perSecond, what } = budgets.limits(name);
      this.refuse(link, `${name}-rate`, `${what} far over ${perSecond} per second`);
    }
    return false;
  }

  /** Closes a misbehaving peer's link with LIMIT and refuses the peer for `banMs`. */
  refuse(link: Link, banReason: string, closeReason: string): void {
    this.#ban(banReason, link.id, link);
    link.close('LIMIT', closeReason);
  }

  /** The same, by peer id (its current link, if any). */
  refusePeer(peerId: string, banReason: string, closeReason: string): void {
    const link = this.#byPeer.get(peerId);
    this.#ban(banReason, peerId, link);
    link?.close('LIMIT', closeReason);
  }

  /** An inbound connection from the listener. */
  accept(connection: Connection): void {
    const refusal = this.#session ? this.#admission.refuseInbound(connection.remote.host) : 'not-running';
    if (refusal) {
      this.#options.count(`refused.${refusal}`);
      this.#log.debug({ remote: formatAddress(connection.remote), refusal }, 'inbound connection refused');
      connection.attach({ onData: () => undefined, onClose: () => undefined });
      connection.destroy();
      return;
    }
    this.#addLink(connection, 'listener');
  }

  /** Dials `address`: the authoritative link to the peer found there, or undefined on any failure. */
  dial(address: Address): Promise<Link | undefined> {
    const key = formatAddress(address);
    const existing = this.#dials.get(key);
    if (existing) return existing;
    const refusal = this.#dialRefusal(address);
    if (refusal) {
      this.#options.count(`dial.${refusal}`);
      return Promise.resolve(undefined);
    }
    const dial = this.#dial(address).finally(() => this.#dials.delete(key));
    this.#dials.set(key, dial);
    return dial;
  }

  /**
   * The one teardown path. Accepts and dials stop, timers stop; then either every link closes
   * gracefully and gets a moment to flush (what the strategies queued, such as Leave), or, for a
   * crash, every socket is cut at once.
   */
  async shutdown(graceful: boolean): Promise<void> {
    this.#session = undefined;
    this.#dialBackoff.stop();
    for (const record of this.#records.values()) record.idle?.stop();
    for (const awaited of this.#awaitingWinner.values()) awaited.timer.cancel();
    this.#awaitingWinner.clear();
    const links = [...this.#records.values()].filter((r) => r.standing !== 'closed').map((r) => r.link);
    if (graceful) {
      for (const link of links) link.close();
      await Promise.race([
        Promise.all(links.map((link) => link.disconnected)),
        new Promise<void>((resolve) => this.#clock.schedule(FLUSH_ON_STOP_MS, resolve)),
      ]);
    }
    for (const link of links) link.connection.destroy();
  }

  /** Cuts every socket at once, before anything else can be sent (a crash). */
  cut(): void {
    this.#session = undefined;
    for (const link of this.#records.keys()) link.connection.destroy();
  }

  #addLink(connection: Connection, role: 'dialer' | 'listener'): Link {
    const session = this.#session as Session;
    const host = connection.remote.host;
    const direction = role === 'dialer' ? 'outbound' : 'inbound';
    this.#admission.opened(host, direction);
    const { config, clock, random, log, signatures, security } = this.#options;
    const link = new Link({
      connection,
      role,
      identity: session.identity,
      self: session.self,
      networkKey: this.#networkKey,
      config,
      clock,
      random,
      log: log.child({ component: 'link' }),
      signatures,
      security,
      events: {
        admit: (l, peer) => this.#admit(l, peer),
        ready: (l) => this.#onReady(l),
        message: (l, message) => this.#session?.events.message(l, message),
        closed: (l, reason, detail, code) => this.#onClosed(l, reason, detail, code),
      },
    });
    this.#records.set(link, {
      link,
      host,
      direction,
      standing: 'handshaking',
      onReady: undefined,
      idle: undefined,
      budgets: new LinkBudgets(clock, config),
    });
    this.#live++;
    // The slot is held until the socket is gone, not merely closed by us: a refused peer that
    // keeps its socket open still counts against the limits until the link cuts it.
    void link.disconnected.then(() => {
      this.#admission.closed(host, direction);
      this.#records.delete(link);
    });
    return link;
  }

  #dialRefusal(address: Address): string | undefined {
    const session = this.#session;
    if (!session) return 'not-running';
    if (address.port === 0) return 'bad-port';
    if (address.host === session.self.host && address.port === session.self.port) return 'self';
    if (this.#admission.isAddressBanned(address)) return 'banned';
    if (this.#dials.size >= this.#config.maxPendingDials) return 'too-many-pending';
    if (!this.#admission.mayDial()) return 'max-connections';
    return undefined;
  }

  /** Dials after the address's backoff, if any, and keeps the outcome for the next dial's backoff. */
  async #dial(address: Address): Promise<Link | undefined> {
    const key = formatAddress(address);
    if (!this.#openLinkAt(address) && this.#dialBackoff.waitMs(key) > 0) {
      this.#options.count('dial.backoff');
      if (!(await this.#dialBackoff.wait(key))) return undefined;
    }
    const link = await this.#dialOnce(address);
    // A dial that reached a node (its Auth verified) costs nothing from the per-address budget:
    // the budget is for addresses that do not answer as nodes, the third parties to protect.
    if (link) this.#dialsPerAddress.refund(key);
    if (link) this.#dialBackoff.succeeded(key);
    else if (this.#session) this.#dialBackoff.failed(key);
    return link;
  }

  #openLinkAt(address: Address): Link | undefined {
    for (const link of this.#byPeer.values()) {
      if (link.peer.host === address.host && link.peer.port === address.port) {
        return link.isOpen ? link : undefined;
      }
    }
    return undefined;
  }

  async #dialOnce(address: Address): Promise<Link | undefined> {
    const open = this.#openLinkAt(address);
    if (open) return open;
    // Charged here, at the transport dial: a dial shared or answered by an open link costs nothing.
    if (!this.#dialsPerAddress.tryTake(formatAddress(address))) {
      this.#options.count('dial.address-rate');
      return undefined;
    }
    let connection: Connection;
    try {
      connection = await this.#options.transport.dial(address, this.#config.dialTimeoutMs);
    } catch (err) {
      this.#options.count('dial.failed');
      this.#log.debug({ address: formatAddress(address), err: (err as Error).message }, 'dial failed');
      return undefined;
    }
    if (!this.#session) {
      connection.attach({ onData: () => undefined, onClose: () => undefined });
      connection.destroy();
      return undefined;
    }
    const link = this.#addLink(connection, 'dialer');
    return new Promise((resolve) => {
      const record = this.#records.get(link);
      if (record) record.onReady = resolve;
      else resolve(undefined);
    });
  }

  #admit(link: Link, peer: NodeInfo): Refusal | undefined {
    if (peer.id === this.#session?.identity.id)
      return { code: 'DUPLICATE_CONNECTION', reason: 'connection to self' };
    const isBanned =
      this.#admission.isIdBanned(peer.id) ||
      (peer.port !== 0 && this.#admission.isAddressBanned(resolvedAddress(link, peer)));
    if (!isBanned) return undefined;
    this.#options.count('refused.banned');
    return { code: 'LIMIT', reason: 'banned for misbehaviour' };
  }

  #onReady(link: Link): void {
    const peer = link.peer;
    const resolved = resolvedAddress(link, peer);
    peer.host = resolved.host;
    peer.port = resolved.port;
    const winner = this.#settleDuplicate(link);
    const record = this.#records.get(link);
    const onReady = record?.onReady;
    if (record) record.onReady = undefined;
    onReady?.(winner);
  }

  /**
   * Makes a link that completed its handshake its peer's link, or not.
   * docs/protocol.md section 3: if two connections to one peer complete, the newer wins when both
   * were dialled by the same node, else the one dialled by the node with the smaller id; the loser
   * closes with DUPLICATE_CONNECTION and the winner takes its place in the views.
   */
  #settleDuplicate(link: Link): Link {
    const session = this.#session;
    const record = this.#records.get(link);
    if (!session || !record) {
      link.close();
      return link;
    }
    const existing = this.#byPeer.get(link.id);
    if (!existing || existing.isClosed) {
      const awaited = this.#awaitingWinner.get(link.id);
      awaited?.timer.cancel();
      this.#awaitingWinner.delete(link.id);
      this.#makeCurrent(record);
      for (const envelope of awaited?.queued ?? []) link.send(envelope);
      this.#announce(link, awaited !== undefined);
      return link;
    }
    const dialerOf = (l: Link): string => (l.role === 'dialer' ? session.self.id : l.id);
    const newWins = existing.role === link.role || dialerOf(link) < dialerOf(existing);
    this.#options.count('duplicates');
    if (!newWins) {
      record.standing = 'superseded';
      link.close('DUPLICATE_CONNECTION', 'a preferred connection to this peer exists');
      return existing;
    }
    const loser = this.#records.get(existing);
    if (loser) loser.standing = 'superseded';
    this.#makeCurrent(record);
    this.#announce(link, true);
    existing.close('DUPLICATE_CONNECTION', 'a newer or preferred connection to this peer exists');
    return link;
  }

  #makeCurrent(record: LinkRecord): void {
    record.standing = 'current';
    this.#byPeer.set(record.link.id, record.link);
  }

  /** Reports the link up; it is short-lived unless the strategy made it a data link meanwhile. */
  #announce(link: Link, replaces: boolean): void {
    const up: LinkUp = {
      peer: link.peer,
      role: link.role,
      remoteHost: link.connection.remote.host,
      replaces,
    };
    this.#session?.events.linkUp(up);
    if (!this.isDataLink(link)) this.#armIdle(link);
  }

  /** Keeps a link that carries no data short-lived (short-lived.ts). */
  #armIdle(link: Link): void {
    const record = this.#records.get(link);
    if (!record || record.standing === 'closed') return;
    record.idle ??= new ShortLived(this.#clock, this.#config, () => {
      if (this.#session && !this.isDataLink(link)) link.close();
    });
    record.idle.arm();
  }

  #onClosed(link: Link, reason: LinkCloseReason, detail: string, code?: ErrorCodeName): void {
    const record = this.#records.get(link);
    const standing = record?.standing;
    if (record) {
      record.standing = 'closed';
      this.#live--;
      record.idle?.stop();
      record.onReady?.(undefined);
      record.onReady = undefined;
    }
    if (code) this.#options.count(`drop.${code}`);
    // Only a proven id is banned: before its Auth verified, a Hello may claim any honest node's
    // NodeInfo, and a ban on that claim would let anyone get honest nodes refused.
    if (code && BANNABLE.has(code) && link.isAuthenticated && reason === 'error')
      this.#ban(code, link.id, link);
    if (standing !== 'current') return;
    if (this.#byPeer.get(link.id) === link) this.#byPeer.delete(link.id);
    const session = this.#session;
    if (!session) return;
    if (link.peerErrorCode === 'DUPLICATE_CONNECTION' && this.#isHandshaking(link.id))
      return this.#awaitWinner(link.id, reason);
    this.#log.debug({ peer: link.id, reason, detail }, 'link to peer closed');
    session.events.linkDown(link.id, reason);
  }

  /**
   * Whether another connection with this peer is in its handshake, past the peer's Hello. A peer
   * that settled a duplicate contest has our Auth on the winner, which we sent once its Hello had
   * come: a DUPLICATE_CONNECTION with no such connection here names no winner to wait for.
   */
  #isHandshaking(peerId: string): boolean {
    for (const record of this.#records.values()) {
      if (record.standing === 'handshaking' && record.link.claimedPeer?.id === peerId) return true;
    }
    return false;
  }

  /**
   * The peer closed our link as the loser of a duplicate contest: it settled on another
   * connection to us whose handshake has not completed on our side yet (docs/protocol.md section
   * 3). That one takes the link's place when ready; the link is reported down only if it never is.
   */
  #awaitWinner(peerId: string, reason: LinkCloseReason): void {
    this.#awaitingWinner.get(peerId)?.timer.cancel();
    const timer = this.#clock.schedule(this.#config.handshakeTimeoutMs, () => this.#giveUpWinner(peerId));
    this.#awaitingWinner.set(peerId, { reason, timer, queued: [] });
  }

  #giveUpWinner(peerId: string): void {
    const awaited = this.#awaitingWinner.get(peerId);
    if (!awaited) return;
    awaited.timer.cancel();
    this.#awaitingWinner.delete(peerId);
    this.#options.count('drop.awaiting-winner', awaited.queued.length);
    this.#session?.events.linkDown(peerId, awaited.reason);
  }

  /**
   * Refuses a misbehaving peer for `banMs` by its id and, when it plausibly is its own, by its
   * announced address; counted as `ban.<reason>`. An announced address is only a claim: it is
   * banned only when the peer connected from that host, or one misbehaving connection that
   * announced an honest node's address would get that node refused and never dialled.
   */
  #ban(reason: string, peerId: string, link: Link | undefined): void {
    this.#options.count(`ban.${reason}`);
    const peer = link?.claimedPeer;
    let address: Address | undefined;
    if (link && peer && peer.port !== 0) {
      const announced = resolvedAddress(link, peer);
      if (announced.host === link.connection.remote.host) address = announced;
    }
    this.#admission.ban(peerId, address);
  }
}

/**
 * A wildcard announce address is replaced by the address the peer connected from. A node on
 * `0.0.0.0` accepts IPv4 only: seen over IPv6, its address is unknown, so it counts as not
 * listening (port 0) and is never gossiped nor dialled; its link works all the same.
 */
function resolvedAddress(link: Link, peer: NodeInfo): Address {
  if (!isWildcardHost(peer.host)) return { host: peer.host, port: peer.port };
  const remote = link.connection.remote.host;
  const isUnreachableFamily = peer.host === '0.0.0.0' && remote.includes(':');
  return { host: remote, port: isUnreachableFamily ? 0 : peer.port };
}
