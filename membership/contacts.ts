/**
 * The contacts a strategy joins through (docs/protocol.md section 4): tried in order, one dial
 * at a time, retried while the view is empty, and extended at runtime by `/connect`. A walk
 * over them is synchronous: the strategy dials the seed `begin` or `next` names, and on each
 * outcome either ends the walk (joined) or asks for the next seed.
 */
import { formatAddress, type Address } from '../config.js';
import type { Logger } from '../utils/logger.js';

export class Contacts {
  #list: readonly Address[] = [];
  /** The index of the seed the walk under way is dialling. */
  #walk: number | undefined;

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.#list.length;
  }

  get isWalking(): boolean {
    return this.#walk !== undefined;
  }

  /** The seed the walk under way is dialling. */
  get current(): Address | undefined {
    return this.#walk === undefined ? undefined : this.#list[this.#walk];
  }

  replace(seeds: readonly Address[]): void {
    this.#list = [...seeds];
  }

  /** Adds a contact at the end, unless it is already one. */
  add(contact: Address): void {
    const key = formatAddress(contact);
    if (!this.#list.some((seed) => formatAddress(seed) === key)) this.#list = [...this.#list, contact];
  }

  /** Begins a walk: the first seed to dial, or undefined when there is none or a walk is under way. */
  begin(): Address | undefined {
    if (this.#walk !== undefined || this.#list.length === 0) return undefined;
    this.#walk = 0;
    return this.#list[0];
  }

  /**
   * The current seed did not do (nobody answered, it is this node, or it refused the join): a
   * warning, and the next seed to dial, or undefined when the walk is over.
   */
  next(): Address | undefined {
    const current = this.current;
    if (current) this.log.warn({ seed: formatAddress(current) }, 'seed unreachable, trying the next');
    if (this.#walk === undefined) return undefined;
    this.#walk++;
    if (this.#walk < this.#list.length) return this.#list[this.#walk];
    this.#walk = undefined;
    return undefined;
  }

  /** Ends the walk under way (joined, or the strategy stopped). */
  end(): void {
    this.#walk = undefined;
  }
}
