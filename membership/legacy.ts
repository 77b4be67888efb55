/**
 * Runs a strategy written against the callback interface of `legacy-strategy.ts` (link objects, a
 * `connect` that returns a promise) behind the synchronous interface of `strategy.ts`, so that
 * strategies move to the new interface one at a time behind the same tests. Each link the node
 * reports becomes a `PeerLink` handle whose sends and closes are the context's outputs; each
 * `connect` waits for the outcome of one `dial`.
 */
import { formatAddress, type Address } from '../config.js';
import type { Envelope, ErrorCodeName, NodeInfo } from '../proto/messages.js';
import type {
  DataPeer,
  MembershipFactory as LegacyFactory,
  MembershipStrategy as LegacyStrategy,
  PeerLink,
} from './legacy-strategy.js';
import type {
  LinkCloseReason,
  LinkUp,
  MembershipContext,
  MembershipFactory,
  MembershipMessage,
  MembershipStrategy,
  Views,
} from './strategy.js';

class LinkHandle implements PeerLink {
  readonly connection: { readonly remote: Address };
  /** Closed by the strategy, replaced by a newer link, or reported down. */
  isRetired = false;

  constructor(
    readonly peer: NodeInfo,
    readonly role: 'dialer' | 'listener',
    remoteHost: string,
    private readonly context: MembershipContext,
  ) {
    this.connection = { remote: { host: remoteHost, port: 0 } };
  }

  get id(): string {
    return this.peer.id;
  }

  get isOpen(): boolean {
    return !this.isRetired && this.context.isLinked(this.peer.id);
  }

  send(envelope: Envelope): boolean {
    return this.isOpen && this.context.send(this.peer.id, envelope);
  }

  close(code?: ErrorCodeName, reason?: string): void {
    if (this.isRetired) return;
    this.isRetired = true;
    this.context.disconnect(this.peer.id, code, reason);
  }
}

class LegacyAdapter implements MembershipStrategy {
  readonly #context: MembershipContext;
  readonly #strategy: LegacyStrategy;
  /** The handle of each peer's current link. */
  readonly #links = new Map<string, LinkHandle>();
  /** The connects waiting on dials, per address, in call order. */
  readonly #waiting = new Map<string, Array<(link: PeerLink | undefined) => void>>();
  /** The data peers of the last `dataPeers()`, for `sendData`. */
  #dataPeers = new Map<string, DataPeer>();

  constructor(context: MembershipContext, factory: LegacyFactory) {
    this.#context = context;
    this.#strategy = factory({
      self: context.self,
      config: context.config,
      clock: context.clock,
      random: context.random,
      log: context.log,
      connect: (address) => this.#connect(address),
      linkTo: (peerId) => this.#links.get(peerId),
      peerUp: (link) => context.peerUp(link.peer),
      peerDown: (peer, reason) => context.peerDown(peer, reason),
      countDrop: (reason) => context.countDrop(reason),
    });
  }

  get name(): string {
    return this.#strategy.name;
  }

  start(seeds: readonly Address[]): void {
    this.#strategy.start(seeds);
  }

  join(contact: Address): void {
    this.#strategy.join(contact);
  }

  stop(): void {
    this.#strategy.stop();
    for (const waiters of this.#waiting.values()) for (const resolve of waiters) resolve(undefined);
    this.#waiting.clear();
  }

  onLinkUp({ peer, role, remoteHost, replaces }: LinkUp): void {
    const next = new LinkHandle(peer, role, remoteHost, this.#context);
    const previous = this.#links.get(peer.id);
    this.#links.set(peer.id, next);
    if (previous && replaces) {
      previous.isRetired = true;
      this.#strategy.onLinkReplaced(previous, next);
    } else {
      this.#strategy.onLinkReady(next);
    }
  }

  onDialed(address: Address, peerId: string): void {
    this.#settleDial(address, this.#links.get(peerId));
  }

  onDialFailed(address: Address): void {
    this.#settleDial(address, undefined);
  }

  onMessage(from: string, message: MembershipMessage): void {
    const link = this.#links.get(from);
    if (link) this.#strategy.onMessage(link, message);
  }

  onLinkDown(peerId: string, reason: LinkCloseReason): void {
    const link = this.#links.get(peerId);
    if (!link) return;
    this.#links.delete(peerId);
    link.isRetired = true;
    this.#strategy.onLinkClosed(link, reason);
  }

  isDataPeer(peerId: string): boolean {
    const link = this.#links.get(peerId);
    return link !== undefined && this.#strategy.isDataLink(link);
  }

  dataPeers(): string[] {
    this.#dataPeers = new Map(this.#strategy.dataPeers().map((peer) => [peer.id, peer]));
    return [...this.#dataPeers.keys()];
  }

  sendData(peerId: string, envelope: Envelope): boolean {
    if (!this.#dataPeers.has(peerId)) this.dataPeers();
    return this.#dataPeers.get(peerId)?.send(envelope) ?? false;
  }

  views(): Views {
    return this.#strategy.views();
  }

  stats(): Record<string, number> {
    return this.#strategy.stats();
  }

  #connect(address: Address): Promise<PeerLink | undefined> {
    return new Promise((resolve) => {
      const key = formatAddress(address);
      const waiters = this.#waiting.get(key) ?? [];
      waiters.push(resolve);
      this.#waiting.set(key, waiters);
      this.#context.dial(address);
    });
  }

  #settleDial(address: Address, link: PeerLink | undefined): void {
    const key = formatAddress(address);
    const waiters = this.#waiting.get(key);
    const resolve = waiters?.shift();
    if (waiters?.length === 0) this.#waiting.delete(key);
    resolve?.(link);
  }
}

/** The strategy of `factory`, written against the callback interface, as a synchronous one. */
export function fromLegacy(factory: LegacyFactory): MembershipFactory {
  return (context) => new LegacyAdapter(context, factory);
}
