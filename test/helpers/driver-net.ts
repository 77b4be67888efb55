/**
 * What the node does around a strategy driven by `StrategyDriver`, for the tests that need more
 * than single inputs: dials are answered by address (after the input that made them, never
 * during it), and a link the strategy disconnects is reported down at once, from within the
 * `disconnect` call, as node.ts does (a link closed locally reports its close at once).
 */
import { formatAddress, type Address } from '../../config.js';
import type { NodeInfo } from '../../proto/messages.js';
import type { StrategyDriver } from './strategy-driver.js';

/** The node found at an address, or undefined when nobody answers there. */
export type Answer = (address: Address) => NodeInfo | undefined;

export class DriverNet {
  /** Every dial the strategy made, in order, with the virtual time it was made at. */
  readonly dials: Array<{ address: Address; atMs: number }> = [];
  #unanswered: Address[] = [];

  constructor(
    private readonly driver: StrategyDriver,
    private answer: Answer = () => undefined,
  ) {
    const { dial, disconnect } = driver.context;
    driver.context.dial = (address) => {
      dial(address);
      this.dials.push({ address, atMs: driver.clock.now() });
      this.#unanswered.push(address);
    };
    driver.context.disconnect = (peerId, code, reason) => {
      disconnect(peerId, code, reason);
      if (driver.linked.delete(peerId)) driver.strategy.onLinkDown(peerId, 'local');
    };
  }

  /** Dials made and not answered yet. */
  get inFlight(): number {
    return this.#unanswered.length;
  }

  /** Dials to a node's address reach that node; any other dial fails. */
  answerWith(nodes: readonly NodeInfo[]): void {
    this.answer = (address) => nodes.find((n) => formatAddress(n) === formatAddress(address));
  }

  /** Answers every dial made so far, and the dials the answers lead to. */
  answerAll(): void {
    for (let address = this.#unanswered.shift(); address; address = this.#unanswered.shift()) {
      const node = this.answer(address);
      if (node) this.driver.dialed(address, node);
      else this.driver.dialFailed(address);
    }
  }

  /** Lets `ms` of virtual time pass, answering the dials made at each instant timers fire. */
  run(ms: number): void {
    const { clock } = this.driver;
    const until = clock.now() + ms;
    this.answerAll();
    for (let due = clock.nextDue(); due !== undefined && due <= until; due = clock.nextDue()) {
      this.driver.advance(due - clock.now());
      this.answerAll();
    }
    this.driver.advance(until - clock.now());
  }

  /** The addresses dialled so far, in order. */
  dialled(): Address[] {
    return this.dials.map((dial) => dial.address);
  }
}
