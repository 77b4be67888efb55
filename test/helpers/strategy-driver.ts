/**
 * Drives one membership strategy with no node and no sockets: its context records every output
 * (sends, dials, disconnects, peer up and down, drops) and the test feeds it inputs as the node
 * would (`linkUp`, `dialed`, `message`, `linkDown`), under a simulated clock and a seeded random
 * source. `check` runs after every input, so a test can assert the strategy's invariants at every
 * step. Messages pass the node's message checks first, as on a real node.
 */
import { resolveConfig, type Address, type NodeConfig } from '../../config.js';
import { checkMembershipMessage } from '../../link/membership-rules.js';
import type { Envelope, ErrorCodeName, NodeInfo } from '../../proto/messages.js';
import type {
  LinkCloseReason,
  MembershipContext,
  MembershipFactory,
  MembershipMessage,
  MembershipStrategy,
  PeerDownReason,
} from '../../membership/strategy.js';
import { silentLogger } from '../../utils/logger.js';
import { seededRandom } from '../../utils/random.js';
import { SimClock } from '../../utils/sim-clock.js';

export type Output =
  | { type: 'send'; to: string; envelope: Envelope }
  | { type: 'dial'; address: Address }
  | { type: 'disconnect'; peerId: string; code: ErrorCodeName | undefined }
  | { type: 'up'; peer: NodeInfo }
  | { type: 'down'; peerId: string; reason: PeerDownReason }
  | { type: 'drop'; reason: string };

export interface DriverOptions {
  self: NodeInfo;
  config?: Partial<NodeConfig>;
  seed?: number;
  clock?: SimClock;
  /** Runs after every input and every timer; throw (or `expect`) to fail the test. */
  check?: (strategy: MembershipStrategy) => void;
}

export class StrategyDriver {
  readonly clock: SimClock;
  readonly outputs: Output[] = [];
  /** Peers the node has an open link to. */
  readonly linked = new Set<string>();
  readonly strategy: MembershipStrategy;
  readonly context: MembershipContext;
  readonly #check: (strategy: MembershipStrategy) => void;

  constructor(factory: MembershipFactory, options: DriverOptions) {
    this.clock = options.clock ?? new SimClock();
    this.#check = options.check ?? (() => undefined);
    this.context = {
      self: options.self,
      config: resolveConfig(options.config ?? {}),
      clock: this.clock,
      random: seededRandom(options.seed ?? 1),
      log: silentLogger(),
      send: (to, envelope) => {
        if (!this.linked.has(to)) return false;
        this.outputs.push({ type: 'send', to, envelope });
        return true;
      },
      dial: (address) => void this.outputs.push({ type: 'dial', address }),
      disconnect: (peerId, code) => {
        this.outputs.push({ type: 'disconnect', peerId, code });
      },
      isLinked: (peerId) => this.linked.has(peerId),
      peerUp: (peer) => void this.outputs.push({ type: 'up', peer }),
      peerDown: (peer, reason) => void this.outputs.push({ type: 'down', peerId: peer.id, reason }),
      countDrop: (reason) => void this.outputs.push({ type: 'drop', reason }),
    };
    this.strategy = factory(this.context);
  }

  /** Runs one input, then the invariant check. */
  step(input: (strategy: MembershipStrategy) => void): void {
    input(this.strategy);
    this.#check(this.strategy);
  }

  start(seeds: readonly Address[] = []): void {
    this.step((s) => s.start(seeds));
  }

  linkUp(peer: NodeInfo, role: 'dialer' | 'listener' = 'listener', replaces = false): void {
    this.linked.add(peer.id);
    this.step((s) => s.onLinkUp({ peer, role, remoteHost: peer.host, replaces }));
  }

  /** A dial succeeded: a new link (reported first) unless one to that peer is open already. */
  dialed(address: Address, peer: NodeInfo): void {
    if (!this.linked.has(peer.id)) this.linkUp(peer, 'dialer');
    this.step((s) => s.onDialed(address, peer.id));
  }

  dialFailed(address: Address): void {
    this.step((s) => s.onDialFailed(address));
  }

  /**
   * A message from a peer, through the node's checks at its boundary (link/membership-rules.ts):
   * a strategy only ever gets what passes them. A message the node would refuse, or deliver with
   * entries removed, throws: what the node does with it is tested in membership-rules.test.ts.
   */
  message(from: string, message: MembershipMessage): void {
    const verdict = checkMembershipMessage(message, this.context.config.maxEntriesPerMessage);
    if (!verdict.ok) throw new Error(`the node refuses this ${message.kind}: ${verdict.counter}`);
    if (verdict.invalidEntries > 0) {
      throw new Error(`the node removes ${verdict.invalidEntries} invalid entries of this ${message.kind}`);
    }
    this.step((s) => s.onMessage(from, verdict.message));
  }

  linkDown(peerId: string, reason: LinkCloseReason = 'closed'): void {
    this.linked.delete(peerId);
    this.step((s) => s.onLinkDown(peerId, reason));
  }

  /** Advances the simulated clock, firing timers in order, checking after each. */
  advance(ms: number): void {
    const until = this.clock.now() + ms;
    for (let due = this.clock.nextDue(); due !== undefined && due <= until; due = this.clock.nextDue()) {
      this.clock.step();
      this.#check(this.strategy);
    }
    this.clock.advance(until - this.clock.now());
  }

  /** The outputs since the last `take`, removed from the record. */
  take(): Output[] {
    return this.outputs.splice(0);
  }

  sends(to?: string): Envelope[] {
    return this.outputs
      .filter(
        (o): o is Extract<Output, { type: 'send' }> => o.type === 'send' && (to === undefined || o.to === to),
      )
      .map((o) => o.envelope);
  }
}

/**
 * Follows the peer-up and peer-down outputs not seen yet (`seen`), keeping the peers up in `up`:
 * fails when a peer goes up twice or down without being up. A check for every strategy's test.
 */
export function expectBalancedPeerEvents(
  outputs: readonly Output[],
  up: Set<string>,
  seen: WeakSet<Output>,
): void {
  for (const output of outputs) {
    if (seen.has(output)) continue;
    seen.add(output);
    if (output.type === 'up') {
      if (up.has(output.peer.id)) throw new Error(`${output.peer.id} up twice`);
      up.add(output.peer.id);
    }
    if (output.type === 'down' && !up.delete(output.peerId)) throw new Error(`${output.peerId} down, not up`);
  }
}
